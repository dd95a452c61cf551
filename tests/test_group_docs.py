"""docs/algorithms/group.md quotes code by file:line; every quote must still be on that line."""

from __future__ import annotations

import re

import numpy as np
from harness_group import dapo, gpg
from harness_group.objectives import group_advantages

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


def test_stated_defaults_and_std_match_the_code():
    text = (ROOT / "docs" / "algorithms" / "group.md").read_text()
    adv = group_advantages(np.array([[0.0, 1.0]]), eps=0.0)  # population std 0.5 -> +-1; sample std 0.707
    ddof = 0 if np.allclose(adv, [[-1.0, 1.0]]) else 1
    assert f"(ddof {ddof})" in text
    assert f'`filter_on = "{dapo.Params().filter_on}"`,\nthe default' in text
    assert f"`min_inverse_alpha` = {gpg.Params().min_inverse_alpha}" in text
