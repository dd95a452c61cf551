"""Every bad file, value or flag ends in one short line naming file and key, exit code 2, nothing written.

Each case here crashed with a traceback, or was silently accepted, before (issue 16, failures 3-5).
"""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import MAX_BUDGET, MAX_EPISODES, MAX_RUNS, MAX_SEEDS, MAX_WORKERS

from tests.conftest import harness_env, run_cli, write_suite
from tests.test_validation import GOOD


def validate(tmp_path: Path, capsys, text: str) -> str:
    """Validate ``text`` as a suite; assert exit 2 and one ``error: <file>: ...`` line per problem."""
    path = write_suite(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    stderr = capsys.readouterr().err
    lines = stderr.strip().splitlines()
    assert lines and all(line.startswith(f"error: {path}: ") for line in lines), stderr
    assert "Traceback" not in stderr
    return stderr


def with_param(text: str) -> str:
    return GOOD.replace('name = "toy.search"', f'name = "toy.search"\nparams = {{{text}}}')


STRICT = [  # (suite text, expected message): no coercion of strings/booleans to numbers
    (GOOD.replace("budget = 1000", 'budget = "1000"'), "budget: Input should be a valid integer (got '1000')"),
    (GOOD.replace("budget = 1000", "budget = true"), "budget: Input should be a valid integer (got True)"),
    (GOOD.replace("budget = 1000", "budget = 1000.0"), "budget: Input should be a valid integer (got 1000.0)"),
    (GOOD.replace("seeds = [0, 1]", 'seeds = "2"'), "seeds: expected a seed count or a list of seeds (got '2')"),
    (GOOD.replace("seeds = [0, 1]", "seeds = true"), "seeds: expected a seed count or a list of seeds (got True)"),
    (GOOD.replace("seeds = [0, 1]", "seeds = [0, true]"), "seeds: seeds must be integers 0..1073741823, not True"),
    (GOOD + "[evaluation]\nepisodes = \"10\"\n", "evaluation.episodes: Input should be a valid integer"),
    (GOOD + "[evaluation]\ndeterministic = 1\n", "evaluation.deterministic: Input should be a valid boolean"),
    (GOOD.replace("budget = 1000", "budget = 1000\ntimeout = nan"), "timeout: Input should be a finite number"),
    (GOOD.replace("budget = 1000", "budget = 1000\ntimeout = inf"), "timeout: Input should be a finite number"),
    (with_param('noise = "0.5"'), "algorithms[0].params.noise: Input should be a valid number (got '0.5')"),
    (with_param("noise = true"), "algorithms[0].params.noise: Input should be a valid number (got True)"),
    (with_param("noise = nan"), "algorithms[0].params.noise: noise must be a finite number (got nan)"),
    (with_param("noise = -inf"), "algorithms[0].params.noise: noise must be a finite number (got -inf)"),
    (with_param('fail_at_step = "3"'), "algorithms[0].params.fail_at_step: Input should be a valid integer"),
]

BOUNDS = [  # (suite text, expected message): upper bounds name their limit
    (GOOD.replace("budget = 1000", "budget = 9e18"), "budget: Input should be a valid integer (got 9e+18)"),
    (GOOD.replace("budget = 1000", f"budget = {MAX_BUDGET + 1}"), f"budget: Input should be less than or equal to {MAX_BUDGET}"),
    (GOOD + f"budget = {MAX_BUDGET + 1}\n", f"environments[0].budget: Input should be less than or equal to {MAX_BUDGET}"),
    (GOOD.replace("[[algorithms]]", "[evaluation]\nepisodes = 100_000_000_000\n[[algorithms]]"),
     f"evaluation.episodes: Input should be less than or equal to {MAX_EPISODES}"),
    (GOOD.replace("seeds = [0, 1]", "seeds = 100_000"), f"seeds: a seed count must be 1..{MAX_SEEDS} (got 100000)"),
    (GOOD.replace("seeds = [0, 1]", "seeds = 1_000_000_000"), f"seeds: a seed count must be 1..{MAX_SEEDS}"),
    (GOOD.replace("seeds = [0, 1]", f"seeds = {list(range(MAX_SEEDS + 1))}"), f"seeds: a list of 1..{MAX_SEEDS} seeds"),
    (GOOD.replace("budget = 1000", "budget = 1000\nworkers = 5000"), f"workers: Input should be less than or equal to {MAX_WORKERS}"),
    (GOOD.replace("budget = 1000", "budget = 1000\ntimeout = 1e12"), "timeout: Input should be less than or equal to"),
]


@pytest.mark.parametrize("text,expected", STRICT + BOUNDS, ids=[e for _, e in STRICT + BOUNDS])
def test_wrong_types_and_out_of_bound_values_are_rejected(tmp_path, capsys, text, expected):
    assert expected in validate(tmp_path, capsys, text)


def test_errors_show_no_validator_internals(tmp_path, capsys):
    for seeds in ('"2"', "true", "0", "[-1]", "100_000", "{a = 1}"):
        stderr = validate(tmp_path, capsys, GOOD.replace("[0, 1]", seeds))
        assert stderr.count("\n") == 1, stderr  # one line, not one per union branch
        for internal in ("list[", "constrained", "function-after", "union[", "errors.pydantic.dev"):
            assert internal not in stderr


def test_a_huge_value_is_echoed_cut_short(tmp_path, capsys):
    huge = "x" * 10_000_000
    for text in (GOOD.replace('name = "ok"', f'name = "{huge}/"'),
                 GOOD.replace('"toy.search"', f'"{huge}"'),
                 GOOD.replace("budget = 1000", f'budget = "{huge}"'),
                 GOOD.replace("budget = 1000", f'budget = 1000\n{huge} = 1'),
                 with_param(f'{huge} = 1')):
        stderr = validate(tmp_path, capsys, text)
        assert len(stderr) < 2_000, stderr[:300]


def test_duplicate_labels_do_not_print_the_whole_suite(tmp_path, capsys):
    text = GOOD + '[[environments]]\nname = "CartPole-v1"\nkwargs = {secret_marker = 1}\n'
    stderr = validate(tmp_path, capsys, text)
    assert "appear twice" in stderr and "secret_marker" not in stderr


# --- files that are not suites ------------------------------------------------------------------
def test_unreadable_inputs_are_one_line(tmp_path, capsys, monkeypatch):
    cases = {
        "binary.toml": (b"\xff\xfe name = 'x'\n", "not UTF-8 text (byte 0); TOML files are UTF-8"),
        "deep_arrays.toml": (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invalid TOML: nested too deeply"),
        "deep_tables.toml": (b"a = " + b"{b=" * 3000 + b"1" + b"}" * 3000 + b"\n", "invalid TOML: nested too deeply"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert main(["validate", str(path)]) == 2
        assert capsys.readouterr().err == f"error: {path}: {expected}\n"
    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: is a directory, not a suite file\n"

    locked = write_suite(tmp_path, GOOD, "locked.toml")
    real_open = builtins.open  # running as root, chmod 000 would still be readable: refuse the open instead

    def refuse(file, *args, **kwargs):
        if Path(str(file)) == locked:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse)
    assert main(["validate", str(locked)]) == 2
    assert capsys.readouterr().err == f"error: {locked}: permission denied: cannot read the file\n"


def test_latin1_file_names_the_first_bad_byte(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: not UTF-8 text (byte 11); TOML files are UTF-8\n"


def test_run_on_a_directory_writes_nothing(tmp_path):
    (tmp_path / "suite_dir").mkdir()
    result = run_cli("run", "suite_dir", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == "error: suite_dir: is a directory, not a suite file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suite_dir"]


def test_missing_plugin_module_is_one_line(tmp_path):
    """A HARNESS_PLUGINS module that does not import is a broken plugin: named, never a traceback."""
    suite = write_suite(tmp_path, GOOD)
    env = harness_env(HARNESS_PLUGINS="no_such_plugin_module")
    for command in ("validate", "run"):
        result = run_cli(command, str(suite), cwd=tmp_path, env=env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert "unknown algorithm 'toy.search'" in result.stderr
        assert "not loaded: no_such_plugin_module" in result.stderr
        assert "ModuleNotFoundError: No module named 'no_such_plugin_module'" in result.stderr
    listing = run_cli("plugins", cwd=tmp_path, env=env)
    assert listing.returncode == 0 and "BROKEN: ModuleNotFoundError" in listing.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suite.toml"]


# --- flags --------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["-1", "0", str(MAX_WORKERS + 1), "two", "1.5"])
def test_bad_workers_flag_is_one_line(tmp_path, capsys, workers):
    suite = write_suite(tmp_path, GOOD)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(suite), "--workers", workers])
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1, stderr
    assert f"argument --workers: must be a whole number 1..{MAX_WORKERS}" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suite.toml"]


def test_report_of_unknown_experiment_creates_no_store(tmp_path):
    result = run_cli("report", "--experiment", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"error: no MLflow store at {tmp_path / 'mlflow.db'} (nothing has run there; check --tracking-uri)\n"
    assert list(tmp_path.iterdir()) == []


def test_out_naming_a_file_fails_before_anything_runs(tmp_path):
    suite = write_suite(tmp_path, GOOD)
    (tmp_path / "taken").write_text("not a folder")
    result = run_cli("run", str(suite), "--out", "taken/reports", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"error: --out taken/reports: {tmp_path / 'taken'} is not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suite.toml", "taken"]
    result = run_cli("report", str(suite), "--out", "taken", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == "error: --out taken: taken is not a folder\n"


@pytest.mark.parametrize("command", ["report", "run"])
def test_a_foreign_report_folder_is_refused_before_anything_runs(tmp_path, command):
    (tmp_path / "reports" / "ok").mkdir(parents=True)
    (tmp_path / "reports" / "ok" / "mine.txt").write_text("keep me")
    suite = write_suite(tmp_path, GOOD)
    result = run_cli(command, str(suite), cwd=tmp_path)
    assert result.returncode == 2
    assert "exists and is not a harness report; move it away first" in result.stderr
    assert (tmp_path / "reports" / "ok" / "mine.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "suite.toml"], "no store, nothing run"


# --- hyperparameter ranges of the built-in plugins ----------------------------------------------
RANGES = [  # (algorithm, params, expected): failed in every run before, refused at validation now
    ("ppo", "learning_rate = nan", "algorithms[0].params.learning_rate: learning_rate must be a finite number (got nan)"),
    ("ppo", "gamma = 1.5", "algorithms[0].params.gamma: gamma must be in [0, 1] (got 1.5)"),
    ("sb3.ppo", "n_steps = -1", "algorithms[0].params.n_steps: n_steps must be >= 1 (got -1)"),
    ("sb3.ppo", "learning_rate = -0.001", "algorithms[0].params: learning_rate must be > 0, got -0.001"),
    ("sb3.ppo", 'clip_range = "lin_-0.2"', "algorithms[0].params: clip_range must be > 0, got 'lin_-0.2'"),
    ("dqn", "tau = 0.0", "algorithms[0].params.tau: tau must be in (0, 1] (got 0.0)"),
    ("sb3.dqn", "exploration_final_eps = 2.0", "exploration_final_eps must be in [0, 1] (got 2.0)"),
    ("q_learning", "alpha = 0.0", "algorithms[0].params.alpha: alpha must be in (0, 1] (got 0.0)"),
    ("grpo", "group_size = 0", "algorithms[0].params.group_size: group_size must be >= 1 (got 0)"),
]


@pytest.mark.parametrize("algorithm,params,expected", RANGES, ids=[f"{a}-{p}" for a, p, _ in RANGES])
def test_built_in_hyperparameter_ranges_are_checked_at_validation(tmp_path, capsys, algorithm, params, expected):
    env = "FrozenLake-v1" if algorithm == "q_learning" else "CartPole-v1"
    text = GOOD.replace('"toy.search"', f'"{algorithm}"\nparams = {{{params}}}').replace('"CartPole-v1"', f'"{env}"')
    assert expected in validate(tmp_path, capsys, text)


def test_shaper_ranges_are_checked_at_validation(tmp_path, capsys):
    text = GOOD + '[[shapers]]\nlabel = "n"\nsteps = [{name = "normalize", params = {gamma = -0.5}}]\n'
    assert "shapers[0].steps[0].params.gamma: gamma must be in [0, 1] (got -0.5)" in validate(tmp_path, capsys, text)


def test_a_suite_expanding_beyond_the_run_limit_is_refused(tmp_path, capsys):
    envs = "".join(f'[[environments]]\nname = "CartPole-v1"\nlabel = "e{i}"\n' for i in range(101))
    text = GOOD.replace("seeds = [0, 1]", f"seeds = {MAX_SEEDS}").split("[[environments]]")[0] + envs
    stderr = validate(tmp_path, capsys, text)
    assert f"the suite expands to 101,000 runs (algorithms x environments x shapings x seeds); the limit is {MAX_RUNS:,}" \
        in stderr

