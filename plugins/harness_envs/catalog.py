"""Score metadata of the built-in environments: the one place these numbers live.

``random_score``: mean return of a uniformly random policy, measured with
``python bench/random_scores.py --episodes 1000`` (seeds 0..999; the standard error is in the
trailing comment). ``solved_threshold``: gymnasium's ``reward_threshold`` where the env spec
defines one, otherwise the value named in the comment. All are plain gymnasium ids (``make=None``).
"""

from __future__ import annotations

from harness.api import EnvironmentSpec

ENVIRONMENTS: tuple[EnvironmentSpec, ...] = (
    EnvironmentSpec(
        "CartPole-v1", summary="Balance a pole on a cart (classic control, Discrete(2)).",
        random_score=22.646, solved_threshold=475.0,  # random: sem 0.37
        max_episode_steps=500,
    ),
    EnvironmentSpec(
        "Acrobot-v1", summary="Swing a two-link arm above a line (classic control, Discrete(3)).",
        random_score=-498.59, solved_threshold=-100.0,  # random: sem 0.41
        max_episode_steps=500,
    ),
    EnvironmentSpec(
        "MountainCar-v0", summary="Drive an underpowered car up a hill (classic control, Discrete(3)).",
        random_score=-200.0, solved_threshold=-110.0,  # random: never reaches the goal
        max_episode_steps=200,
    ),
    EnvironmentSpec(
        "MountainCarContinuous-v0", summary="Mountain car with a continuous throttle (Box(1)).",
        random_score=-33.095, solved_threshold=90.0,  # random: sem 0.16
        max_episode_steps=999,
    ),
    EnvironmentSpec(
        "Pendulum-v1", summary="Swing up and hold an inverted pendulum (classic control, Box(1)).",
        # gymnasium defines no threshold; -200 is the "solved" mark commonly used for Pendulum.
        random_score=-1218.901, solved_threshold=-200.0,  # random: sem 9.1
        max_episode_steps=200,
    ),
    EnvironmentSpec(
        "LunarLander-v3", summary="Land a lander on a pad (Box2D, Discrete(4)).",
        random_score=-184.3, solved_threshold=200.0,  # random: sem 3.5
        max_episode_steps=1000,
    ),
    EnvironmentSpec(
        "LunarLanderContinuous-v3", summary="Lunar lander with continuous engines (Box2D, Box(2)).",
        random_score=-209.675, solved_threshold=200.0,  # random: sem 4.0
        max_episode_steps=1000,
    ),
    EnvironmentSpec(
        "FrozenLake-v1", summary="Cross a slippery frozen lake to the goal (toy text, 4x4, Discrete(4)).",
        random_score=0.012, solved_threshold=0.7,  # random: sem 0.003
        max_episode_steps=100,
    ),
    EnvironmentSpec(
        "CliffWalking-v1", summary="Walk along a cliff to the goal (toy text, 4x12 grid, Discrete(4)).",
        # gymnasium defines no threshold; -13 is the optimal return (the 13-step path along the cliff).
        # gymnasium sets no time limit either: random episodes last thousands of steps and a greedy
        # policy can loop forever, so the harness caps episodes at 200 steps (as Taxi); the random
        # score is measured under that cap.
        random_score=-2115.165, solved_threshold=-13.0,  # random: sem 21.8
        max_episode_steps=200,
    ),
    EnvironmentSpec(
        "Taxi-v4", summary="Pick up and drop off a passenger on a grid (toy text, Discrete(6)).",
        random_score=-772.076, solved_threshold=8.0,  # random: sem 3.1
        max_episode_steps=200,
    ),
)
