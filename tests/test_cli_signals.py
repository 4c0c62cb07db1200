"""SIGTERM sent to `python -m zedo_core lift` in the middle of a run, as a job scheduler sends it:
one line, exit status 143, no file left behind (tests/test_fuzz_inputs.py covers SIGTERM and
Ctrl-C during the final write, in-process)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import numpy as np

from conftest import REPO_ROOT, synthetic_camera_data

_, K, KP = synthetic_camera_data(3)


def interrupted_run(tmp_path, prior_file, signum: int) -> tuple[int, str]:
    """Start a long run, wait for its progress bar (it has been lifting for a second), send ``signum``."""
    src = tmp_path / "in.npz"
    np.savez(src, keypoints=KP, K=K)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "zedo_core", "lift", str(src), str(tmp_path / "out.npz"), "--prior", str(prior_file),
               "--iterations", "1000000"]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while b"lifting [" not in seen:
            assert time.monotonic() < deadline and process.poll() is None, seen.decode(errors="replace")
            if select.select([process.stderr], [], [], 1.0)[0]:
                seen += os.read(process.stderr.fileno(), 4096)
        process.send_signal(signum)
        rest = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, (seen + rest).decode(errors="replace")


def test_sigterm_mid_run_ends_it_cleanly(tmp_path, tiny_prior_file):
    code, stderr = interrupted_run(tmp_path, tiny_prior_file, signal.SIGTERM)
    assert code == 143, stderr
    assert stderr.strip().splitlines()[-1] == "terminated by signal 15" and "Traceback" not in stderr, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz", "tiny_prior.npz"]
