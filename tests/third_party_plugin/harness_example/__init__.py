"""harness-example-plugin: registers one algorithm, one environment and one shaper.

This module is what the entry point names; it only registers specs. The heavy
parts live in sibling modules that harness imports when a run needs them.
"""

from harness.api import AlgorithmSpec, EnvironmentSpec, ShaperSpec
from harness.hookspecs import hookimpl


@hookimpl
def harness_register_algorithms(register):
    register(AlgorithmSpec(
        name="example.hill_climb",
        impl="harness_example.hill_climb",
        summary="hill climbing over a linear policy",
        action_spaces=("Discrete",),
        observation_spaces=("Box",),
    ))


@hookimpl
def harness_register_environments(register):
    register(EnvironmentSpec(
        name="example/Corridor-v0",
        make="harness_example.corridor:make",
        summary="walk right along a corridor to the exit",
        random_score=-20.0,
        solved_threshold=-6.0,
    ))


@hookimpl
def harness_register_shapers(register):
    register(ShaperSpec(name="example.step_bonus", impl="harness_example.step_bonus", summary="add a constant per step"))
