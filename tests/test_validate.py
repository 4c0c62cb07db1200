"""Validation across datasets (training.validate): the sets' construction, and a smoke run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import cmu, pose2sim, validate
from training.evaluate import Clip, draw_starts
from training.h36m import project
from zedo_core.lifting import LiftConfig
from zedo_core.skeleton import JOINT_NAMES, bone_lengths

from conftest import REPO_ROOT, T_POSE, synthetic_camera_data

SHARED = REPO_ROOT.parent / "shared" / "data"


def _clip(frames: int = 4) -> Clip:
    poses3d, K, keypoints = synthetic_camera_data(frames)
    return Clip("synthetic", "group", np.arange(frames), poses3d, keypoints, np.ones((frames, 17)), K)


@pytest.mark.parametrize("convention", sorted(validate.CONVENTIONS))
def test_conventions_move_only_their_joints_within_their_ranges(convention):
    clip = _clip()
    out = validate.convention_clips([clip] * 30, convention, seed=0)
    entries = validate.CONVENTIONS[convention]
    listed = {j for joints, _, _ in entries for j in joints}
    for redrawn in out:
        moved = np.linalg.norm(redrawn.gt3d - clip.gt3d, axis=-1) > 1e-12
        assert moved[:, sorted(listed)].all() and not moved[:, [j for j in range(17) if j not in listed]].any()
        np.testing.assert_allclose(redrawn.keypoints, project(redrawn.gt3d, clip.K))  # 2D re-drawn alike
        for joints, anchors, ranges in entries:
            before = clip.gt3d[:, joints] - clip.gt3d[:, anchors]
            after = redrawn.gt3d[:, joints] - clip.gt3d[:, anchors]
            factor = np.linalg.norm(after, axis=-1) / np.linalg.norm(before, axis=-1)
            assert np.ptp(factor) < 1e-9  # one factor per clip, shared by mirror joints and frames
            assert any(low - 1e-9 <= factor[0, 0] <= high + 1e-9 for low, high in ranges)
    assert validate.convention_clips([clip], convention, 0)[0].gt3d.tolist() == out[0].gt3d.tolist()  # seeded


def test_noise_overrides_replace_fields_and_refuse_unknown_ones():
    assert validate.detector_noise(["outlier_rate=0", "outlier_px=(5.0, 6.0)"]) == validate.DetectorNoise(
        outlier_rate=0.0, outlier_px=(5.0, 6.0)
    )
    assert validate.detector_noise([]) == validate.DetectorNoise()
    with pytest.raises(SystemExit, match="DetectorNoise has no field 'jitter'"):
        validate.detector_noise(["jitter=2"])
    with pytest.raises(SystemExit, match="--noise sigma_px=two"):
        validate.detector_noise(["sigma_px=two"])


def test_detector_noise_rates():
    rng = np.random.default_rng(0)
    keypoints = np.zeros((4000, 17, 2))
    noise = validate.DetectorNoise()
    kp, conf = validate.corrupt(keypoints, np.ones((4000, 17)), noise, rng)
    missing = conf == 0
    assert abs(missing.mean() - noise.missing_rate) < 0.005
    assert np.isnan(kp[missing]).all() and np.isfinite(kp[~missing]).all()
    far = np.linalg.norm(kp, axis=-1) > 4 * noise.sigma_px
    assert 0.5 * noise.outlier_rate < far[~missing].mean() < 1.5 * noise.outlier_rate
    assert abs(np.std(kp[~missing & ~far]) - noise.sigma_px) < 0.3
    # Swaps: a left/right pair of knee+ankle or elbow+wrist exchanged on about swap_rate of frames.
    ramp = np.broadcast_to(np.arange(17.0)[None, :, None] * 1000, (4000, 17, 2))
    swaps_only = validate.DetectorNoise(0.0, 0.0, (0.0, 0.0), 0.02, 0.0)
    swapped, _ = validate.corrupt(ramp, np.ones((4000, 17)), swaps_only, rng)
    changed = (np.abs(swapped - ramp) > 1).any(axis=(1, 2))
    assert 0.01 < changed.mean() < 0.03
    assert ((swapped[changed][:, 5, 0] == 2000) | (swapped[changed][:, 12, 0] == 15000)).all()


def test_draw_starts_are_distinct_and_inside_every_item():
    draws = draw_starts([5, 0, 3, -2, 7], 15, np.random.default_rng(1))
    assert len(set(draws)) == 15 and all(start < [5, 0, 3, -2, 7][item] for item, start in draws)


def test_look_at_puts_the_target_on_the_optical_axis_upright():
    eye, target = np.array([3.0, -2.0, 2.5]), np.array([0.5, 1.0, 0.9])
    R = cmu.look_at(eye, target)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1.0)
    in_camera = R @ (target - eye)
    np.testing.assert_allclose(in_camera[:2], 0.0, atol=1e-12)
    assert in_camera[2] > 0
    assert (R @ np.array([0.0, 0.0, 1.0]))[1] < 0  # world up is image up (camera -y)
    K = cmu.intrinsics(1920, 1080, 60.0)
    assert np.isclose(K[0, 0], 960 / np.tan(np.radians(30))) and K[0, 2] == 960 and K[1, 2] == 540


def test_pose2sim_reference_joints_follow_the_layout_rules():
    names = ["RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Neck", "Head", "Nose",
             "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist"]  # fmt: skip
    rng = np.random.default_rng(0)
    markers = {n: rng.normal(size=(3, 3)) for n in names}
    joints = pose2sim.reference_joints(markers)
    mid_hips = 0.5 * (markers["RHip"] + markers["LHip"])
    mid_shoulders = 0.5 * (markers["RShoulder"] + markers["LShoulder"])
    np.testing.assert_allclose(joints[:, 0], mid_hips)
    np.testing.assert_allclose(joints[:, 8], mid_shoulders + 0.12 * (mid_shoulders - mid_hips))
    np.testing.assert_allclose(joints[:, 7], 0.5 * (joints[:, 0] + joints[:, 8]))
    np.testing.assert_allclose(joints[:, 9], markers["Nose"])
    np.testing.assert_allclose(joints[:, 10], markers["Head"])
    np.testing.assert_allclose(joints[:, 1], markers["RHip"])
    np.testing.assert_allclose(joints[:, 16], markers["RWrist"])
    del markers["Nose"]
    with pytest.raises(pose2sim.Pose2SimError, match="Nose"):
        pose2sim.reference_joints(markers)


def test_score_counts_groups_and_unlifted_frames():
    a, b = _clip(3), _clip(5)
    b = Clip(b.key, "other", b.frames, b.gt3d, b.keypoints, b.confidence, b.K)
    shifted = b.gt3d + np.array([0.0, 0.0, 0.2])  # a pure translation: MPJPE 0 after the pelvis alignment
    broken = shifted.copy()
    broken[0] = np.nan
    report = validate.score([a, b], [a.gt3d, broken])
    assert report["frames"] == 8 and report["invalid"] == 1 and report["mpjpe"] == 0.0 and report["pck150"] == 100.0
    assert report["groups"]["other"]["frames"] == 5 and report["groups"]["other"]["invalid"] == 1
    assert report["groups"]["group"]["invalid"] == 0
    assert set(report["per_joint"]) == set(JOINT_NAMES) and report["per_joint"]["head"]["mpjpe"] == 0.0
    moved = b.gt3d.copy()
    moved[:, 13] += np.array([0.1, 0.0, 0.0])  # the left wrist 100 mm off
    report = validate.score([b], [moved])
    assert report["per_joint"]["left_wrist"]["mpjpe"] == pytest.approx(100.0)
    assert report["per_joint"]["right_wrist"]["mpjpe"] == 0.0 and report["mpjpe"] == pytest.approx(100.0 / 17, abs=0.01)
    # The pelvis path: exact in clip `a`; clip `b` shifted 200 mm deeper is off in path, not in pose.
    assert validate.score([a], [a.gt3d])["root_path_mm"] == 0.0
    assert validate.score([b], [shifted])["root_path_mm"] > 1.0


def test_smoke_run_every_set_skips_absent_data(tiny_prior_file, tmp_path, capsys):
    absent = tmp_path / "nothing"
    out = tmp_path / "report.json"
    code = validate.main(["--prior", str(tiny_prior_file), "--frames", "2", "--set", "iterations=2",
                          "--h36m", str(absent), "--cmu", str(absent), "--pose2sim", str(absent), "--json", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["sets"] == {} and set(report["skipped"]) == set(validate.SET_NAMES)
    assert "skipped cmu: CMU: CMU data not found" in printed and "skipped pose2sim: Pose2Sim" in printed


def test_bad_set_override_is_one_line_error(tiny_prior_file):
    with pytest.raises(SystemExit, match="iterations"):
        validate.main(["--prior", str(tiny_prior_file), "--set", "iterations=-1", "--sets", "cmu", "--cmu", "/none"])
    with pytest.raises(SystemExit, match="no field"):
        validate.main(["--prior", str(tiny_prior_file), "--set", "iteration=1"])


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"validation data not found: {path}")


def test_smoke_run_on_the_shared_data(tiny_prior_file, h36m_dir, tmp_path, capsys):
    """The command end to end on very few frames (a tiny prior, 2 iterations: the figures mean
    nothing, the sets, table and report must all be there)."""
    _need(SHARED / "cmu" / cmu.POSES_FILE)
    _need(SHARED / "pose2sim" / pose2sim.TRC_FILE)
    out = tmp_path / "report.json"
    fast = ["--set", "iterations=2", "--set", "start_pool=1", "--set", "yaw_steps=4"]
    args = ["--prior", str(tiny_prior_file), "--frames", "3", *fast, "--video", "--clip-seconds", "0.2",
            "--h36m", str(h36m_dir), "--json", str(out)]  # fmt: skip
    assert validate.main(args) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert list(report["sets"]) == list(validate.SET_NAMES) and report["skipped"] == {}
    for name, entry in report["sets"].items():
        assert set(entry["results"]) == {"frame", "video"}
        for result in entry["results"].values():
            assert result["frames"] == (400 if name.startswith("pose2sim") else {"cmu": 6}.get(name, 5))
            assert result["mpjpe"] > 0 and 0 <= result["pck150"] <= 100
        assert any(line.startswith(f"{name} ") for line in printed.splitlines())
    for name in ("pose2sim", "pose2sim_clean"):
        assert set(report["sets"][name]["results"]["video"]["groups"]) == {"cam01", "cam02", "cam03", "cam04"}
    assert "  cam01" in printed
    assert report["sets"]["cmu"]["subjects"] == list(cmu.HELD_OUT_SUBJECTS)  # by default: no prior trained on them
    assert report["sets"]["s8"]["results"]["video"]["temporal_sigma"] == pytest.approx(2.0)  # 0.08 s at 25 fps


def test_s8_sets_share_their_frames_drawn_uniformly(h36m_dir):
    import argparse

    args = argparse.Namespace(sets=["s8", "s8_noise", "s8_mixed"], video=False, clip_seconds=2.0, h36m=str(h36m_dir),
                              subject="S8", frames=40, seed=3, cmu=None, pose2sim=None, noise=[])  # fmt: skip
    sets, skipped = validate.build_sets(args)
    assert skipped == {} and [s.name for s in sets] == args.sets
    base, noisy, mixed = (s.clips for s in sets)
    assert len(base) == 40 and all(len(c.frames) == 1 for c in base)
    drawn = [[(c.key, int(c.frames[0])) for c in clips] for clips in (base, noisy, mixed)]
    assert drawn[0] == drawn[1] == drawn[2]
    assert len({c.key.split("/")[1] for c in base}) > 10 and len({c.key.split("/")[2] for c in base}) == 4
    assert np.ptp([int(c.frames[0]) for c in base]) > 1000 and any(int(c.frames[0]) % 640 for c in base)
    assert not np.allclose(base[0].keypoints, noisy[0].keypoints) and np.array_equal(base[0].gt3d, noisy[0].gt3d)
    assert not np.allclose(base[0].gt3d, mixed[0].gt3d)
    again, _ = validate.build_sets(args)
    assert [c.key for c in again[0].clips] == [c.key for c in base]


def test_cmu_subjects_split_training_from_validation():
    with pytest.raises(ValueError, match="held out for validation"):
        cmu.training_poses(None, (1, 7))
    _need(SHARED / "cmu" / cmu.POSES_FILE)
    held_out = validate.cmu_clips(str(SHARED / "cmu"), 40, 1, 0, cmu.HELD_OUT_SUBJECTS)
    assert {cmu.subject_of(c.key.split("/")[1]) for c in held_out} <= set(cmu.HELD_OUT_SUBJECTS)
    assert len({c.key for c in held_out}) > 5
    poses = cmu.training_poses(str(SHARED / "cmu"))
    trials = cmu.load_trials(str(SHARED / "cmu"))
    assert len(poses) == sum(len(p) for t, p in trials.items() if cmu.subject_of(t) in cmu.TRAIN_SUBJECTS)
    assert np.abs(poses[:, 0]).max() == 0 and poses[:, 10, 2].mean() > 0.5  # pelvis-relative, head up (world Z up)
    with pytest.raises(ValueError, match="no CMU trials of subjects"):
        validate.cmu_clips(str(SHARED / "cmu"), 4, 1, 0, (99,))


def test_pose2sim_clean_lifts_the_reprojected_triangulation():
    """The clean twin of the Pose2Sim set: same frames and truth, every joint seen where the
    triangulation projects, so its error is the lifting's own."""
    import argparse

    _need(SHARED / "pose2sim" / pose2sim.TRC_FILE)
    args = argparse.Namespace(sets=["pose2sim", "pose2sim_clean"], video=False, clip_seconds=2.0, h36m=None,
                              subject="S8", frames=1, seed=0, cmu=None, pose2sim=None,
                              pose2sim_layout="coco", noise=[])  # fmt: skip
    (detected, clean), skipped = validate.build_sets(args)
    assert skipped == {} and [detected.name, clean.name] == args.sets
    for d, c in zip(detected.clips, clean.clips):
        assert c.key == d.key and np.array_equal(c.gt3d, d.gt3d) and np.array_equal(c.K, d.K)
        head = JOINT_NAMES.index("head")  # COCO has no head top: a perfect COCO detector neither
        given = np.arange(17) != head
        assert np.all(c.confidence[:, given] == 1.0) and np.isfinite(c.keypoints[:, given]).all()
        assert np.all(c.confidence[:, head] == 0.0) and np.isnan(c.keypoints[:, head]).all()
        u = c.gt3d[:, given] @ c.K.T
        np.testing.assert_allclose(c.keypoints[:, given], u[..., :2] / u[..., 2:], atol=1e-6)
        seen = d.confidence > 0
        assert np.median(np.linalg.norm(c.keypoints[seen] - d.keypoints[seen], axis=-1)) > 1.0  # not the detections


