"""Run the engine on a worker thread so Blender's UI stays responsive; poll it from a modal timer."""

from __future__ import annotations

import threading
from typing import Any, Callable


class EngineJob:
    """Runs ``work(progress, should_cancel)`` on a daemon thread.

    ``progress(done, total)`` and ``should_cancel()`` are handed to the work function; the main
    thread reads :attr:`fraction`, :attr:`done`, :attr:`result` and :attr:`error` and calls
    :meth:`cancel`. Nothing here touches Blender data (only the main thread may)."""

    def __init__(self, work: Callable[[Callable[[int, int], None], Callable[[], bool]], Any]) -> None:
        self._work = work
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ZeDO estimate", daemon=True)
        self.fraction = 0.0
        self.result: Any = None
        self.error: BaseException | None = None

    def _progress(self, done: int, total: int) -> None:
        self.fraction = done / max(total, 1)

    def _run(self) -> None:
        try:
            self.result = self._work(self._progress, self._cancel.is_set)
        except BaseException as error:  # handed to the main thread, which reports it
            self.error = error

    def start(self) -> "EngineJob":
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self, wait: bool = True) -> None:
        """Ask the work to stop at its next check; by default wait until it has."""
        self._cancel.set()
        if wait:
            self._thread.join()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
