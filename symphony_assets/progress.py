"""Progress of ``symphony run``, read from the runs' own Dagster events.

Each in-process run is given its run id before it starts (``run_snapshots(..., on_run=...)``); a
background thread polls the instance's event log for that run (the same records the UI shows) and
turns them into a :class:`RunProgress`: the step running, the days of the range that step has done
(per-partition log lines ``<codebase>|<day>: ...`` and the per-partition materialisation events), the
blobs analysed and reused (the blob cache's ``run_blobs_*`` metadata), elapsed time and an estimate of
the rest. Nothing is guessed from the clock alone.

Three ways to show it: a live line per codebase on a terminal (``rich``), plain lines when the output
is a pipe or a file (CI, logs), nothing at all (``--quiet``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import dagster as dg

log = logging.getLogger(__name__)

#: How often the event log is read while a run is going.
POLL_S = 0.25
#: Plain output repeats the line of a long step this often (seconds) when its day count moved.
HEARTBEAT_S = 15.0

_PARTITION_LOG = re.compile(r"^(?P<codebase>[^|\s]+)\|(?P<day>\d{4}-\d{2}-\d{2})\b")
_DONE = {"PIPELINE_SUCCESS": "done", "PIPELINE_FAILURE": "failed", "PIPELINE_CANCELED": "canceled"}


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class StepProgress:
    key: str
    index: int
    state: str = "running"  # running, retrying, done, failed
    days: set[str] = field(default_factory=set)  # days computed (log lines) or written
    written: set[str] = field(default_factory=set)  # days whose materialisation event arrived
    blobs: dict[str, tuple[int, int]] = field(default_factory=dict)  # per asset: (analysed, reused)


@dataclass
class RunProgress:
    """What one codebase's run has done so far, folded from its event records."""

    codebase: str
    days_total: int
    run_id: str | None = None
    state: str = "waiting"  # waiting, running, done, failed, canceled
    steps_total: int | None = None
    steps: dict[str, StepProgress] = field(default_factory=dict)
    current: str | None = None
    started: float | None = None
    finished: float | None = None
    cursor: str | None = None

    # -- folding events -------------------------------------------------------------------------

    def apply(self, entry: Any) -> list[str]:
        """Fold one ``EventLogEntry``; returns what changed, in words (for plain output)."""
        event = entry.dagster_event
        if event is None:
            return self._apply_log(entry)
        kind = event.event_type_value
        step_key = entry.step_key
        if kind == "PIPELINE_START":
            self.state, self.started = "running", entry.timestamp
            return [f"run {self.run_id} started: {self.steps_total or '?'} steps x {self.days_total} days"]
        elif kind in ("STEP_START", "STEP_RESTARTED") and step_key:
            if step_key not in self.steps or kind == "STEP_START":
                self.steps[step_key] = StepProgress(step_key, len(self.steps) + 1)
            step = self.steps[step_key]
            step.state, step.days, step.written = "running", set(), set()
            self.current = step_key
            what = "started" if kind == "STEP_START" else "restarted"
            return [f"{step_key} {what} (step {step.index}/{self.steps_total or '?'})"]
        elif kind == "STEP_UP_FOR_RETRY" and step_key in self.steps:
            self.steps[step_key].state = "retrying"
            return [f"{step_key} failed, will retry: {entry.user_message or event.message}"]
        elif kind == "ASSET_MATERIALIZATION" and step_key:
            self._apply_materialization(step_key, event)
        elif kind == "STEP_SUCCESS" and step_key in self.steps:
            step = self.steps[step_key]
            step.state = "done"
            return [f"{step_key} done: {len(step.days)}/{self.days_total} days{self._blob_words(step)}"]
        elif kind == "STEP_FAILURE" and step_key:
            step = self.steps.setdefault(step_key, StepProgress(step_key, len(self.steps) + 1))
            step.state = "failed"
            self.current = step_key
            return [f"{step_key} FAILED after {len(step.days)}/{self.days_total} days"]
        elif kind in _DONE:
            self.state, self.finished = _DONE[kind], entry.timestamp
        return []

    def _apply_log(self, entry: Any) -> list[str]:
        match = _PARTITION_LOG.match(entry.user_message or "")
        if match and match["codebase"] == self.codebase and entry.step_key in self.steps:
            self.steps[entry.step_key].days.add(match["day"])
        return []

    def _apply_materialization(self, step_key: str, event: Any) -> None:
        step = self.steps.setdefault(step_key, StepProgress(step_key, len(self.steps) + 1))
        mat = event.step_materialization_data.materialization
        if mat.partition:
            day = str(mat.partition).rpartition("|")[2]
            step.days.add(day)
            step.written.add(day)
        analysed, reused = mat.metadata.get("run_blobs_analysed"), mat.metadata.get("run_blobs_reused")
        if analysed is not None and reused is not None:
            # Every asset of a multi-asset step carries the same run totals: count them once per step.
            step.blobs["step"] = (int(analysed.value), int(reused.value))

    # -- what to show ---------------------------------------------------------------------------

    @property
    def blobs(self) -> tuple[int, int]:
        pairs = [pair for step in self.steps.values() for pair in step.blobs.values()]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)

    @property
    def days_done(self) -> int:
        """Days of the range done: by the step running, or, once the run ended, by every step."""
        if self.state == "done" and self.steps:
            # Steps that never report a day (asset checks evaluated once for the run) do not count.
            per_day = [s for s in self.steps.values() if s.days]
            return min((min(len(s.days), self.days_total) for s in per_day), default=0)
        step = self.steps.get(self.current or "")
        return min(len(step.days), self.days_total) if step else 0

    @property
    def fraction(self) -> float | None:
        """Share of (step, day) units done; None until the plan's step count is known."""
        if not self.steps_total or not self.days_total:
            return None
        if self.state == "done":
            return 1.0
        units = sum(
            self.days_total if s.state == "done" else min(len(s.days), self.days_total)
            for s in self.steps.values()
        )
        return min(1.0, units / (self.steps_total * self.days_total))

    def elapsed(self, now: float | None = None) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now or time.time()) - self.started

    def eta(self, now: float | None = None) -> float | None:
        fraction = self.fraction
        if self.state != "running" or not fraction:
            return None
        spent = self.elapsed(now)
        return spent * (1 - fraction) / fraction

    def _blob_words(self, step: StepProgress) -> str:
        if not step.blobs:
            return ""
        analysed, reused = step.blobs["step"]
        return f", blobs {analysed} analysed / {reused} reused"

    def line(self, now: float | None = None, width: int = 0) -> str:
        name = self.codebase.ljust(width)
        if self.state == "waiting":
            return f"{name}  waiting"
        steps_done = sum(1 for s in self.steps.values() if s.state == "done")
        if self.state == "running":
            step = self.steps.get(self.current or "")
            what = f"{self.current} ({step.state})" if step and step.state != "running" else self.current
            if step and step.state == "running" and len(step.days) >= self.days_total > len(step.written):
                what = f"{self.current} (writing Parquet, Postgres)"  # every day computed, IO manager at work
            head = f"{what or 'starting'}"
        else:
            head = {"done": "done", "failed": f"FAILED in {self.current}", "canceled": "canceled"}[self.state]
        analysed, reused = self.blobs
        parts = [
            f"{name}  {head}",
            f"{self.days_done}/{self.days_total} days",
            f"steps {steps_done}/{self.steps_total or '?'}",
            f"blobs {analysed} analysed / {reused} reused",
            f"{fmt_duration(self.elapsed(now))} elapsed",
        ]
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"~{fmt_duration(eta)} left")
        return "  ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        analysed, reused = self.blobs
        return {
            "codebase": self.codebase,
            "run_id": self.run_id,
            "state": self.state,
            "days_done": self.days_done,
            "days_total": self.days_total,
            "steps_done": sum(1 for s in self.steps.values() if s.state == "done"),
            "steps_total": self.steps_total,
            "blobs_analysed": analysed,
            "blobs_reused": reused,
            "elapsed_s": round(self.elapsed(), 3),
        }


