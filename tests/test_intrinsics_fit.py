"""The focal-length fit's numpy machinery: the sparse acceleration operator, the residuals'
Jacobian, the bounded soft-L1 least squares (checked against scipy's ``least_squares``, which it
replaces, where scipy is installed) and that the engine runs where scipy is not."""

from __future__ import annotations

import ast
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT
from test_intrinsics import FOCAL, FPS, SIZE, _clip

import zedo_core.intrinsics as intrinsics
from zedo_core.intrinsics import estimate_focal


def _random_operator(rng: np.random.Generator, rows: int = 9, columns: int = 14):
    counts = rng.integers(0, 5, rows)
    counts[[0, 4, rows - 1]] = 0  # empty rows first, inside and last
    indices = np.concatenate([np.sort(rng.choice(columns, c, replace=False)) for c in counts]).astype(np.int64)
    data = rng.normal(size=len(indices))
    indptr = np.concatenate([[0], np.cumsum(counts)])
    dense = np.zeros((rows, columns))
    for row in range(rows):
        dense[row, indices[indptr[row] : indptr[row + 1]]] = data[indptr[row] : indptr[row + 1]]
    return intrinsics._RowOperator(indptr, indices, data, columns), dense


def test_row_operator_products_and_row_subsets_match_the_dense_matrix():
    rng = np.random.default_rng(0)
    operator, dense = _random_operator(rng)
    assert operator.shape == dense.shape and operator.nnz == np.count_nonzero(dense)
    for x in (rng.normal(size=(14, 3)), rng.normal(size=(14, 3, 5))):
        np.testing.assert_allclose(operator @ x, np.tensordot(dense, x, axes=1), rtol=1e-12, atol=1e-12)
    mask = rng.random(9) < 0.5
    mask[[0, 5]] = True, True
    for keep in (mask, np.array([8, 2, 2, 5, 0])):  # a mask, and indices in any order with repeats
        np.testing.assert_allclose(operator[keep] @ np.eye(14), dense[keep], rtol=0, atol=0)
    assert (operator[np.zeros(9, dtype=bool)] @ np.ones((14, 3))).shape == (0, 3)


def test_acceleration_operator_differentiates_a_quadratic_motion():
    seen = np.ones(200, dtype=bool)
    seen[140:165] = False  # a gap: windows reaching too little past it are left out
    index = np.array([5, 40, 100, 120, 130, 170, 190, 199])
    operator, support = intrinsics._acceleration_operator(index, seen, fps=50.0)
    assert np.all(np.diff(support) > 0) and np.all(np.isin(index, support)) and seen[support].all()
    t = np.arange(200) / 50.0
    positions = np.column_stack([1.5 * t**2 - t, -0.4 * t**2, np.zeros(200)])  # constant acceleration (3, -0.8, 0)
    acceleration = operator @ positions[support]
    answered = np.abs(acceleration).sum(axis=1) > 0
    # Frames near the clip's ends or the gap have no window.
    np.testing.assert_array_equal(answered, [False, True, True, True, False, False, False, False])
    np.testing.assert_allclose(acceleration[answered], np.tile([3.0, -0.8, 0.0], (3, 1)), atol=1e-9)
    no_fps, support = intrinsics._acceleration_operator(index, seen, fps=None)
    assert no_fps.nnz == 0 and no_fps.shape == (len(index), len(index)) and np.array_equal(support, index)


def _problems(monkeypatch, keypoints, fps) -> list[tuple]:
    """The ``(problem, width, starts, tol)`` of every fit ``estimate_focal`` runs on ``keypoints``."""
    calls, fit = [], intrinsics._fit

    def recording(problem, width, starts, tol=1e-8):
        calls.append((problem, width, [s.copy() for s in starts], tol))
        return fit(problem, width, starts, tol)

    monkeypatch.setattr(intrinsics, "_fit", recording)
    estimate_focal(keypoints, None, SIZE, fps=fps)
    monkeypatch.setattr(intrinsics, "_fit", fit)
    return calls


