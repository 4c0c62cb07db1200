"""Cancelling an estimate: Esc never waits for the worker on the main thread, a polling worker
stops within 0.5 s, and progress names its phase."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np

from addon.helpers import EXAMPLE, make_clip
from zedo_blender import estimate
from zedo_blender.jobs import EngineJob, ModalRun
from zedo_blender.operators import ZEDO_OT_estimate_pose


def _stubborn_work(release: threading.Event):
    """Work that ignores cancel until ``release`` is set (a long engine step)."""

    def work(progress, should_cancel):
        progress(1, 10, "Lifting to 3D")
        release.wait(5.0)
        return "result"

    return work


def _polling_work(progress, should_cancel):
    for step in range(10_000):
        if should_cancel():
            raise RuntimeError("cancelled")
        progress(step, 10_000)
        time.sleep(0.005)
    return "result"


def test_escape_returns_at_once_even_when_the_worker_does_not_stop():
    release = threading.Event()
    run = ModalRun(EngineJob(_stubborn_work(release)).start(), give_up_s=10.0)
    started = time.perf_counter()
    run.escape()
    assert time.perf_counter() - started < 0.05
    assert run.tick() == ModalRun.RUNNING and run.status_text() == "Cancelling…"
    assert run.tick(now=run.job.cancel_time + 11.0) == ModalRun.ABANDONED  # stop waiting, drop the result
    release.set()
    run.job.wait()
    assert run.tick() == ModalRun.CANCELLED


def test_a_polling_worker_stops_within_half_a_second():
    run = ModalRun(EngineJob(_polling_work).start())
    time.sleep(0.1)
    assert run.tick() == ModalRun.RUNNING and run.job.fraction > 0
    run.escape()
    deadline = time.monotonic() + 0.5
    while run.tick() == ModalRun.RUNNING and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.tick() == ModalRun.CANCELLED


class _FakeWindowManager:
    def __init__(self) -> None:
        self.zedo_run = SimpleNamespace(running=True, progress=0.0, status="", cancelling=False)
        self.windows = []
        self.ended = False

    def progress_update(self, value):
        pass

    def progress_end(self):
        self.ended = True

    def event_timer_remove(self, timer):
        pass


class _FakeOperator:
    """The operator's modal code on plain Python objects (background Blender has no window)."""

    modal = ZEDO_OT_estimate_pose.modal
    _stop_ui = ZEDO_OT_estimate_pose._stop_ui
    _show_progress = ZEDO_OT_estimate_pose._show_progress

    def __init__(self, run: ModalRun) -> None:
        self._run, self._timer, self.reports = run, None, []

    def report(self, kind, text):
        self.reports.append((set(kind).pop(), text))


def test_modal_operator_escape_does_not_block():
    release = threading.Event()
    operator = _FakeOperator(ModalRun(EngineJob(_stubborn_work(release)).start()))
    context = SimpleNamespace(window_manager=_FakeWindowManager(), workspace=SimpleNamespace(status_text_set=lambda text: None))
    started = time.perf_counter()
    assert operator.modal(context, SimpleNamespace(type="ESC", value="PRESS")) == {"RUNNING_MODAL"}
    assert time.perf_counter() - started < 0.05
    assert context.window_manager.zedo_run.cancelling and context.window_manager.zedo_run.status == "Cancelling…"
    assert operator.modal(context, SimpleNamespace(type="TIMER", value="NOTHING")) == {"RUNNING_MODAL"}
    release.set()
    operator._run.job.wait()
    assert operator.modal(context, SimpleNamespace(type="TIMER", value="NOTHING")) == {"CANCELLED"}
    assert operator.reports == [("INFO", "Estimate cancelled: nothing was changed")]
    assert context.window_manager.ended and not context.window_manager.zedo_run.running


def _request(scene, tmp_path, frames: int, iterations: int = 200):
    """An estimate request for the example walk repeated to ``frames`` frames."""
    with np.load(EXAMPLE) as data:
        keypoints, confidence, K = data["keypoints"], data["confidence"], data["K"]
    reps = -(-frames // len(keypoints))
    keypoints = np.concatenate([keypoints, keypoints[::-1]] * reps)[:frames]
    confidence = np.concatenate([confidence, confidence[::-1]] * reps)[:frames]
    clip = make_clip(tmp_path, (1920, 1080))
    return estimate.EstimateRequest(
        clip=clip, tracking_object="", keypoints=keypoints, confidence=confidence, K=K, image_size=(1920, 1080),
        frame_start=1, actor_height=None, settings=estimate.EstimateSettings(iterations=iterations, device="cpu"), fps=30.0,
    )


def test_progress_names_each_phase(empty_scene, tmp_path):
    request = _request(empty_scene, tmp_path, frames=20, iterations=10)
    seen = []
    request.run(progress=lambda done, total, phase=None: seen.append((phase, done / max(total, 1))))
    assert seen[0] == ("Loading the pose prior", 0.0)
    lifting = [fraction for phase, fraction in seen if phase == "Lifting to 3D"]
    assert lifting and lifting[-1] == 1.0 and np.all(np.diff(lifting) >= 0)


def test_a_long_clip_cancels_within_half_a_second_in_every_phase(empty_scene, tmp_path):
    """A 1200-frame clip: progress moves during the start search (the first third of a window's
    progress), and a cancel sent then stops the engine within 0.5 s."""
    request = _request(empty_scene, tmp_path, frames=1200)
    job = EngineJob(request.run).start()
    try:
        deadline = time.monotonic() + 60.0
        while not (job.phase == "Lifting to 3D" and job.fraction > 0.0) and not job.done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert 0.0 < job.fraction < 1.0 / 3.0, f"no progress during the start search ({job.fraction})"
        job.cancel()
        job.wait(5.0)
        assert job.done and job.end_time - job.cancel_time < 0.5
        assert type(job.error).__name__ == "LiftCancelled"
    finally:
        job.cancel()
        job.wait()
