"""A circuit breaker: after many consecutive failures, calls fail fast until a cool-down has passed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from symphony_assets.resources.tracker.base import CircuitOpenError


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; lets one trial call through after ``cooldown_s``."""

    def __init__(self, threshold: int = 10, cooldown_s: float = 60.0, clock: Callable[[], float] = time.time):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None and self._clock() < self._opened_at + self.cooldown_s

    def before_call(self) -> None:
        with self._lock:
            if self._opened_at is None:
                return
            wait = self._opened_at + self.cooldown_s - self._clock()
            if wait > 0:
                raise CircuitOpenError(
                    f"tracker circuit open after {self._failures} consecutive failures; retry in {wait:.0f}s"
                )
            # half-open: let this call through; one more failure re-opens at once
            self._failures = self.threshold - 1
            self._opened_at = None

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self._clock()
