"""bench/README.md describes presets the way the code defines them."""

from __future__ import annotations

import re

from harness_algos import ppo
from tests.conftest import ROOT


def test_fast_preset_description_matches_the_code():
    text = (ROOT / "bench" / "README.md").read_text()
    paragraph = text.split("### Native `fast` preset (CartPole-v1)")[1].strip().split("\n\n")[0]
    fast = ppo.FAST["CartPole-v1"]
    for key in ("n_envs", "n_steps", "batch_size", "n_epochs", "learning_rate", "gamma", "gae_lambda"):
        stated = re.search(rf"{key} ([0-9.e-]+)", paragraph)
        assert stated, f"bench/README.md's fast-preset paragraph does not state {key}"
        assert float(stated.group(1)) == fast[key], f"README: {key} {stated.group(1)}, code: {fast[key]}"
    rows = fast["n_envs"] * fast["n_steps"]
    assert f"({rows} rows per rollout)" in paragraph