def test_pose2sim_read_as_body25b_feeds_the_head_top():
    """--pose2sim-layout body25b reads all 25 keypoints, as the CLI does: the head is BODY_25B's
    head top (the reference's head), every other joint as with COCO-17."""
    _need(SHARED / "pose2sim" / pose2sim.TRC_FILE)
    coco, info = validate.pose2sim_clips(None)
    body25b, info25 = validate.pose2sim_clips(None, "body25b")
    assert info["layout"] == "coco" and info25["layout"] == "body25b"
    head = JOINT_NAMES.index("head")
    others = np.arange(17) != head
    for c, b in zip(coco, body25b):
        assert np.array_equal(c.gt3d, b.gt3d)
        np.testing.assert_array_equal(c.keypoints[:, others], b.keypoints[:, others])
        assert np.all(c.confidence[:, head] == 0) and (b.confidence[:, head] > 0).mean() > 0.9
        seen = b.confidence[:, head] > 0
        u = b.gt3d[seen, head] @ b.K.T  # the detected head top lies near the reference head's projection
        assert np.median(np.linalg.norm(b.keypoints[seen, head] - u[:, :2] / u[:, 2:], axis=-1)) < 40


def test_known_body_comes_from_other_footage_of_the_same_person(tiny_prior_file, tmp_path):
    """--known-body: each Pose2Sim camera gets the body of the other cameras' lifts, each CMU
    subject the body of its clips in a second draw; the run records them (tiny prior: the
    figures mean nothing)."""
    _need(SHARED / "cmu" / cmu.POSES_FILE)
    _need(SHARED / "pose2sim" / pose2sim.TRC_FILE)
    out = tmp_path / "report.json"
    fast = ["--set", "iterations=2", "--set", "start_pool=1", "--set", "yaw_steps=4"]
    args = ["--prior", str(tiny_prior_file), "--frames", "4", *fast, "--known-body", "--sets", "cmu", "pose2sim", "--json", str(out)]
    assert validate.main(args) == 0
    report = json.loads(out.read_text())
    assert report["config"]["known_body"] is True
    p2s = report["sets"]["pose2sim"]["known_body"]
    assert set(p2s["bone_lengths_m"]) == {"cam01", "cam02", "cam03", "cam04"} and "other cameras" in p2s["source"]
    bodies = [np.array(b) for b in p2s["bone_lengths_m"].values()]
    assert all(b.shape == (16,) and (b > 0).all() for b in bodies) and not np.allclose(bodies[0], bodies[1])
    cmu_body = report["sets"]["cmu"]["known_body"]
    assert set(cmu_body["bone_lengths_m"]) <= {f"subject {s}" for s in cmu.HELD_OUT_SUBJECTS} and "seed 1" in cmu_body["source"]
    assert report["sets"]["pose2sim"]["results"]["frame"]["frames"] == 400


