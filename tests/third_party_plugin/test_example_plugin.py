"""How a plugin author tests a plugin: the harness conformance kit, in one test each."""

from harness.testing import check_algorithm, train


def test_hill_climb_conforms():
    check_algorithm("example.hill_climb", "example/Corridor-v0", steps=400)


def test_hill_climb_solves_the_corridor():
    result = train("example.hill_climb", "example/Corridor-v0", steps=1_000)
    assert result.evaluation.mean >= -6.0
