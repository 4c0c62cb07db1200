"""``benchmarks/clip_end.py`` (the clip-end measurement of docs/validation.md), and the walk's
last frames in video mode measured with it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from zedo_core.lifting import LiftConfig
from zedo_core.temporal import video_sigma

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "clip_end.py"


def load_script():
    spec = importlib.util.spec_from_file_location("clip_end", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_clip_end_reports_every_part_of_the_walk(tmp_path, capsys):
    clip_end = load_script()
    out = tmp_path / "clip_end.json"
    assert clip_end.main(["--set", "iterations=4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["video"] and report["set"] == ["iterations=4"]
    for part in ("first", "middle", "last"):
        row = report[part]
        assert 30 < row["true_pelvis_speed_mm"] < 50  # the walk's truth: about 40 mm a frame
        assert all(value >= 0 for value in row.values())
    assert "last frame's depth error" in capsys.readouterr().out


def test_clip_end_refuses_an_unknown_setting():
    with pytest.raises(SystemExit, match="no field 'speed'"):
        load_script().main(["--set", "speed=1"])


def test_the_walk_ends_without_a_lurch_in_video_mode():
    # The bundled walk's true poses are known to its last frame. Without steady_size, its last 8
    # frames ran at 1.57x the true pelvis speed and their depth error, after the clip's one scale,
    # ramped to 302 mm at the last frame (reports/clip_end_without_steady_size.json).
    clip_end = load_script()
    fps = float(np.load(clip_end.EXAMPLE)["fps"])
    report = clip_end.measure(LiftConfig(temporal_sigma=video_sigma(fps)))
    last, middle = report["last"], report["middle"]
    assert last["pelvis_speed_mm"] < 1.3 * last["true_pelvis_speed_mm"]
    assert last["scaled_depth_error_mm"] < 2 * max(middle["scaled_depth_error_mm"], 30.0)
    assert report["last_frame_scaled_depth_error_mm"] < 100.0
    assert report["mpjpe_mm"] < 50.0
