"""A corridor of ``length`` cells: start on the left, the exit is on the right; -1 per step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, length: int = 5, max_steps: int = 20, render_mode: str | None = None):
        self.length, self.max_steps, self.render_mode = length, max_steps, render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)  # 0: left, 1: right

    def _obs(self) -> np.ndarray:
        return np.array([self.position / self.length, 1.0], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.position = max(0, self.position + (1 if int(action) == 1 else -1))
        self.steps += 1
        terminated = self.position >= self.length
        truncated = self.steps >= self.max_steps and not terminated
        return self._obs(), -1.0, terminated, truncated, {}

    def render(self):
        frame = np.zeros((16, 16 * self.length, 3), dtype=np.uint8)
        frame[:, 16 * min(self.position, self.length - 1):][:, :16] = 255
        return frame


def make(length: int = 5, render_mode: str | None = None) -> gym.Env:
    return Corridor(length=length, render_mode=render_mode)
