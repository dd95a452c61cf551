"""``harness replay RUN_ID --gif out.gif``: reload a stored model and render it.

Reads only what the worker stored with the run: ``spec.json`` (the resolved
RunSpec) and the ``model/`` artifacts written by ``Agent.save``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.layout import build_context
from harness.params import build_params
from harness.registry import Registry, default_registry
from harness.seeding import resolve_device, seed_everything
from harness.spec import RunSpec
from harness.tracking import resolve_tracking_uri, with_retry


class ReplayError(Exception):
    """The run cannot be replayed (no spec, no model, or an algorithm without ``load_agent``)."""


def download_run(client: Any, run_id: str, into: Path) -> tuple[RunSpec, Path]:
    """The run's RunSpec and the local folder holding its ``model/`` artifacts."""
    try:
        spec_path = with_retry(lambda: client.download_artifacts(run_id, "spec.json", str(into)))
        model_dir = with_retry(lambda: client.download_artifacts(run_id, "model", str(into)))
    except Exception as error:
        raise ReplayError(f"run {run_id}: cannot download spec.json and model/ ({type(error).__name__}: {error})") from None
    return RunSpec.from_dict(json.loads(Path(spec_path).read_text())), Path(model_dir)


def load_stored_agent(spec: RunSpec, model_dir: Path, registry: Registry) -> Any:
    """Rebuild the run's algorithm, parameters and context; load the saved agent."""
    algorithm = registry.get("algorithm", spec.algorithm)
    impl = algorithm.load()
    if not hasattr(impl, "load_agent"):
        raise ReplayError(f"algorithm {spec.algorithm!r} ({algorithm.impl}) has no load_agent; it cannot be replayed")
    params = build_params(impl.Params, spec.params)
    device = resolve_device(spec.device, algorithm.prefers_gpu)
    if device.startswith("cuda") and not _cuda_available():
        device = "cpu"
    seed_everything(spec.seed)
    ctx = build_context(registry, spec.env, spec.seed, device, spec.env_kwargs, spec.shapers)
    return impl.load_agent(params, ctx, model_dir)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def replay(run_id: str, gif_path: Path | str, tracking_uri: str | None = None,
           registry: Registry | None = None, seed: int | None = None) -> Path:
    """Render run ``run_id``'s stored model as a GIF at ``gif_path``; return the path.

    The episode uses the run's first evaluation seed (the one the worker's own GIF
    uses) unless ``seed`` is given, and the run's deterministic/stochastic protocol.
    """
    from mlflow.tracking import MlflowClient

    from harness.video import record_gif

    registry = registry or default_registry()
    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    with tempfile.TemporaryDirectory() as tmp:
        spec, model_dir = download_run(client, run_id, Path(tmp))
        agent = load_stored_agent(spec, model_dir, registry)
        env = make_base_env(resolve_env(registry, spec.env), spec.env_kwargs, render_mode="rgb_array")
        try:
            episode_seed = eval_env_seeds(spec.seed, 1)[0] if seed is None else seed
            return record_gif(agent, env, gif_path, seed=episode_seed, deterministic=spec.evaluation["deterministic"])
        finally:
            env.close()
