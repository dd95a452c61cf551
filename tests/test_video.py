"""GIF recording and `harness replay`: a fake agent, a real tiny env, a real MLflow store."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import imageio.v3 as iio
import numpy as np
import pytest

from harness.config import Evaluation
from harness.registry import Registry, make_plugin_manager
from harness.replay import ReplayError, replay
from harness.spec import RunSpec
from harness.video import downscale, record_gif, rollout_frames


class ConstantAgent:
    """Always pushes the cart the same way: CartPole ends in about ten steps."""

    def act(self, obs: np.ndarray, deterministic: bool = True) -> int:
        return 1


class BalancingAgent:
    """Pushes toward the side the pole falls to: keeps CartPole up for hundreds of steps."""

    def act(self, obs: np.ndarray, deterministic: bool = True) -> int:
        return int(obs[2] + obs[3] > 0)


@pytest.fixture
def cartpole():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    yield env
    env.close()


def gif_durations(path: Path) -> list[int]:
    """Milliseconds each stored frame is shown (Pillow merges identical neighbours, adding their times)."""
    from PIL import Image, ImageSequence

    with Image.open(path) as gif:
        return [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]


def episode_length(agent, seed: int) -> int:
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    for step in range(1, 10_000):
        obs, _, terminated, truncated, _ = env.step(agent.act(obs))
        if terminated or truncated:
            return step
    raise AssertionError("episode did not end")


def test_downscale_averages_2x2_blocks():
    frame = np.arange(4 * 8 * 3, dtype=np.uint8).reshape(4, 8, 3)
    small = downscale(frame, max_width=4)
    assert small.shape == (2, 4, 3)
    assert [frame[0, 0, 0], frame[0, 1, 0], frame[1, 0, 0], frame[1, 1, 0]] == [0, 3, 24, 27]  # mean 13.5
    assert small[0, 0, 0] == 14
    assert downscale(frame, max_width=8) is frame


def test_record_gif_writes_one_small_frame_per_kept_step(cartpole, tmp_path):
    steps = episode_length(ConstantAgent(), seed=3)
    path = record_gif(ConstantAgent(), cartpole, tmp_path / "sub" / "cart.gif", seed=3, fps=25, frame_skip=2)
    kept = 1 + steps // 2 + (steps % 2)  # the reset frame, every 2nd step, and the last step
    assert iio.imread(path, index=0).shape == (200, 300, 3)  # 600x400 halved once to fit max_width=320
    assert sum(gif_durations(path)) == kept * 80  # each kept frame stands for 2 steps at 25 steps/s
    assert path.stat().st_size < 50_000


def test_record_gif_stops_at_max_steps(cartpole, tmp_path):
    path = record_gif(BalancingAgent(), cartpole, tmp_path / "long.gif", seed=0, max_steps=30, fps=25, frame_skip=1)
    assert sum(gif_durations(path)) == 31 * 40


def test_record_gif_is_deterministic_and_follows_the_agent(cartpole, tmp_path):
    first, long_return = rollout_frames(BalancingAgent(), cartpole, 5, True, 200, 4, 320)
    again, _ = rollout_frames(BalancingAgent(), cartpole, 5, True, 200, 4, 320)
    short, short_return = rollout_frames(ConstantAgent(), cartpole, 5, True, 200, 4, 320)
    assert len(first) == len(again) and all(np.array_equal(a, b) for a, b in zip(first, again))
    assert long_return == 200.0 and len(first) == 51
    assert short_return == episode_length(ConstantAgent(), seed=5) and len(short) < 10


def test_record_gif_needs_rgb_array(tmp_path):
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        record_gif(ConstantAgent(), gym.make("CartPole-v1"), tmp_path / "x.gif", seed=0)


# --- replay round trip through a real (temporary) MLflow store -------------------------


@pytest.fixture
def toy_registry() -> Registry:
    return Registry(make_plugin_manager(load_entrypoints=False, modules=["harness.testing.toy", "harness_shaping"]))


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """One store for the module: creating an MLflow SQLite store takes seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def toy_spec(video: bool) -> RunSpec:
    evaluation = Evaluation(every=10_000, episodes=1, video=video).model_dump()
    return RunSpec(suite="replay-test", algorithm="toy.search", algorithm_label="toy.search", params={},
                   env="CartPole-v1", env_label="CartPole-v1", env_kwargs={"max_episode_steps": 80}, shaping="scaled",
                   shapers=[{"name": "scale", "params": {"factor": 0.5, "offset": 0.0}}],
                   seed=7, budget=600, evaluation=evaluation, device="cpu")


def run_through_worker(spec: RunSpec, uri: str, registry: Registry) -> str:
    """Execute one run exactly as an executor's worker does; return its MLflow run id."""
    from harness.tracking import Tracker
    from harness.worker import RunTask, execute

    events = []
    task = RunTask(spec.to_dict(), uri, Tracker(uri).experiment_id(spec.suite))
    execute(task, events.append, registry=registry)
    assert events[-1].kind == "finished", events[-1].message
    return events[-1].run_id


def test_replay_renders_the_stored_model_like_the_worker_did(toy_registry, tracking_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    run_id = run_through_worker(toy_spec(video=True), tracking_uri, toy_registry)
    client = MlflowClient(tracking_uri=tracking_uri)
    stored = Path(client.download_artifacts(run_id, "video/policy.gif", str(tmp_path)))

    replayed = replay(run_id, tmp_path / "out" / "replay.gif", tracking_uri=tracking_uri, registry=toy_registry)

    ours, theirs = iio.imread(replayed, index=None), iio.imread(stored, index=None)
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)
    other = replay(run_id, tmp_path / "other.gif", tracking_uri=tracking_uri, registry=toy_registry, seed=123)
    assert other.exists() and not math.isclose(other.stat().st_size, replayed.stat().st_size, rel_tol=0.0)


def test_replay_of_a_run_without_artifacts_fails_clearly(toy_registry, tracking_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    from harness.tracking import Tracker

    client = MlflowClient(tracking_uri=tracking_uri)
    bare = client.create_run(Tracker(tracking_uri).experiment_id("bare")).info.run_id
    with pytest.raises(ReplayError, match="cannot download spec.json"):
        replay(bare, tmp_path / "x.gif", tracking_uri=tracking_uri, registry=toy_registry)
