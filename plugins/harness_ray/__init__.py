"""harness_ray: run suites on a Ray cluster (optional extra ``harness[ray]``).

Registered through the ``harness`` entry-point group; Ray itself is imported
only when a suite actually runs with ``--executor ray``.
"""

from harness.api import ExecutorSpec
from harness.hookspecs import hookimpl


@hookimpl
def harness_register_executors(register):
    register(ExecutorSpec("ray", "harness_ray.executor:RayExecutor",
                          "Ray tasks on a local or remote cluster (--address; CPUs and fractional GPUs per run)"))
