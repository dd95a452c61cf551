"""harness_group: critic-free group-relative algorithms (GRPO, DAPO, GSPO, GMPO, GPG),
preference learning (a Bradley-Terry reward-model shaper, DPO) and the ``seq/*``
verifiable-reward sequence tasks.

Only names and metadata are registered here; torch and gymnasium are imported
when a run needs an implementation.
"""

from harness.api import AlgorithmSpec, EnvironmentSpec, ReportSectionSpec, ShaperSpec
from harness.hookspecs import hookimpl
from harness_group.catalog import SOLVED, TASKS

DISCRETE = ("Discrete",)


@hookimpl
def harness_register_algorithms(register):
    group = [
        ("grpo", "GRPO: clipped per-step ratio, per-episode mean, k3 KL to a frozen reference"),
        ("dapo", "DAPO: clip-higher, dynamic sampling, token-level loss, overlong punishment"),
        ("gspo", "GSPO: sequence-level (length-normalised) clipped importance ratio"),
        ("gmpo", "GMPO: geometric mean of per-step ratios clipped in log space"),
        ("gpg", "GPG: plain policy gradient on group-normalised advantages"),
    ]
    for name, summary in group:
        register(AlgorithmSpec(name, f"harness_group.{name}", summary, DISCRETE, baseline="sb3.ppo", uses_vector_env=False))
    register(AlgorithmSpec("dpo", "harness_group.dpo", "DPO: offline preference optimisation on synthetic pairs",
                           DISCRETE, baseline="sb3.ppo", uses_vector_env=False))


@hookimpl
def harness_register_environments(register):
    for task in TASKS:
        register(EnvironmentSpec(
            task.env_id, f"harness_group.seqenv:{task.maker}",
            f"emit the {task.task} of a {task.length}-digit prompt, then EOS ({task.reward} credit)",
            random_score=round(task.random_score, 6), solved_threshold=SOLVED))


@hookimpl
def harness_register_shapers(register):
    register(ShaperSpec("reward_model", "harness_group.reward_model",
                        "replace the reward by a Bradley-Terry model fit to synthetic preference pairs"))


@hookimpl
def harness_register_report_sections(register):
    register(ReportSectionSpec("group", "harness_group.report:section",
                               "policy entropy curves, collapsed seeds and group statistics of group-relative runs"))