def test_each_person_is_lifted_with_their_own_body(tiny_prior):
    """lift_with_bodies: clips grouped by person, each group lifted with its body (and in the
    clips' order); a person without a body is lifted without one."""
    poses3d, K, kp = synthetic_camera_data(4)
    clips = [Clip(f"pose2sim/cam0{i}", f"cam0{i}", np.arange(1), poses3d[i : i + 1], kp[i : i + 1], np.ones((1, 17)), K)
             for i in (1, 2, 3)]  # fmt: skip
    vset = validate.ValidationSet("pose2sim", "test", clips, 60.0)
    body = bone_lengths(T_POSE) * 1.3
    config = LiftConfig(iterations=6, start_pool=1, yaw_steps=4, bone_length_pull=0.5)
    poses, _ = validate.lift_with_bodies(tiny_prior, vset, config, {"cam01": body, "cam03": body})
    error = [np.abs(bone_lengths(p[0]) - body).mean() for p in poses]
    assert error[0] < 0.5 * error[1] and error[2] < 0.5 * error[1]


def test_pose2sim_as_body25b_is_lifted_with_its_head_top_aimed_at(tiny_prior_file, tmp_path):
    """The layout's aimed joints reach the loop (and the report); --set aimed_joints overrides them."""
    _need(SHARED / "pose2sim" / pose2sim.TRC_FILE)
    fast = ["--set", "iterations=2", "--set", "start_pool=1", "--set", "yaw_steps=4"]
    common = ["--prior", str(tiny_prior_file), *fast, "--sets", "pose2sim", "--pose2sim-layout", "body25b"]
    assert validate.main([*common, "--json", str(tmp_path / "aimed.json")]) == 0
    assert validate.main([*common, "--set", "aimed_joints=()", "--json", str(tmp_path / "pinned.json")]) == 0
    aimed, pinned = (json.loads((tmp_path / f"{n}.json").read_text())["sets"]["pose2sim"] for n in ("aimed", "pinned"))
    assert aimed["aimed_joints"] == ["head"] and "aimed_joints" not in pinned
    assert aimed["results"]["frame"]["per_joint"]["head"] != pinned["results"]["frame"]["per_joint"]["head"]
