"""The batch converter against bad paths, faults and interruptions (issue 15): one line, the right
exit status (2 bad input, 1 failed write or missing device, 130 Ctrl-C, 143 SIGTERM), the user's
files as they were and no temporary files left. In-process, a few frames, one iteration."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from addon.helpers import EXAMPLE
from zedo_blender import batch


@pytest.fixture
def clip(tmp_path) -> Path:
    """Six frames of the example: a fast conversion."""
    with np.load(EXAMPLE) as data:
        arrays = {k: data[k] for k in ("K", "image_size", "fps")}
        arrays.update(keypoints=data["keypoints"][:6], confidence=data["confidence"][:6])
    path = tmp_path / "clip.npz"
    np.savez(path, **arrays)
    return path


def run(capsys, *args: object) -> tuple[int, list[str], str]:
    code = batch.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()], captured.out


def no_work(*args, **kwargs):
    raise AssertionError("the conversion started although the arguments were refused")


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path, clip, capsys, monkeypatch, addon):
    monkeypatch.setattr(batch, "prepare", no_work)
    monkeypatch.setattr(batch, "convert", no_work)
    coco = tmp_path / "clip.json"
    coco.write_text("[]")
    (tmp_path / "link.bvh").symlink_to(clip)
    openpose = tmp_path / "openpose"
    openpose.mkdir()
    (openpose / "v_000000000000_keypoints.json").write_text('{"people": []}')
    before = files(tmp_path)
    cases = {
        "--bvh is the input": ["--input", coco, "--output", tmp_path / "o.blend", "--bvh", coco],
        "--fbx is the input spelt differently": ["--input", clip, "--output", tmp_path / "o.blend", "--fbx", tmp_path / "x" / ".." / "clip.npz"],
        "--bvh is a link to the input": ["--input", clip, "--output", tmp_path / "o.blend", "--bvh", tmp_path / "link.bvh"],
        "another job's input": ["--input", clip, "--output", tmp_path / "o.blend", "--bvh", coco,
                                "--input", coco, "--output", tmp_path / "p.blend"],
        "a frame of an OpenPose folder": ["--input", openpose, "--output", tmp_path / "o.blend", "--bvh", openpose / "v_000000000001_keypoints.json"],
    }  # fmt: skip
    for name, args in cases.items():
        code, err, _ = run(capsys, *args)
        assert code == 2 and len(err) == 1 and err[0].startswith("error: "), (name, err)
        assert "refusing" in err[0], (name, err[0])
    code, err, _ = run(capsys, "--input", clip, "--output", tmp_path / "o.blend", "--fbx", tmp_path / "sub" / ".." / "o.blend")
    assert code == 2 and "two outputs" in err[0]
    assert files(tmp_path) == before


def test_an_output_that_is_a_folder_or_in_a_read_only_folder_is_refused(tmp_path, clip, capsys, monkeypatch, addon):
    monkeypatch.setattr(batch, "convert", no_work)
    (tmp_path / "x.blend").mkdir()
    code, err, _ = run(capsys, "--input", clip, "--output", tmp_path / "x.blend")
    assert code == 2 and len(err) == 1 and "is a folder" in err[0], err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode: check what the run does with a denied folder
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
        code, err, _ = run(capsys, "--input", clip, "--output", locked / "o.blend")
        assert code == 2 and len(err) == 1 and "not writable" in err[0], err
    finally:
        locked.chmod(0o755)


def test_negative_seed_is_a_usage_error(clip, capsys, addon):
    with pytest.raises(SystemExit) as info:
        batch.main(["--seed", "-1", "--input", str(clip), "--output", str(clip.with_name("o.blend"))])
    assert info.value.code == 2 and "--seed" in capsys.readouterr().err


def test_cuda_without_cuda_is_one_line_and_exit_1(tmp_path, clip, capsys, addon):
    """Without PyTorch (as in Blender) or without a CUDA device."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, err, _ = run(capsys, "--device", "cuda", "--iterations", "1", "--input", clip, "--output", tmp_path / "o.blend")
    assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and "cuda" in err[0], err
    assert not (tmp_path / "o.blend").exists()


def test_ctrl_c_is_cancelled_with_exit_130(tmp_path, clip, capsys, monkeypatch, addon):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "estimate", interrupted)
    code, err, _ = run(capsys, "--input", clip, "--output", tmp_path / "o.blend")
    assert code == 130 and err == ["cancelled"], err
    assert not (tmp_path / "o.blend").exists()


