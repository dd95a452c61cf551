"""A tiny document model rendered to Markdown and to self-contained HTML.

Blocks hold plain text only; the renderers escape every string, so names,
tags and error messages from runs can never inject markup.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

MD_SPECIAL = set("\\`*[]|~")
"""Always markup. ``( ) { } !`` never are once ``[ ]`` are escaped, so they stay readable."""
MD_LEADING = set("-+=.)>#")
"""Characters that only make markup at the start of a line (lists, rules, headings, quotes)."""


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    text: str
    kind: str = "p"
    """``p`` for a paragraph, ``warning`` for a flagged problem, ``code`` for preformatted text."""


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    path: str
    """Relative to the report folder."""
    alt: str


Block = Heading | Text | Table | Image


def md_escape(text: object) -> str:
    """Markdown-safe text on one line: markup punctuation backslash-escaped, ``& < >`` as entities.

    ``- + = . ) > #`` are escaped only where they could start a list, rule or heading
    (at the start, or a ``.``/``)`` after leading digits), and ``_`` only where it could
    emphasise (not inside a word such as ``return_mean``), so names and numbers stay readable.
    """
    line = " ".join(str(text).split())
    out = []
    for i, char in enumerate(line):
        if char in "&<>":
            out.append(html.escape(char))
        elif char in MD_SPECIAL or (char in MD_LEADING and _starts_block(line, i)) or (
                char == "_" and not (0 < i < len(line) - 1 and line[i - 1].isalnum() and line[i + 1].isalnum())):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _starts_block(line: str, i: int) -> bool:
    """Would ``line[i]`` open a list, rule, setext heading or quote?"""
    spaced = i + 1 == len(line) or line[i + 1] == " "
    if line[i] in ".)":
        return i > 0 and line[:i].isdigit() and spaced
    if i != 0:
        return False
    return line[0] == ">" or spaced or set(line) <= set("-=+ ")


def to_markdown(title: str, blocks: list[Block]) -> str:
    lines = [f"# {md_escape(title)}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + md_escape(block.text), ""]
        elif isinstance(block, Text):
            lines += _md_text(block)
        elif isinstance(block, Table):
            lines += _md_table(block)
        elif isinstance(block, Image):
            lines += [f"![{md_escape(block.alt)}]({block.path})", ""]
    return "\n".join(lines)


def _md_text(block: Text) -> list[str]:
    if block.kind == "code":
        longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
        fence = "`" * max(3, longest + 1)
        return [fence, *block.text.splitlines(), fence, ""]
    prefix = "**Warning:** " if block.kind == "warning" else ""
    return [prefix + md_escape(block.text), ""]


def _md_table(table: Table) -> list[str]:
    lines = [md_escape(table.caption), ""] if table.caption else []
    lines.append("| " + " | ".join(md_escape(c) for c in table.columns) + " |")
    lines.append("|" + "---|" * len(table.columns))
    for row in table.rows:
        lines.append("| " + " | ".join(md_escape(c) if c != "" else " " for c in row) + " |")
    return [*lines, ""]


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}
caption{caption-side:top;text-align:left;font-style:italic;padding:.3em 0}
.warning{background:#fff4e5;border-left:4px solid #e69500;padding:.5em 1em}
img{max-width:100%;display:block;margin:.5em 0;border:1px solid #eee}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}
"""


def to_html(title: str, blocks: list[Block], root: Path) -> str:
    """A single HTML page; PNGs under ``root`` are embedded as data URIs, other images linked."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            body.append(_html_text(block))
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Image):
            body.append(f'<img src="{_image_source(root, block.path)}" alt="{html.escape(block.alt)}">')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_text(block: Text) -> str:
    if block.kind == "code":
        return f"<pre>{html.escape(block.text)}</pre>"
    css = ' class="warning"' if block.kind == "warning" else ""
    return f"<p{css}>{html.escape(block.text)}</p>"


def _html_table(table: Table) -> str:
    parts = ["<table>"]
    if table.caption:
        parts.append(f"<caption>{html.escape(table.caption)}</caption>")
    parts.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns) + "</tr>")
    for row in table.rows:
        parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def _image_source(root: Path, relative: str) -> str:
    path = root / relative
    if path.suffix.lower() == ".png":
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return html.escape(relative)