@pytest.mark.parametrize("fps", [None, FPS])
def test_jacobian_matches_finite_differences(monkeypatch, fps):
    problem, width, starts, _ = _problems(monkeypatch, _clip(15.0, lean=True, noise_px=2.0), fps)[1]
    for x in (starts[0], starts[0] + [0.3, 0.05, -0.1, 0.2]):
        residuals, jacobian = intrinsics._model(x, problem, jacobian=True)
        np.testing.assert_array_equal(residuals, intrinsics._residuals(x, problem))
        for k in range(4):
            step = np.zeros(4)
            step[k] = 1e-7  # small: feet near the horizon (the second start) make the residuals strongly curved
            central = (intrinsics._residuals(x + step, problem) - intrinsics._residuals(x - step, problem)) / 2e-7
            np.testing.assert_allclose(jacobian[:, k], central, rtol=0, atol=1e-7 * max(1.0, np.abs(central).max()))


def test_trust_region_step_solves_the_subproblem():
    rng = np.random.default_rng(1)
    for trial in range(20):
        A = rng.normal(size=(6, 4)) * np.array([1.0, 1e-2, 1.0, 30.0])  # ill-conditioned, like the fit's
        hessian, gradient = A.T @ A, rng.normal(size=4)
        if trial % 5 == 0:
            hessian[:, 0] = hessian[0, :] = 0.0  # singular
        for radius in (1e-3, 0.1, 10.0, 1e6):
            step = intrinsics._trust_region_step(gradient, hessian, radius)
            assert np.linalg.norm(step) <= 1.01 * radius
            # The optimality conditions: (H + lam I) s = -g with lam >= 0, and |s| = radius (to 1%) if lam > 0.
            lam = -step @ (hessian @ step + gradient) / (step @ step)
            assert lam >= -1e-9 * np.abs(hessian).max()
            np.testing.assert_allclose(hessian @ step + lam * step, -gradient, rtol=1e-6, atol=1e-6 * np.abs(gradient).max())
            if lam > 1e-9 * np.abs(hessian).max():
                assert 0.99 * radius <= np.linalg.norm(step) <= 1.01 * radius
    newton = intrinsics._trust_region_step(gradient, hessian + np.eye(4), 1e6)
    np.testing.assert_allclose(newton, -np.linalg.solve(hessian + np.eye(4), gradient))


def test_bounded_steps_stay_inside_the_bounds():
    rng = np.random.default_rng(2)
    lower, upper = np.array([5.0, -10, -10, -10]), np.array([9.0, 10, 10, 10])
    for _ in range(50):
        x = rng.uniform(lower, upper)
        x[0] = rng.choice([lower[0] + 1e-7, upper[0] - 1e-7, x[0]])
        A = rng.normal(size=(6, 4))
        step = intrinsics._bounded_step(x, 100 * rng.normal(size=4), A.T @ A, 50.0, lower, upper, held=np.zeros(4, bool))
        assert np.all(x + step > lower) and np.all(x + step < upper)


# --- against scipy's least_squares (the implementation this replaces) -------------------------


def _scipy_fit(problem, width, starts, tol=1e-8):
    """The former ``_fit``: scipy's bounded trust-region least squares, same loss and tolerances."""
    least_squares = pytest.importorskip("scipy.optimize").least_squares
    lo, hi = intrinsics._log_focal_bounds(width)
    best = None
    for x0 in starts:
        x0 = x0.copy()
        x0[0] = min(max(x0[0], lo + 1e-6), hi - 1e-6)
        result = least_squares(
            intrinsics._residuals, x0, bounds=([lo, -10, -10, -10], [hi, 10, 10, 10]), loss="soft_l1",
            f_scale=intrinsics.RESIDUAL_SCALE, args=(problem,), x_scale=0.3, ftol=tol, xtol=tol, gtol=tol,
        )
        if best is None or result.cost < best.cost:
            best = result
    return best


CLIPS = {
    "walking, 10 deg": dict(pitch_deg=10.0),
    "walking, 30 deg, noisy": dict(pitch_deg=30.0, noise_px=3.0, seed=3),
    "leaning, 5 deg, noisy": dict(pitch_deg=5.0, lean=True, noise_px=3.0, seed=5),
    "leaning, 20 deg": dict(pitch_deg=20.0, lean=True),
    "leaning, 10 deg, noisy (ill-conditioned without fps)": dict(pitch_deg=10.0, lean=True, noise_px=3.0, seed=10),
    "level camera": dict(pitch_deg=0.0, noise_px=1.0),
    "3 deg, noisy (looks level without fps)": dict(pitch_deg=3.0, noise_px=3.0, seed=3),
}


