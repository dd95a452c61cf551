"""Which Ray resources a run asks for: CPUs always, a GPU share only for runs that use a GPU.

Ray hides GPUs from tasks that requested none (``CUDA_VISIBLE_DEVICES=""``), so
``device = "auto"`` resolves to the CPU in the worker unless a GPU share was
requested here; the rule mirrors :func:`harness.seeding.resolve_device`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Placement:
    cpus_per_run: float
    gpus_per_run: float
    """Share of one GPU per GPU run (0.25: four runs share a GPU)."""
    cluster_gpus: float
    """GPUs the Ray cluster reports in total."""

    def wants_gpu(self, spec: dict[str, Any]) -> bool:
        device = spec.get("device", "cpu")
        if device.startswith("cuda"):
            return True
        return device == "auto" and self.cluster_gpus > 0 and prefers_gpu(spec["algorithm"])

    def resources(self, spec: dict[str, Any]) -> dict[str, float]:
        """Ray task options ``num_cpus`` / ``num_gpus`` for this run."""
        gpus = self.gpus_per_run if self.wants_gpu(spec) else 0.0
        return {"num_cpus": self.cpus_per_run, "num_gpus": gpus}

    def infeasible(self, spec: dict[str, Any]) -> str | None:
        """Why this run can never be placed on the cluster, or None."""
        device = spec.get("device", "cpu")
        if device.startswith("cuda") and self.cluster_gpus <= 0:
            return f"device {device!r} asked for, but the Ray cluster has no GPU"
        return None


def prefers_gpu(algorithm: str) -> bool:
    """The registered ``AlgorithmSpec.prefers_gpu`` flag (False for unknown names)."""
    from harness.registry import PluginError, default_registry

    try:
        return bool(default_registry().get("algorithm", algorithm).prefers_gpu)
    except PluginError:
        return False