class Display(Protocol):
    def update(self, runs: Sequence[RunProgress], run: RunProgress, changes: Sequence[str]) -> None: ...

    def close(self, runs: Sequence[RunProgress]) -> None: ...


class QuietDisplay:
    def update(self, runs: Sequence[RunProgress], run: RunProgress, changes: Sequence[str]) -> None:
        return None

    def close(self, runs: Sequence[RunProgress]) -> None:
        return None


class PlainDisplay:
    """One line per thing that happened: run start, step start and end, a heartbeat in long steps."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._last_beat: dict[str, tuple[float, int]] = {}

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def update(self, runs: Sequence[RunProgress], run: RunProgress, changes: Sequence[str]) -> None:
        for change in changes:
            self._write(f"{run.codebase}: {change}")
        now = time.time()
        beat_at, beat_days = self._last_beat.get(run.codebase, (now, -1))
        if changes:
            self._last_beat[run.codebase] = (now, run.days_done)
        elif run.state == "running" and now - beat_at >= HEARTBEAT_S and run.days_done != beat_days:
            self._write(run.line(now))
            self._last_beat[run.codebase] = (now, run.days_done)

    def close(self, runs: Sequence[RunProgress]) -> None:
        for run in runs:
            if run.state != "waiting":
                self._write(run.line())


class LiveDisplay:
    """A live line per codebase on a terminal; the final lines stay on screen."""

    def __init__(self, stream: IO[str], runs: Sequence[RunProgress], lock: threading.RLock) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self._text = Text
        self._runs = runs
        self._lock = lock
        self._width = max((len(r.codebase) for r in runs), default=0)
        self.live = Live(
            get_renderable=self._render,
            console=Console(file=stream, force_terminal=True),
            refresh_per_second=4,
            transient=False,
        )
        self.live.start()

    def _render(self) -> Any:
        now = time.time()
        with self._lock:  # the poller thread changes these runs; rich renders from its own thread
            text = "\n".join(run.line(now, self._width) for run in self._runs)
        return self._text(text, no_wrap=True, overflow="ellipsis")

    def update(self, runs: Sequence[RunProgress], run: RunProgress, changes: Sequence[str]) -> None:
        return None  # the Live thread re-renders from the shared state on its own

    def close(self, runs: Sequence[RunProgress]) -> None:
        if not any(run.run_id for run in runs):
            self.live.transient = True  # no snapshot run happened: leave no "waiting" line behind
        self.live.refresh()
        self.live.stop()


class Progress:
    """Watches the runs of one ``symphony run`` and keeps a :class:`Display` up to date.

    ``watch(codebase, run_id)`` is handed to :func:`symphony_assets.runner.run_snapshots` as ``on_run``;
    it is called just before each run starts. Use as a context manager: leaving it reads every run's
    remaining events, so the last state shown is the run's real end.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        codebases: Sequence[str],
        first: date,
        last: date,
        display: Display | Callable[[Sequence[RunProgress], threading.RLock], Display],
    ) -> None:
        days = (last - first).days + 1
        self.instance = instance
        self.runs = [RunProgress(name, days) for name in codebases]
        self._lock = threading.RLock()
        self.display = display(self.runs, self._lock) if callable(display) else display
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="symphony-progress", daemon=True)
        self._thread.start()

    def watch(self, codebase: str, run_id: str) -> None:
        with self._lock:
            for run in self.runs:
                if run.codebase == codebase and run.run_id is None:
                    run.run_id, run.state = run_id, "running"
                    return
            run = RunProgress(codebase, self.runs[0].days_total if self.runs else 1, run_id, "running")
            self.runs.append(run)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            for run in self.runs:
                if run.run_id is not None:
                    self._read(run)
                if run.state == "running" and run.finished is None and run.run_id is not None:
                    self._settle_from_storage(run)
            self.display.close(self.runs)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            with self._lock:
                for run in self.runs:
                    if run.run_id is not None and run.state in ("running", "waiting"):
                        self._read(run)

    def _read(self, run: RunProgress) -> None:
        """Fold every new event record of ``run``; one failed read only delays the display."""
        assert run.run_id is not None
        try:
            if run.steps_total is None:
                run.steps_total = self._steps_total(run.run_id)
            while True:
                conn = self.instance.get_records_for_run(run.run_id, cursor=run.cursor, limit=1000)
                changes: list[str] = []
                for record in conn.records:
                    changes += run.apply(record.event_log_entry)
                run.cursor = conn.cursor
                if changes or conn.records:
                    self.display.update(self.runs, run, changes)
                if not conn.has_more:
                    break
        except Exception as exc:  # noqa: BLE001 - progress is a view; a failed read must never stop the run
            log.debug("progress: reading events of run %s failed: %s", run.run_id, exc)

    def _steps_total(self, run_id: str) -> int | None:
        dagster_run = self.instance.get_run_by_id(run_id)
        if dagster_run is None or not dagster_run.execution_plan_snapshot_id:
            return None
        plan = self.instance.get_execution_plan_snapshot(dagster_run.execution_plan_snapshot_id)
        return len(plan.steps)

    def _settle_from_storage(self, run: RunProgress) -> None:
        """The run ended without its end event in storage (a crash): take the status the run has."""
        try:
            dagster_run = self.instance.get_run_by_id(run.run_id or "")
        except Exception as exc:  # noqa: BLE001 - as in _read: a view, never a reason to fail
            log.debug("progress: run %s: %s", run.run_id, exc)
            return
        if dagster_run is not None and dagster_run.is_finished:
            run.state = "done" if dagster_run.is_success else "failed"
            run.finished = time.time()


def display_for(
    mode: str, stream: IO[str] | None = None
) -> Callable[[Sequence[RunProgress], threading.RLock], Display]:
    """``quiet``, ``plain``, ``live`` or ``auto`` (live when ``stream`` is a terminal, else plain)."""
    out = stream or sys.stderr
    if mode == "auto":
        mode = "live" if out.isatty() else "plain"
    if mode == "quiet":
        return lambda runs, lock: QuietDisplay()
    if mode == "live":
        return lambda runs, lock: LiveDisplay(out, runs, lock)
    return lambda runs, lock: PlainDisplay(out)
