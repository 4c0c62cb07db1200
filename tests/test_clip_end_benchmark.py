"""Smoke test of ``benchmarks/clip_end.py`` (the clip-end measurement of docs/validation.md)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

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
