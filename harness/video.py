"""GIFs of a policy: one episode rendered with ``render_mode="rgb_array"``, written by imageio.

Kept small on purpose (they are MLflow artifacts and go into reports): frames are
averaged down in 2x2 blocks until at most ``max_width`` pixels wide, and only every
``frame_skip``-th frame is kept.  Measured with the defaults (LunarLander 600x400 ->
300x200, every 2nd step): a ~60-step crash 35-55 kB, a 188-step landing 118 kB, a
1000-step hovering episode (the longest there is) 501 frames, 695 kB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np


def downscale(frame: np.ndarray, max_width: int) -> np.ndarray:
    """Halve ``frame`` (rounded 2x2 block means) until it is at most ``max_width`` pixels wide."""
    while frame.shape[1] > max_width and frame.shape[0] >= 2 and frame.shape[1] >= 2:
        h, w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
        top, bottom = frame[0:h:2, :w].astype(np.uint16), frame[1:h:2, :w].astype(np.uint16)
        total = top[:, 0::2] + top[:, 1::2] + bottom[:, 0::2] + bottom[:, 1::2]
        frame = ((total + 2) // 4).astype(np.uint8)
    return frame


def rollout_frames(agent: Any, env: gym.Env, seed: int, deterministic: bool, max_steps: int,
                   frame_skip: int, max_width: int) -> tuple[list[np.ndarray], float]:
    """Play one episode; return every ``frame_skip``-th rendered frame and the episode's return."""
    if env.render_mode != "rgb_array":
        raise ValueError(f"record_gif needs an env made with render_mode='rgb_array', got {env.render_mode!r}")
    obs, _ = env.reset(seed=seed)
    frames = [downscale(np.asarray(env.render()), max_width)]
    total = 0.0
    for step in range(1, max_steps + 1):
        obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic=deterministic))
        total += float(reward)
        done = terminated or truncated
        if step % frame_skip == 0 or done:
            frames.append(downscale(np.asarray(env.render()), max_width))
        if done:
            break
    return frames, total


def record_gif(agent: Any, env: gym.Env, path: Path | str, seed: int, deterministic: bool = True,
               max_steps: int = 1000, fps: int = 30, *, frame_skip: int = 2, max_width: int = 320) -> Path:
    """Render one episode of ``agent`` on ``env`` (``render_mode="rgb_array"``) into a looping GIF.

    ``fps`` is the playback rate of the recorded steps: with ``frame_skip = k`` every
    k-th step is kept and shown for ``k / fps`` seconds, so the clip lasts as long as
    the episode would at ``fps`` steps per second.
    """
    import imageio.v3 as iio

    if max_steps < 1 or fps < 1 or frame_skip < 1 or max_width < 1:
        raise ValueError("max_steps, fps, frame_skip and max_width must be >= 1")
    frames, _ = rollout_frames(agent, env, seed, deterministic, max_steps, frame_skip, max_width)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    duration_ms = 1000.0 * frame_skip / fps
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=duration_ms, loop=0)
    return path
