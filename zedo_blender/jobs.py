"""Run the engine on a worker thread so Blender's UI stays responsive; poll it from a modal timer.

Nothing here touches Blender data (only the main thread may), and nothing here ever waits for
the worker on the main thread: cancelling sets a flag the engine polls, and the modal operator
keeps polling until the worker has stopped.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

Progress = Callable[..., None]  # progress(done, total, phase=None)


class EngineJob:
    """Runs ``work(progress, should_cancel)`` on a daemon thread.

    The work calls ``progress(done, total)`` (the engine does) or ``progress(done, total, phase)``
    to name the phase it is in, and polls ``should_cancel()``. The main thread reads
    :attr:`fraction`, :attr:`phase`, :attr:`done`, :attr:`result` and :attr:`error`."""

    def __init__(self, work: Callable[[Progress, Callable[[], bool]], Any]) -> None:
        self._work = work
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ZeDO estimate", daemon=True)
        self.fraction = 0.0
        self.phase = ""
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancel_time: float | None = None  # time.monotonic() of the cancel request
        self.end_time: float | None = None

    def _progress(self, done: int, total: int, phase: str | None = None) -> None:
        if phase is not None:
            self.phase = phase
        self.fraction = min(1.0, max(0.0, done / max(total, 1)))

    def _run(self) -> None:
        try:
            self.result = self._work(self._progress, self._cancel.is_set)
        except BaseException as error:  # handed to the main thread, which reports it
            self.error = error
        finally:
            self.end_time = time.monotonic()

    def start(self) -> "EngineJob":
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the work to stop at its next check; returns at once (never waits for the worker)."""
        if not self._cancel.is_set():
            self.cancel_time = time.monotonic()
            self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the work has stopped (scripts and tests; the UI never calls this)."""
        self._thread.join(timeout)


class ModalRun:
    """What the modal operator does with a job, without Blender: Esc asks the job to stop and
    returns at once; each timer tick says whether to keep running, and with what status text.

    ``give_up_s``: after a cancel, stop waiting for a worker that does not stop in that time (its
    result is dropped; it ends on its own in the background)."""

    RUNNING, FINISHED, FAILED, CANCELLED, ABANDONED = "running", "finished", "failed", "cancelled", "abandoned"

    def __init__(self, job: EngineJob, give_up_s: float = 10.0) -> None:
        self.job = job
        self.give_up_s = give_up_s

    def escape(self) -> None:
        self.job.cancel()

    def status_text(self) -> str:
        if self.job.cancelled:
            return "Cancelling…"
        return self.job.phase or "Estimating 3D pose"

    def tick(self, now: float | None = None) -> str:
        """The run's state after this timer tick (see the class constants)."""
        job = self.job
        if job.done:
            if job.cancelled:
                return self.CANCELLED
            return self.FAILED if job.error is not None else self.FINISHED
        if job.cancelled and (now if now is not None else time.monotonic()) - job.cancel_time > self.give_up_s:
            return self.ABANDONED
        return self.RUNNING