@pytest.mark.parametrize("name", list(CLIPS))
def test_same_estimates_as_scipy_least_squares(monkeypatch, name):
    pytest.importorskip("scipy.optimize")
    keypoints = _clip(frames=400, **CLIPS[name])
    for fps in (None, FPS):
        ours = estimate_focal(keypoints, None, SIZE, fps=fps)
        monkeypatch.setattr(intrinsics, "_fit", _scipy_fit)
        theirs = estimate_focal(keypoints, None, SIZE, fps=fps)
        monkeypatch.undo()
        assert ours.estimated == theirs.estimated
        assert ours.reason.split(" (")[0] == theirs.reason.split(" (")[0]
        assert ours.focal_px == pytest.approx(theirs.focal_px, rel=0.005)
        if ours.estimated:  # (the fallbacks' fits are undetermined: a level camera's pitch wanders by a few 0.1 deg)
            assert ours.pitch_deg == pytest.approx(theirs.pitch_deg, abs=0.05)
        if ours.uncertainty is not None and ours.uncertainty < 2 * intrinsics.MAX_LOG_UNCERTAINTY:
            assert ours.uncertainty == pytest.approx(theirs.uncertainty, abs=0.002)


def test_each_fit_reaches_scipys_minimum(monkeypatch):
    pytest.importorskip("scipy.optimize")
    for problem, width, starts, tol in _problems(monkeypatch, _clip(15.0, lean=True, noise_px=2.0), FPS):
        ours, theirs = intrinsics._fit(problem, width, starts, tol), _scipy_fit(problem, width, starts, tol)
        assert ours.cost <= theirs.cost * (1 + 10 * tol)
        assert ours.x[0] == pytest.approx(theirs.x[0], abs=1e-3)
        z = (intrinsics._residuals(ours.x, problem) / intrinsics.RESIDUAL_SCALE) ** 2
        scipys_cost = 0.5 * intrinsics.RESIDUAL_SCALE**2 * np.sum(2 * (np.sqrt(1 + z) - 1))
        assert ours.cost == pytest.approx(scipys_cost)


def test_a_fit_beyond_the_focal_bound_stops_on_it(monkeypatch):
    pytest.importorskip("scipy.optimize")
    problem, _, starts, _ = _problems(monkeypatch, _clip(15.0), None)[1]
    width = 0.7 * FOCAL / intrinsics.FOCAL_BOUNDS[1]  # the longest plausible focal length: 70% of the true one
    lo, hi = intrinsics._log_focal_bounds(width)
    ours, theirs = intrinsics._fit(problem, width, starts), _scipy_fit(problem, width, starts)
    assert hi - 1e-5 < ours.x[0] <= hi and hi - 0.01 < theirs.x[0] <= hi  # both end on the bound the gate checks
    assert ours.cost <= theirs.cost * (1 + 1e-6)
    np.testing.assert_allclose(ours.x[1:], theirs.x[1:], atol=1e-3)


# --- without scipy -----------------------------------------------------------------------------


def test_estimates_without_scipy(tmp_path):
    keypoints = _clip(15.0, lean=True, noise_px=2.0)
    np.save(tmp_path / "clip.npy", keypoints)
    code = (
        "import sys; sys.modules['scipy'] = None  # any import of scipy now fails\n"
        "import numpy as np, zedo_core.intrinsics as intrinsics\n"
        f"e = intrinsics.estimate_focal(np.load({str(tmp_path / 'clip.npy')!r}), None, {SIZE}, fps={FPS})\n"
        "print(repr(e.focal_px), e.estimated)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    focal, estimated = done.stdout.split()
    here = estimate_focal(keypoints, None, SIZE, fps=FPS)
    assert float(focal) == here.focal_px and estimated == "True"
    assert math.isclose(here.focal_px, FOCAL, rel_tol=0.05)


@pytest.mark.parametrize("package", ["zedo_core", "zedo_blender"])
def test_the_engine_and_addon_never_import_scipy(package):
    """Blender ships numpy but not scipy (training/ and tests/ may use it)."""
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
            assert not any(name.split(".")[0] == "scipy" for name in names), f"{where} imports scipy"
