"""Merge the sections other work writes as bench/README-*.md into bench/README.md.

    python bench/merge_readmes.py

Everything below the marker line in README.md is replaced by the README-*.md files, in name order.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER = "<!-- merged from bench/README-*.md below; regenerate with: python bench/merge_readmes.py -->"


def main() -> None:
    readme = HERE / "README.md"
    head = readme.read_text().split(MARKER)[0].rstrip() + "\n\n"
    parts = [f"<!-- from {p.name} -->\n{p.read_text().strip()}\n" for p in sorted(HERE.glob("README-*.md"))]
    readme.write_text(head + MARKER + "\n\n" + "\n".join(parts))
    print(f"merged {len(parts)} file(s) into {readme}")


if __name__ == "__main__":
    main()
