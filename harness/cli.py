"""The `harness` command line: thin parsing over library functions.

Exit codes: 0 success, 1 some runs failed, 2 bad input (nothing was run), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tomllib
from pathlib import Path

EXIT_FAILED_RUNS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from harness.errors import SuiteErrors
    from harness.registry import PluginError

    try:
        return args.handler(args)
    except SuiteErrors as errors:
        for error in errors.errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Benchmark RL algorithms against SB3 baselines.")
    commands = parser.add_subparsers(dest="command", required=True)

    plugins = commands.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(handler=cmd_plugins)

    validate = commands.add_parser("validate", help="check a suite file; run nothing")
    validate.add_argument("suite", type=Path)
    validate.set_defaults(handler=cmd_validate)

    run = commands.add_parser("run", help="run a suite (resumes; skips finished runs)")
    run.add_argument("suite", type=Path)
    run.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU cores)")
    run.add_argument("--executor", default=None, help="executor plugin (default: the suite's, else local)")
    run.add_argument("--address", default=None, help="cluster address for the ray executor")
    run.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    run.add_argument("--reuse", choices=["exact", "any", "off"], default="exact",
                     help="copy runs that finished in other experiments instead of training them: same run_key "
                          "and software fingerprint (exact, default), same run_key (any), never (off)")
    run.add_argument("--bank", type=Path, action="append", default=[], metavar="FILE",
                     help="import this bank file first (idempotent; repeatable)")
    _tracking(run)
    _report_out(run)
    run.set_defaults(handler=cmd_run)

    report = commands.add_parser("report", help="build the comparison report from MLflow")
    report.add_argument("suite", type=Path, nargs="?", help="suite file (or use --experiment)")
    report.add_argument("--experiment", default=None, help="MLflow experiment (= suite name)")
    _tracking(report)
    _report_out(report)
    report.set_defaults(handler=cmd_report)

    replay = commands.add_parser("replay", help="render a stored model as a GIF")
    replay.add_argument("run_id")
    replay.add_argument("--gif", type=Path, required=True, help="output GIF path")
    replay.add_argument("--seed", type=int, default=None, help="episode seed (default: the run's first evaluation seed)")
    _tracking(replay)
    replay.set_defaults(handler=cmd_replay)
    _bank_parser(commands)
    return parser


def _bank_parser(commands: argparse._SubParsersAction) -> None:
    bank = commands.add_parser("bank", help="export, import and verify bank files of finished runs")
    actions = bank.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write the finished runs of experiments to a bank file")
    export.add_argument("experiments", nargs="+", help="MLflow experiment names (= suite names)")
    export.add_argument("-o", "--output", type=Path, required=True, help="bank file to write (.jsonl.gz)")
    export.add_argument("--models", action="store_true", help="include the trained models")
    export.add_argument("--metrics", action="append", default=[], metavar="PREFIX",
                        help="keep only metrics starting with PREFIX (repeatable; default: all), "
                             "e.g. --metrics eval/ --metrics time/ for what reports read")
    imp = actions.add_parser("import", help="load a bank file into the store (importing twice adds nothing)")
    imp.add_argument("file", type=Path)
    verify = actions.add_parser("verify", help="train a few banked runs again here and compare")
    verify.add_argument("file", type=Path)
    verify.add_argument("--seeds", type=int, default=2, help="runs per configuration (lowest seeds first)")
    verify.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU cores)")
    for parser in (export, imp):
        _tracking(parser)
    bank.set_defaults(handler=cmd_bank)


def _tracking(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")


def _report_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("reports"), help="report root folder")


def cmd_plugins(args: argparse.Namespace) -> int:
    from harness.catalog import plugin_rows, plugin_table
    from harness.registry import default_registry

    rows = plugin_rows(default_registry())
    print(json.dumps(rows, indent=2) if args.json else plugin_table(rows))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.registry import default_registry
    from harness.suite import load_suite

    suite = load_suite(args.suite, default_registry())
    cells = {(r.algorithm_label, r.env_label, r.shaping) for r in suite.runs}
    print(f"{args.suite}: ok: suite {suite.name!r}, {len(suite.runs)} runs "
          f"({len(cells)} configurations x {len(suite.config.seeds)} seeds)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    options = {"address": args.address} if args.address else {}
    _prestart_executor(args, options)
    from harness.runner import run_suite
    from harness.summary import summarize, summary_table
    from harness.tracking import Tracker

    signal.signal(signal.SIGTERM, _raise_interrupt)  # `kill` stops a suite as cleanly as Ctrl-C
    if args.bank and (status := _import_banks(args.bank, args.tracking_uri)):
        return status
    outcome = run_suite(args.suite, tracking_uri=args.tracking_uri, workers=args.workers,
                        executor=args.executor, executor_options=options, reuse=args.reuse)
    console = Console(soft_wrap=True, highlight=False)
    tracker = Tracker(outcome.tracking_uri)
    console.print(summary_table(summarize(tracker, outcome.experiment_id, outcome.suite)))
    failed = len(outcome.failed)
    total = len(outcome.suite.runs)
    reused = "".join(f", {n} from the bank" if source == "bank" else f", {n} reused from other experiments"
                     for source, n in sorted(outcome.reused.items()))
    console.print(f"{total - failed} of {total} runs finished ({outcome.skipped} from earlier{reused}), "
                  f"{failed} failed.")
    titles = {spec.run_key: spec.title for spec in outcome.suite.runs}
    for key, message in outcome.failed.items():
        console.print(f"  failed: {titles[key]}: {message}")
    if not args.no_report and not outcome.interrupted:
        path = _build_report(outcome.suite.name, outcome.tracking_uri, args.out, outcome.suite)
        console.print(f"Report: {path / 'index.md'} and {path / 'report.html'}")
    console.print(f"Browse runs: mlflow ui --backend-store-uri {outcome.tracking_uri}")
    console.print(f"Rebuild the report: harness report {args.suite}")
    if outcome.interrupted:
        console.print("Interrupted: rerun the same command to resume (finished runs are kept).")
        return EXIT_INTERRUPTED
    return EXIT_FAILED_RUNS if failed else 0


def _prestart_executor(args: argparse.Namespace, options: dict) -> None:
    """Let the executor start its workers now, so their start-up overlaps validating the suite.

    The executor and worker count are read from the raw TOML; anything wrong there is left
    for validation to report properly.
    """
    from harness.registry import PluginError, default_registry

    try:
        raw = tomllib.loads(Path(args.suite).read_text())
        name = args.executor or raw.get("executor", "local")
        executor_class = default_registry().get("executor", str(name)).load()
    except (OSError, ValueError, ImportError, PluginError):  # validation names the problem properly
        return
    workers = args.workers or raw.get("workers")
    prestart = getattr(executor_class, "prestart", None)
    if prestart is not None:
        prestart(workers if isinstance(workers, int) and workers > 0 else None, **options)


def _import_banks(files: list[Path], tracking_uri: str | None) -> int:
    """Import each bank file; a bad one is a one-line error and exit 2 before anything runs."""
    from harness.bank import BankError, import_bank
    from harness.tracking import resolve_tracking_uri

    for file in files:
        try:
            result = import_bank(file, resolve_tracking_uri(tracking_uri))
        except BankError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"{file}: {result.added} runs imported, {result.present} already in the store")
    return 0


def cmd_bank(args: argparse.Namespace) -> int:
    from harness.bank import BankError, export_bank
    from harness.tracking import resolve_tracking_uri

    try:
        if args.action == "import":
            return _import_banks([args.file], args.tracking_uri)
        if args.action == "verify":
            return _verify_bank(args)
        result = export_bank(args.experiments, resolve_tracking_uri(args.tracking_uri), args.output, args.models,
                             tuple(args.metrics))
    except BankError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{args.output}: {result.runs} runs")
    if result.without_fingerprint:
        print(f"left out {result.without_fingerprint} finished runs without a software fingerprint "
              "(made before harness recorded one)")
    return 0


def _verify_bank(args: argparse.Namespace) -> int:
    from harness.bank.verify import describe, verify_bank

    verdicts = verify_bank(args.file, seeds=args.seeds, workers=args.workers)
    print("\n".join(describe(verdicts)))
    return 0 if all(v.identical for v in verdicts) else EXIT_FAILED_RUNS


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_report(args: argparse.Namespace) -> int:
    from harness.registry import default_registry
    from harness.suite import load_suite
    from harness.tracking import resolve_tracking_uri

    if args.suite is None and args.experiment is None:
        print("error: give a suite file or --experiment NAME", file=sys.stderr)
        return EXIT_BAD_INPUT
    suite = load_suite(args.suite, default_registry()) if args.suite else None
    name = args.experiment or suite.name
    path = _build_report(name, resolve_tracking_uri(args.tracking_uri), args.out, suite)
    print(f"Report: {path / 'index.md'} and {path / 'report.html'}")
    return 0


def _build_report(experiment: str, tracking_uri: str, out: Path, suite) -> Path:
    from harness.report import build_report

    return build_report(experiment, tracking_uri, out_root=out, suite=suite)


def cmd_replay(args: argparse.Namespace) -> int:
    from harness.replay import ReplayError, replay
    from harness.tracking import resolve_tracking_uri

    try:
        path = replay(args.run_id, args.gif, tracking_uri=resolve_tracking_uri(args.tracking_uri), seed=args.seed)
    except ReplayError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"GIF: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
