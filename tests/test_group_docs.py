"""docs/algorithms/group.md quotes code by file:line; every quote must still be on that line."""

from __future__ import annotations

import re

from tests.conftest import ROOT

LINK = re.compile(r"\[`(\w+\.py):(\d+)`\]\(\.\./\.\./(plugins/harness_group/\w+\.py)#L\2\) `([^`]+)`")


def test_every_quoted_line_matches_the_code():
    text = (ROOT / "docs" / "algorithms" / "group.md").read_text()
    quotes = LINK.findall(text)
    assert len(quotes) >= 30
    assert len(quotes) == len(re.findall(r"\[`\w+\.py:\d+`\]", text)), "a file:line link without its quoted line"
    for name, line, path, snippet in quotes:
        assert path.endswith(name)
        lines = (ROOT / path).read_text().splitlines()
        code = lines[int(line) - 1].strip()
        assert code == snippet.replace("\\|", "|"), f"{path}:{line} is now {code!r}, docs quote {snippet!r}"
