"""harness_algos: the seeds' deep RL algorithms, written only against harness.api.

Each algorithm lives in its own module (``harness_algos.ppo`` ...), which is
itself the implementation object: ``Params``, ``presets`` and ``make_agent``.
"""

from harness.api import AlgorithmSpec
from harness.hookspecs import hookimpl

DISCRETE, CONTINUOUS = ("Discrete",), ("Box",)


@hookimpl
def harness_register_algorithms(register):
    register(AlgorithmSpec("reinforce", "harness_algos.reinforce", "REINFORCE with a learned baseline", ("Discrete", "Box"), baseline="sb3.a2c",
                           uses_vector_env=False))
    register(AlgorithmSpec("a2c", "harness_algos.a2c", "synchronous advantage actor-critic", ("Discrete", "Box"), baseline="sb3.a2c"))
    register(AlgorithmSpec("ppo", "harness_algos.ppo", "PPO: clipped surrogate, GAE, PPO-max options", ("Discrete", "Box"), baseline="sb3.ppo"))
    register(AlgorithmSpec("trpo", "harness_algos.trpo", "TRPO: conjugate gradient + KL line search", ("Discrete", "Box"), baseline="sb3.trpo"))
    register(AlgorithmSpec("dqn", "harness_algos.dqn", "DQN with replay, target network, double DQN", DISCRETE, baseline="sb3.dqn", uses_vector_env=False))
    register(AlgorithmSpec("ddpg", "harness_algos.ddpg", "deep deterministic policy gradient", CONTINUOUS, baseline="sb3.ddpg", uses_vector_env=False))
    register(AlgorithmSpec("td3", "harness_algos.td3", "twin delayed DDPG", CONTINUOUS, baseline="sb3.td3", uses_vector_env=False))