@pytest.mark.parametrize("fault, status, words", [
    ("EFBIG", 1, ["o.fbx", "cannot write the output", "File too large"]),
    ("ENOSPC", 1, ["o.fbx", "No space left on device"]),
    ("SIGTERM", 143, ["terminated"]),
    ("SIGINT", 130, ["cancelled"]),
])  # fmt: skip
def test_a_failed_or_interrupted_write_changes_no_file(tmp_path, clip, capsys, monkeypatch, addon, fault, status, words):
    """The .blend and .bvh are written, then the .fbx fails or a signal arrives: the earlier files
    of the same names are all kept as they were, and no temporary file is left."""
    outputs = {name: tmp_path / name for name in ("o.blend", "o.bvh", "o.fbx")}
    for name, path in outputs.items():
        path.write_bytes(f"the user's {name}".encode())
    before = files(tmp_path)
    real_write = batch._blender_write

    def write(operator, path, **options):
        if path.suffix == ".fbx":
            path.write_bytes(b"part of an fbx")
            if fault.startswith("SIG"):
                os.kill(os.getpid(), getattr(signal, fault))
            else:
                raise OSError(getattr(errno, fault), os.strerror(getattr(errno, fault)))
        real_write(operator, path, **options)

    monkeypatch.setattr(batch, "_blender_write", write)
    args = ["--iterations", "1", "--input", clip] + [x for name, path in outputs.items() for x in (f"--{name[2:] if name != 'o.blend' else 'output'}", path)]
    # Ctrl-C as in a terminal, also when the suite itself runs in the background (SIGINT ignored).
    sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, err, _ = run(capsys, *args)
    finally:
        signal.signal(signal.SIGINT, sigint)
    assert code == status and len(err) == 1, err
    for word in words:
        assert word in err[0], err[0]
    assert files(tmp_path) == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_real_write_error_is_one_line_and_exit_1(tmp_path, clip, capfd, addon):
    """Blender's own writers hit the file-size limit (as on a full disk): one line, exit 1, the
    earlier file kept, no temporary file, and none of Blender's report or traceback printed."""
    import resource

    import bpy

    out = tmp_path / "o.blend"
    out.write_bytes(b"the user's o.blend")
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    assert signal.getsignal(signal.SIGXFSZ) is signal.SIG_IGN  # Python's default: writes fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (4_000, limits[1]))
    try:  # the .blend writer does not notice the short write: the read-back check does
        code, err, _ = run(capfd, "--iterations", "1", "--input", clip, "--output", out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and "o.blend: cannot write the output" in err[0], err
    assert files(tmp_path) == {"clip.npz": clip.read_bytes(), "o.blend": b"the user's o.blend"}
    # The exporters (Python) raise inside the operator: the reason, without Blender's traceback.
    assert run(capfd, "--iterations", "1", "--input", clip, "--output", tmp_path / "ok.blend")[0] == 0
    assert any(o.type == "ARMATURE" for o in bpy.data.objects)
    for operator, name in ((bpy.ops.export_scene.fbx, "x.fbx"), (bpy.ops.export_anim.bvh, "x.bvh")):
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000, limits[1]))
        try:
            with pytest.raises(OSError, match="File too large"):
                batch._blender_write(operator, tmp_path / name)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        captured = capfd.readouterr()
        assert "Traceback" not in captured.err + captured.out


def test_an_output_below_a_file_is_refused(tmp_path, clip, capsys, addon):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    code, err, _ = run(capsys, "--iterations", "1", "--input", clip, "--output", blocker / "o.blend")
    assert code == 2 and len(err) == 1 and "not a folder" in err[0], err


def test_non_utf8_file_names(tmp_path, clip, capsys, addon):
    src = Path(os.fsdecode(bytes(tmp_path) + b"/clip\xff.npz"))
    src.write_bytes(clip.read_bytes())
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/out\xfe"))
    out, bvh = folder / "o\xe9.blend", Path(os.fsdecode(bytes(tmp_path) + b"/o\xfd.bvh"))
    code, err, stdout = run(capsys, "--iterations", "1", "--input", src, "--output", out, "--bvh", bvh)
    assert code == 0, err
    assert out.stat().st_size > 0 and "Frames: 6" in bvh.read_text()
    assert "clip\\xff.npz" in stdout
    assert sorted(os.listdir(tmp_path)) == sorted(["clip.npz", src.name, folder.name, bvh.name])
    assert os.listdir(folder) == [out.name]


def test_one_body_measures_the_inputs_then_lifts_each_with_it(tmp_path, clip, capsys, monkeypatch, addon):
    """--one-body: a first pass over every input, then each lifted with their median bone lengths;
    --body: a body file from the CLI's --save-body. Bad body options are one line, before any work."""
    from zedo_core.body import read_body, write_body

    bodies = []
    real_estimate = batch.estimate

    def spy(*args, bone_lengths=None, **kwargs):
        bodies.append(bone_lengths)
        return real_estimate(*args, bone_lengths=bone_lengths, **kwargs)

    monkeypatch.setattr(batch, "estimate", spy)
    code, err, out = run(capsys, "--iterations", 2, "--one-body", "--input", clip, "--output", tmp_path / "a.blend",
                         "--input", clip, "--output", tmp_path / "b.blend")  # fmt: skip
    assert code == 0, err
    assert "one body over 12 frames of 2 input(s)" in out and out.count("lifted with the one body of all inputs") == 2
    assert bodies[:2] == [None, None] and bodies[2] is not None and bodies[2] == bodies[3] and len(bodies) == 4

    body_file = tmp_path / "actor.json"
    write_body(body_file, np.asarray(bodies[2]) * 1.1)
    bodies.clear()
    code, err, out = run(capsys, "--iterations", 2, "--input", clip, "--body", body_file, "--output", tmp_path / "c.blend")
    assert code == 0, err
    assert f"lifted with the body of {body_file}" in out
    np.testing.assert_allclose(bodies[0], read_body(body_file))

    before = files(tmp_path)
    code, err, _ = run(capsys, "--one-body", "--input", clip, "--body", body_file, "--output", tmp_path / "d.blend")
    assert code == 2 and len(err) == 1 and "--one-body" in err[0] and "drop --body" in err[0]
    code, err, _ = run(capsys, "--input", clip, "--body", tmp_path / "none.json", "--output", tmp_path / "d.blend")
    assert code == 2 and len(err) == 1 and "no such body file" in err[0] and "none.json" in err[0]
    code, err, _ = run(capsys, "--input", clip, "--body", clip, "--output", tmp_path / "d.blend")
    assert code == 2 and len(err) == 1 and "not a readable JSON body file" in err[0]
    assert files(tmp_path) == before
