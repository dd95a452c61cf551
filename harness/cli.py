"""The `harness` command line: thin parsing over library functions.

Exit codes: 0 success, 1 some runs failed, 2 bad input (nothing was run), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness import interrupts

EXIT_FAILED_RUNS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    interrupts.honour()
    try:
        code = _dispatch(argv)
        interrupts.check()
        return code
    except BaseException as error:  # Ctrl-C or SIGTERM at any moment: start-up, validation, report
        if not (isinstance(error, KeyboardInterrupt) or interrupts.requested()):
            raise  # (a signal can surface as another library's error: sqlalchemy's, say)
        print("Interrupted: rerun the same command to resume (finished runs are kept).", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        interrupts.forget()  # library calls after this command (tests, notebooks) start afresh


def _dispatch(argv: list[str] | None) -> int:
    """Run the command; bad input is one line per problem and exit code 2."""
    args = build_parser().parse_args(argv)
    from harness.errors import InputError, SuiteErrors, clip
    from harness.registry import PluginError
    from harness.store import StoreError

    try:
        return args.handler(args)
    except SuiteErrors as errors:
        interrupts.check()
        for error in errors.errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (PluginError, StoreError, InputError) as error:
        interrupts.check()
        print(f"error: {clip(' '.join(str(error).split()), 1000)}", file=sys.stderr)
        return EXIT_BAD_INPUT


class _Parser(argparse.ArgumentParser):
    """Bad flags end in one line (not the usage block) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _workers(text: str) -> int:
    from harness.config import MAX_WORKERS

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be a whole number 1..{MAX_WORKERS}, got {text[:20]!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Benchmark RL algorithms against SB3 baselines.")
    commands = parser.add_subparsers(dest="command", required=True)

    plugins = commands.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.add_argument("--check", action="store_true",
                         help="import every implementation, build its Params and presets; exit 1 on any problem")
    plugins.add_argument("--kit", action="store_true", help="with --check: run the conformance kit briefly per algorithm")
    plugins.set_defaults(handler=cmd_plugins)

    describe = commands.add_parser("describe", help="an algorithm's or shaper's parameters, defaults and presets")
    describe.add_argument("name")
    describe.set_defaults(handler=cmd_describe)

    new = commands.add_parser("new", help="write a new plugin package (algorithm, environment or shaper)")
    new.add_argument("kind", choices=["algorithm", "environment", "shaper"])
    new.add_argument("name", help="the name suites will use, e.g. my.cem or my/Corridor-v0")
    new.add_argument("--dir", type=Path, default=None, help="target folder (default: ./harness-<name>)")
    new.set_defaults(handler=cmd_new)

    validate = commands.add_parser("validate", help="check a suite file; run nothing")
    validate.add_argument("suite", type=Path)
    validate.set_defaults(handler=cmd_validate)

    run = commands.add_parser("run", help="run a suite (resumes; skips finished runs)")
    run.add_argument("suite", type=Path)
    run.add_argument("--workers", type=_workers, default=None, help="parallel runs (default: CPU cores)")
    run.add_argument("--executor", default=None, help="executor plugin (default: the suite's, else local)")
    run.add_argument("--address", default=None, help="cluster address for the ray executor")
    run.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    run.add_argument("--reuse", choices=["exact", "any", "off"], default=None,
                     help="copy runs that finished in other experiments instead of training them: same run_key "
                          "and software fingerprint (exact), same run_key (any), never (off); default: the "
                          "suite's [bank] reuse, else exact")
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

    if args.check:
        from harness.check import check_plugins

        problems = check_plugins(default_registry(), kit=args.kit)
        print("\n".join(problems) if problems else f"ok: {len(default_registry().entries())} plugins checked")
        return EXIT_FAILED_RUNS if problems else 0
    rows = plugin_rows(default_registry())
    print(json.dumps(rows, indent=2) if args.json else plugin_table(rows))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from harness.catalog import describe
    from harness.registry import default_registry

    print(describe(default_registry(), args.name))
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from harness.scaffold import ScaffoldError, new_plugin

    try:
        path = new_plugin(args.kind, args.name, args.dir)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{path}: pip install -e '{path}[test]', then pytest and harness run suite.toml there")
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

    from harness.store import bound_http_retries, check_tracking_uri
    from harness.tracking import resolve_tracking_uri

    check_tracking_uri(resolve_tracking_uri(args.tracking_uri))  # before anything starts: seconds, not minutes
    bound_http_retries()  # before the executor starts, so its workers inherit the same settings
    from harness.registry import default_registry
    from harness.suite import load_suite

    suite = load_suite(args.suite, default_registry())  # a bad suite is rejected before any executor starts
    if not args.no_report:
        from harness.report.paths import check_out_root

        check_out_root(args.out, suite.name)  # a bad --out fails now, not after the runs
    options = {"address": args.address} if args.address else {}
    _prestart_executor(args, options)
    from harness.adaptive import config_decisions
    from harness.runner import run_suite
    from harness.summary import failure_lines, outcome_line, summarize, summary_table
    from harness.tracking import Tracker, browse_hint

    if banks := [*suite.bank_files, *args.bank]:
        _import_banks(banks, args.tracking_uri)
    outcome = run_suite(suite, tracking_uri=args.tracking_uri, workers=args.workers, executor=args.executor,
                        executor_options=options, reuse=args.reuse or suite.config.bank.reuse)
    if outcome.store_error:
        print(f"error: stopped: {outcome.store_error}; {len(outcome.finished)} run(s) finished before; "
              f"rerun the same command once the store answers (finished runs are kept)", file=sys.stderr)
        return EXIT_FAILED_RUNS
    console = Console(soft_wrap=True, highlight=False)
    tracker = Tracker(outcome.tracking_uri)
    decisions = config_decisions(outcome.suite, outcome.tracking_uri)
    console.print(summary_table(summarize(tracker, outcome.experiment_id, outcome.suite, decisions)))
    line = outcome_line(len(outcome.suite.runs) - outcome.not_needed, outcome.skipped, len(outcome.finished),
                        outcome.failed, outcome.reused)
    if outcome.not_needed:
        line = line.rstrip(".") + f"; {outcome.not_needed} not needed (decided early)."
    console.print(line)
    if outcome.other_software:
        console.print(f"{outcome.other_software} of the runs trained here had a finished copy made with other software "
                      "(library versions, CPU: see `harness bank verify`); `--reuse any` would have taken them.")
    failures = failure_lines(tracker, outcome)
    for line in failures:
        console.print("  " + line, markup=False)
    if not args.no_report and not outcome.interrupted:
        path = _build_report(outcome.suite.name, outcome.tracking_uri, args.out, outcome.suite)
        console.print(f"Report: {path / 'index.md'} and {path / 'report.html'}")
    console.print(browse_hint(outcome.tracking_uri, outcome.experiment_id), markup=False)
    console.print(f"Rebuild the report: harness report {args.suite}")
    if outcome.interrupted:
        console.print("Interrupted: rerun the same command to resume (finished runs are kept).")
        return EXIT_INTERRUPTED
    return EXIT_FAILED_RUNS if failures else 0


def _prestart_executor(args: argparse.Namespace, options: dict) -> None:
    """Let the executor start its workers now (after validation), so their start-up overlaps opening the store.

    The executor and worker count are read from the raw TOML; anything wrong there is left
    for validation to report properly.
    """
    from harness.config import MAX_WORKERS, load_toml
    from harness.errors import SuiteErrors
    from harness.registry import PluginError, default_registry

    try:
        raw = load_toml(args.suite)
        name = args.executor or raw.get("executor", "local")
        executor_class = default_registry().get("executor", str(name)).load()
    except (SuiteErrors, ImportError, PluginError):  # validation names the problem properly
        return
    workers = args.workers or raw.get("workers")
    prestart = getattr(executor_class, "prestart", None)
    if prestart is not None:
        valid = type(workers) is int and 0 < workers <= MAX_WORKERS  # anything else: validation says so
        prestart(workers if valid else None, **options)


def _import_banks(files: list[Path], tracking_uri: str | None) -> None:
    """Import each bank file; a bad one is a one-line error (:class:`BankError`) before anything runs."""
    from harness.bank import import_bank
    from harness.tracking import resolve_tracking_uri

    for file in files:
        result = import_bank(file, resolve_tracking_uri(tracking_uri))
        print(f"{file}: {result.added} runs imported, {result.present} already in the store")


def cmd_bank(args: argparse.Namespace) -> int:
    from harness.bank import export_bank
    from harness.tracking import resolve_tracking_uri

    if args.action == "import":
        _import_banks([args.file], args.tracking_uri)
        return 0
    if args.action == "verify":
        return _verify_bank(args)
    result = export_bank(args.experiments, resolve_tracking_uri(args.tracking_uri), args.output, args.models,
                         tuple(args.metrics))
    print(f"{args.output}: {result.runs} runs")
    if result.without_fingerprint:
        print(f"left out {result.without_fingerprint} finished runs without a software fingerprint "
              "(made before harness recorded one)")
    return 0


def _verify_bank(args: argparse.Namespace) -> int:
    from harness.bank.verify import describe, verify_bank
    from harness.errors import InputError

    for flag, value in (("--seeds", args.seeds), ("--workers", args.workers)):
        if value is not None and not 1 <= value <= 1024:
            raise InputError(f"harness bank verify {flag}: {value} (allowed: 1 to 1024)")
    verdicts = verify_bank(args.file, seeds=args.seeds, workers=args.workers)
    print("\n".join(describe(verdicts)))
    return 0 if all(v.identical for v in verdicts) else EXIT_FAILED_RUNS


def cmd_report(args: argparse.Namespace) -> int:
    from harness.registry import default_registry
    from harness.report.paths import check_out_root
    from harness.store import check_tracking_uri
    from harness.suite import load_suite
    from harness.tracking import resolve_tracking_uri

    if args.suite is None and args.experiment is None:
        print("error: give a suite file or --experiment NAME", file=sys.stderr)
        return EXIT_BAD_INPUT
    suite = load_suite(args.suite, default_registry()) if args.suite else None
    name = args.experiment or suite.name
    uri = resolve_tracking_uri(args.tracking_uri)
    check_tracking_uri(uri)
    check_out_root(args.out, name)
    path = _build_report(name, uri, args.out, suite)
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
