"""harness_tabular: tabular RL methods as harness algorithm plugins.

Dynamic programming on a known model (``policy_iteration``,
``value_iteration``) and model-free control (``mc_control``, ``sarsa``,
``expected_sarsa``, ``q_learning``) for environments with Discrete
observation and action spaces, such as FrozenLake-v1, CliffWalking-v1 and
Taxi-v4.  Each method is a module with ``Params``, ``presets``,
``make_agent`` and ``load_agent``; this file only registers their specs, so
listing plugins imports nothing heavy.
"""

from harness.api import AlgorithmSpec
from harness.hookspecs import hookimpl

DISCRETE = ("Discrete",)

METHODS = {
    "policy_iteration": "policy iteration on the env's known model (env.unwrapped.P)",
    "value_iteration": "value iteration on the env's known model (env.unwrapped.P)",
    "mc_control": "first-visit Monte Carlo control, epsilon-soft",
    "sarsa": "SARSA: on-policy one-step TD control",
    "expected_sarsa": "expected SARSA: TD control on the policy's expected next value",
    "q_learning": "Q-learning: off-policy one-step TD control",
}


@hookimpl
def harness_register_algorithms(register):
    for name, summary in METHODS.items():
        register(AlgorithmSpec(name, f"harness_tabular.{name}", summary, action_spaces=DISCRETE, observation_spaces=DISCRETE,
                               uses_vector_env=False))
