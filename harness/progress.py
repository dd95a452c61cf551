"""Live progress of a suite: runs done/total, env steps, ETA (rich; plain lines when not a TTY)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from harness.spec import RunSpec
from harness.tasks import Event


class SuiteProgress:
    def __init__(self, specs: Sequence[RunSpec], skipped: int = 0, enabled: bool = True):
        self.budgets = {s.run_key: s.budget for s in specs}
        self.titles = {s.run_key: s.title for s in specs}
        self.steps = dict.fromkeys(self.budgets, 0)
        self.total, self.done, self.failed, self.skipped = len(specs), 0, 0, skipped
        self.console = Console(stderr=True, soft_wrap=True, highlight=False)
        self.enabled = enabled
        self.started = time.monotonic()
        self._bar: Progress | None = None
        if enabled and self.console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=self.console,
            )
            self._task = self._bar.add_task(self._describe(), total=max(1, sum(self.budgets.values())))

    def __enter__(self) -> SuiteProgress:
        if self.enabled:
            note = f" ({self.skipped} already finished, skipped)" if self.skipped else ""
            self.console.print(f"harness: {self.total} run(s) to do{note}")
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar:
            self._bar.stop()

    def _describe(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"runs {self.done + self.failed}/{self.total}{failed}"

    def update(self, event: Event) -> None:
        if event.run_key not in self.steps:
            return
        if event.kind == "progress":
            self.steps[event.run_key] = min(event.step, self.budgets[event.run_key])
        elif event.kind in ("finished", "failed"):
            self.steps[event.run_key] = self.budgets[event.run_key]
            if event.kind == "finished":
                self.done += 1
            else:
                self.failed += 1
            self._log_end(event)
        if self._bar:
            self._bar.update(self._task, completed=sum(self.steps.values()), description=self._describe())

    def _log_end(self, event: Event) -> None:
        if not self.enabled:
            return
        title = self.titles[event.run_key]
        count = f"[{self.done + self.failed}/{self.total}]"
        if event.kind == "finished":
            score = (event.result or {}).get("return_mean")
            shown = f"eval return {score:.2f}" if score is not None else "finished"
            line = f"{count} {title}: {shown}  run {event.run_id}"
        else:
            line = f"{count} {title}: FAILED ({event.message})  run {event.run_id}"
        if self._bar:  # markup=False: labels such as "[bonus]" are text, not rich markup
            self._bar.console.print(line, markup=False)
        else:
            self.console.print(line + self._eta(), markup=False)

    def _eta(self) -> str:
        done = sum(self.steps.values())
        left = sum(self.budgets.values()) - done
        if done <= 0:
            return ""
        seconds = (time.monotonic() - self.started) / done * left
        return f"  (ETA {seconds / 60:.1f} min)" if left else ""
