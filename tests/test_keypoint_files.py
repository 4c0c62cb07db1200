"""Keypoint files: engine .npz, COCO keypoint JSON, OpenPose JSON folders; one clear error each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zedo_core.inputs import InputError
from zedo_core.keypoint_files import KeypointSequence, read_keypoints
from zedo_core.layouts import LayoutError, to_h36m

from conftest import one_line_input_error, synthetic_camera_data

_, K, KP17 = synthetic_camera_data(3)


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def coco_triplets(kp: np.ndarray, v: np.ndarray) -> list[float]:
    return np.concatenate([kp, v[:, None]], axis=1).ravel().tolist()


# ---------------------------------------------------------------------------------------------- npz


def test_npz_round_trip(tmp_path):
    conf = np.full((3, 17), 0.8)
    conf[1, 4] = 0.0
    path = tmp_path / "clip.npz"
    np.savez(path, keypoints=KP17, confidence=conf, K=K, image_size=np.array([1000, 1002]), fps=np.array(25.0))
    seq = read_keypoints(path)
    assert isinstance(seq, KeypointSequence) and seq.layout == "h36m" and seq.num_frames == 3
    assert seq.keypoints.dtype == np.float64 and seq.confidence.dtype == np.float64
    expected = KP17.copy()
    expected[1, 4] = np.nan  # confidence 0 = missing
    np.testing.assert_array_equal(seq.keypoints, expected)
    np.testing.assert_array_equal(seq.confidence, conf)
    np.testing.assert_array_equal(seq.K, K)
    assert seq.image_size == (1000, 1002) and seq.fps == 25.0 and seq.source == str(path)


def test_npz_with_a_layout_key_and_defaults(tmp_path):
    coco = np.random.default_rng(0).uniform(100, 900, size=(4, 17, 2))
    path = tmp_path / "coco.npz"
    np.savez(path, keypoints=coco, layout="coco")
    seq = read_keypoints(path)
    assert seq.layout == "coco" and seq.image_size is None and seq.fps is None and seq.K is None
    np.testing.assert_array_equal(seq.confidence, 1.0)
    h36m = seq.to_h36m()
    assert h36m.layout == "h36m" and h36m.keypoints.shape == (4, 17, 2) and h36m.source == seq.source
    expected_kp, expected_conf = to_h36m(coco, layout="coco")
    np.testing.assert_array_equal(h36m.keypoints, expected_kp)
    np.testing.assert_array_equal(h36m.confidence, expected_conf)
    # Without the key, 17 joints are h36m unless the caller says; 25 are body25.
    np.savez(path, keypoints=coco)
    assert read_keypoints(path).layout == "h36m" and read_keypoints(path, layout="coco").layout == "coco"
    np.savez(tmp_path / "b25.npz", keypoints=np.zeros((2, 25, 2)))
    assert read_keypoints(tmp_path / "b25.npz").layout == "body25"


# ------------------------------------------------------------------------------------------- COCO


def test_coco_results_list(tmp_path):
    rng = np.random.default_rng(1)
    kp = rng.uniform(100, 900, size=(3, 17, 2))
    score = rng.uniform(0.2, 0.9, size=(3, 17))
    score[0, 3] = 0.0  # not detected
    score[2, 5] = 1.7  # a detector's score above 1: clipped
    results = [
        {"image_id": 7, "category_id": 1, "keypoints": coco_triplets(kp[2], score[2]), "score": 0.9},
        {"image_id": 3, "category_id": 1, "keypoints": coco_triplets(kp[0], score[0]), "score": 0.8},
        {"image_id": 3, "category_id": 1, "keypoints": coco_triplets(kp[0] + 300, score[0]), "score": 0.4},
        {"image_id": 5, "category_id": 1, "keypoints": coco_triplets(kp[1] + 50, score[1]), "score": 0.3},
        {"image_id": 5, "category_id": 1, "keypoints": coco_triplets(kp[1], score[1]), "score": 0.95},
    ]
    seq = read_keypoints(write_json(tmp_path / "results.json", results))
    assert seq.layout == "coco" and seq.num_frames == 3 and seq.image_size is None
    expected = kp.copy()
    expected[0, 3] = np.nan
    np.testing.assert_allclose(seq.keypoints, expected)
    np.testing.assert_allclose(seq.confidence, np.clip(score, 0, 1))
    assert seq.confidence[2, 5] == 1.0


def test_coco_dataset_dict(tmp_path):
    kp = np.random.default_rng(2).uniform(100, 600, size=(3, 17, 2))
    v = np.full((3, 17), 2.0)
    v[0, 0] = 0.0  # not labelled: missing
    v[2, 9] = 1.0  # labelled but occluded: an annotated point
    images = [  # listed out of order; frame10 comes after frame9 (natural order of file names)
        {"id": 30, "file_name": "frame10.jpg", "width": 640, "height": 480},
        {"id": 10, "file_name": "frame2.jpg", "width": 640, "height": 480},
        {"id": 20, "file_name": "frame9.jpg", "width": 640, "height": 480},
        {"id": 40, "file_name": "frame11.jpg", "width": 640, "height": 480},  # nobody: all missing
    ]
    annotations = [
        {"id": 1, "image_id": 10, "category_id": 1, "keypoints": coco_triplets(kp[0], v[0]), "num_keypoints": 16},
        {"id": 2, "image_id": 20, "category_id": 1, "keypoints": coco_triplets(kp[1], v[1]), "num_keypoints": 17},
        {"id": 3, "image_id": 20, "category_id": 1, "keypoints": [0.0] * 51, "num_keypoints": 0},
        {"id": 4, "image_id": 30, "category_id": 1, "keypoints": coco_triplets(kp[2], v[2]), "num_keypoints": 17},
        {"id": 5, "image_id": 30, "iscrowd": 1, "keypoints": [0] * 51, "num_keypoints": 0},
    ]
    data = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    seq = read_keypoints(write_json(tmp_path / "person_keypoints.json", data))
    assert seq.layout == "coco" and seq.num_frames == 4 and seq.image_size == (640, 480)
    np.testing.assert_allclose(seq.keypoints[:3][v > 0], kp[v > 0])
    assert np.isnan(seq.keypoints[0, 0]).all() and seq.confidence[0, 0] == 0.0
    np.testing.assert_array_equal(seq.confidence[:3], (v > 0).astype(float))
    assert np.isnan(seq.keypoints[3]).all() and (seq.confidence[3] == 0).all()


def test_coco_with_mixed_image_sizes_has_no_image_size(tmp_path):
    images = [{"id": 1, "width": 640, "height": 480}, {"id": 2, "width": 800, "height": 600}]
    annotations = [{"image_id": 2, "keypoints": [10, 20, 2] * 17}]
    seq = read_keypoints(write_json(tmp_path / "a.json", {"images": images, "annotations": annotations}))
    assert seq.image_size is None and seq.num_frames == 2 and (seq.confidence[0] == 0).all()


# --------------------------------------------------------------------------------------- OpenPose


def openpose_person(kp: np.ndarray, c: np.ndarray) -> dict:
    values = np.concatenate([np.nan_to_num(kp), c[:, None]], axis=1)
    values[c == 0] = 0.0  # OpenPose writes 0, 0, 0 for a joint it did not find
    return {"person_id": [-1], "pose_keypoints_2d": values.ravel().tolist(), "face_keypoints_2d": []}


def write_openpose(folder: Path, frames: list[list[dict]], name: str = "video_{:012d}_keypoints.json") -> Path:
    folder.mkdir(exist_ok=True)
    for f, people in enumerate(frames):
        write_json(folder / name.format(f), {"version": 1.3, "people": people})
    return folder


def test_openpose_folder_follows_one_person(tmp_path):
    rng = np.random.default_rng(3)
    base = rng.uniform(-60, 60, size=(25, 2))
    walker = [base + [200 + 20 * f, 400] for f in range(12)]  # walks right, towards the other one
    stander = 0.6 * base + [560, 410]  # smaller (further away), from frame 3 on
    frames = []
    for f in range(12):
        # Frame 0: the walker is the less confident one; later the bystander is.
        people = [openpose_person(walker[f], np.full(25, 0.4 if f == 0 else 0.8))]
        if f == 0:
            people.append(openpose_person(stander, np.full(25, 0.9)))
        elif f >= 3:
            people.append(openpose_person(stander, np.full(25, 0.5)))
        if f % 2:
            people.reverse()  # OpenPose's order carries no identity
        frames.append(people)
    frames[5] = []  # nobody found: all missing; tracking goes on from frame 4's choice
    lost = np.full(25, 0.8)
    lost[[0, 1, 2]] = 0.0
    frames[7] = [openpose_person(stander, np.full(25, 0.5)), openpose_person(walker[7], lost)]
    frames[9] = [openpose_person(stander, np.full(25, 0.5))]  # the walker missed: not the bystander instead
    frames[10].append({})  # Pose2Sim writes {} for "no person"
    folder = write_openpose(tmp_path / "json", frames)
    (folder / "notes.txt").write_text("not a frame")
    seq = read_keypoints(folder, layout="body25")
    assert seq.layout == "body25" and seq.num_frames == 12 and seq.source == str(folder)
    for f in range(12):
        if f in (5, 9):
            assert np.isnan(seq.keypoints[f]).all() and (seq.confidence[f] == 0).all(), f
            continue
        expected = walker[f].copy()
        if f == 7:
            expected[[0, 1, 2]] = np.nan
        np.testing.assert_allclose(seq.keypoints[f], expected, atol=1e-9, err_msg=f"frame {f}")
    assert (seq.confidence[7, :3] == 0).all() and seq.confidence[0, 5] == 0.4 and seq.confidence[1, 5] == 0.8
    assert len(seq.notes) == 1
    assert "several people in 8 frame(s)" in seq.notes[0] and "(10 of 12 frames)" in seq.notes[0]
    assert "1 frame(s) only have detections far from that person" in seq.notes[0]


def test_one_person_gets_no_note(tmp_path):
    kp = np.random.default_rng(6).uniform(100, 300, size=(25, 2))
    folder = write_openpose(tmp_path / "json", [[openpose_person(kp + 3 * f, np.ones(25))] for f in range(4)])
    assert read_keypoints(folder, layout="body25").notes == ()


@pytest.mark.parametrize(
    "name, numbers",
    [
        ("cam01.{:04d}.json", range(12)),  # Pose2Sim, RTMLib...
        ("video_{:012d}_keypoints.json", range(12)),  # OpenPose --write_json
        ("frame{}.json", range(12)),  # no zero padding: frame 10 after frame 9
        ("take2_cam3_{}_pose.json", range(100, 112)),  # fixed numbers around the frame number
    ],
)
def test_openpose_folder_with_any_file_names(tmp_path, name, numbers):
    kp = np.random.default_rng(7).uniform(100, 500, size=(12, 18, 2))
    folder = tmp_path / "json"
    folder.mkdir()
    for f in np.random.default_rng(8).permutation(12):  # written out of order
        write_json(folder / name.format(numbers[f]), {"people": [openpose_person(kp[f], np.ones(18))]})
    seq = read_keypoints(folder)
    assert seq.layout == "coco18" and seq.num_frames == 12 and seq.notes == ()
    np.testing.assert_allclose(seq.keypoints, kp)


def test_openpose_folder_keeps_its_timing_across_missing_files(tmp_path):
    kp = np.random.default_rng(9).uniform(100, 500, size=(10, 18, 2))
    folder = tmp_path / "json"
    folder.mkdir()
    for f in (0, 1, 2, 5, 6, 9):  # files 3, 4, 7 and 8 are missing
        write_json(folder / f"cam01.{f:04d}.json", {"people": [openpose_person(kp[f], np.ones(18))]})
    seq = read_keypoints(folder)
    assert seq.num_frames == 10
    for f in range(10):
        if f in (3, 4, 7, 8):
            assert np.isnan(seq.keypoints[f]).all() and (seq.confidence[f] == 0).all()
        else:
            np.testing.assert_allclose(seq.keypoints[f], kp[f])
    assert seq.notes == ("4 of frames 0-9 have no file (first: 3): kept as frames without a person, so the timing holds",)
    # Every other frame exported: one frame per file, no gaps.
    for f in (3, 4, 5, 6, 7, 8):
        (folder / f"cam01.{f:04d}.json").unlink(missing_ok=True)
    for f in (0, 2, 4, 6, 8):
        write_json(folder / f"cam01.{f:04d}.json", {"people": [openpose_person(kp[f], np.ones(18))]})
    (folder / "cam01.0001.json").unlink()
    (folder / "cam01.0009.json").unlink()
    seq = read_keypoints(folder)
    assert seq.num_frames == 5 and seq.notes == ()
    np.testing.assert_allclose(seq.keypoints, kp[[0, 2, 4, 6, 8]])
    # Numbers far apart (not frame numbers): one frame per file, with a note.
    for f in (8, 6, 4, 2):
        (folder / f"cam01.{f:04d}.json").rename(folder / f"cam01.{f**3:04d}.json")
    seq = read_keypoints(folder)
    assert seq.num_frames == 5 and "large gaps" in seq.notes[0]


def test_openpose_keypoints_json_files_win_over_other_json(tmp_path):
    kp = np.random.default_rng(10).uniform(100, 500, size=(3, 18, 2))
    folder = write_openpose(tmp_path / "json", [[openpose_person(kp[f], np.ones(18))] for f in range(3)])
    write_json(folder / "settings.json", {"model": "COCO"})  # not a frame: ignored beside *_keypoints.json
    np.testing.assert_allclose(read_keypoints(folder).keypoints, kp)


def test_body25b_is_detected_and_can_be_overridden(tmp_path):
    from test_layouts import KP17, from_h36m

    body = from_h36m(KP17, "body25b")
    folder = write_openpose(tmp_path / "json", [[openpose_person(frame, np.ones(25))] for frame in body])
    seq = read_keypoints(folder)
    assert seq.layout == "body25b" and len(seq.notes) == 1 and "read as BODY_25B" in seq.notes[0]
    assert "--layout body25" in seq.notes[0]
    forced = read_keypoints(folder, layout="body25")
    assert forced.layout == "body25" and forced.notes == ()
    # The same in an .npz without a layout key, and in COCO-style JSON with 25 keypoints.
    np.savez(tmp_path / "b.npz", keypoints=body)
    assert read_keypoints(tmp_path / "b.npz").layout == "body25b"
    np.savez(tmp_path / "b.npz", keypoints=body, layout="body25")
    assert read_keypoints(tmp_path / "b.npz").layout == "body25" and read_keypoints(tmp_path / "b.npz").notes == ()
    results = [{"image_id": f, "keypoints": coco_triplets(body[f], np.ones(25))} for f in range(len(body))]
    assert read_keypoints(write_json(tmp_path / "r.json", results)).layout == "body25b"


def test_openpose_frames_in_natural_order_and_coco18(tmp_path):
    kp = np.random.default_rng(4).uniform(100, 500, size=(11, 18, 2))
    folder = tmp_path / "json"
    folder.mkdir()
    for f in range(11):  # f"{f}" without zero padding: frame 10 after frame 9
        write_json(folder / f"clip_{f}_keypoints.json", {"people": [openpose_person(kp[f], np.ones(18))]})
    seq = read_keypoints(folder)
    assert seq.layout == "coco18"
    np.testing.assert_allclose(seq.keypoints, kp)
    assert seq.to_h36m().keypoints.shape == (11, 17, 2)


def test_single_openpose_file(tmp_path):
    kp = np.random.default_rng(5).uniform(100, 500, size=(25, 2))
    path = write_json(tmp_path / "one_keypoints.json", {"people": [openpose_person(kp, np.ones(25))]})
    seq = read_keypoints(path)
    assert seq.layout == "body25" and seq.num_frames == 1
    np.testing.assert_allclose(seq.keypoints[0], kp)


# ----------------------------------------------------------------------------------------- errors


def _openpose_lengths(folder: Path) -> Path:
    write_openpose(folder, [[{"pose_keypoints_2d": [1.0] * 75}], [{"pose_keypoints_2d": [1.0] * 54}]])
    return folder


BAD_FILES = {
    "missing file": (lambda d: d / "nowhere.json", ["nowhere.json", "no such file"]),
    "garbage npz": (lambda d: (d / "x.npz").write_bytes(b"\x00\x01junk") and d / "x.npz", ["x.npz", "not an .npz archive"]),
    "binary": (lambda d: (d / "x.bin").write_bytes(bytes(range(256))) and d / "x.bin", ["x.bin", "not a keypoint file"]),
    "not JSON": (lambda d: (d / "x.json").write_text("{'people': }") and d / "x.json", ["x.json", "not JSON", "line 1"]),
    "JSON of something else": (lambda d: write_json(d / "x.json", {"frames": []}), ["x.json", "'annotations'", "'people'"]),
    "npz without keypoints": (lambda d: np.savez(d / "x.npz", K=K) or d / "x.npz", ["x.npz", "missing key 'keypoints'", "K"]),
    "npz keypoints shape": (lambda d: np.savez(d / "x.npz", keypoints=np.zeros((3, 17))) or d / "x.npz",
                            ["x.npz", "'keypoints'", "(3, 17)"]),
    "npz joint count": (lambda d: np.savez(d / "x.npz", keypoints=np.zeros((3, 20, 2))) or d / "x.npz",
                        ["x.npz", "20 keypoints per frame match no layout"]),
    "npz zero frames": (lambda d: np.savez(d / "x.npz", keypoints=np.zeros((0, 17, 2))) or d / "x.npz",
                        ["x.npz", "zero frames"]),
    "npz layout key": (lambda d: np.savez(d / "x.npz", keypoints=KP17, layout="openpose") or d / "x.npz",
                       ["x.npz", "unknown layout 'openpose'"]),
    "npz layout vs count": (lambda d: np.savez(d / "x.npz", keypoints=KP17, layout="body25") or d / "x.npz",
                            ["x.npz", "(N, 25, 2)", "'body25'", "(3, 17, 2)"]),
    "npz confidence": (lambda d: np.savez(d / "x.npz", keypoints=KP17, confidence=np.full((3, 17), 2.0)) or d / "x.npz",
                       ["x.npz", "confidence", "[0, 1]", "frame 0"]),
    "npz K": (lambda d: np.savez(d / "x.npz", keypoints=KP17, K=np.eye(4)) or d / "x.npz", ["x.npz", "'K'", "(4, 4)"]),
    "npz image_size": (lambda d: np.savez(d / "x.npz", keypoints=KP17, image_size=[640]) or d / "x.npz",
                       ["x.npz", "'image_size'", "width, height"]),
    "npz fps": (lambda d: np.savez(d / "x.npz", keypoints=KP17, fps=-1.0) or d / "x.npz", ["x.npz", "'fps'", "positive"]),
    "coco no keypoints": (lambda d: write_json(d / "x.json", [{"image_id": 1, "bbox": [0, 0, 1, 1]}]),
                          ["x.json", "[0]", "no 'keypoints'"]),
    "coco length": (lambda d: write_json(d / "x.json", [{"image_id": 1, "keypoints": [1, 2, 1] * 16 + [1]}]),
                    ["x.json", "[0].keypoints", "49 values", "multiple of 3"]),
    "coco mixed lengths": (lambda d: write_json(d / "x.json", [{"image_id": 1, "keypoints": [1, 2, 1] * 17},
                                                               {"image_id": 2, "keypoints": [1, 2, 1] * 25}]),
                           ["x.json", "[1].keypoints", "25 joints", "expected 17"]),
    "coco text": (lambda d: write_json(d / "x.json", [{"image_id": 1, "keypoints": ["a"] * 51}]),
                  ["x.json", "[0].keypoints", "numbers"]),
    "coco no annotations": (lambda d: write_json(d / "x.json", {"images": [{"id": 1}], "annotations": []}),
                            ["x.json", "zero frames"]),
    "coco empty list": (lambda d: write_json(d / "x.json", []), ["x.json", "zero frames"]),
    "coco unknown image": (lambda d: write_json(d / "x.json", {"images": [{"id": 1}], "annotations": [
                               {"image_id": 9, "keypoints": [1, 2, 2] * 17}]}), ["x.json", "image_id 9"]),
    "coco 20 joints": (lambda d: write_json(d / "x.json", [{"image_id": 1, "keypoints": [1, 2, 1] * 20}]),
                       ["x.json", "20 keypoints per frame match no layout"]),
    "empty folder": (lambda d: (d / "empty").mkdir() or d / "empty", ["empty", "no .json files (it is empty)"]),
    "folder of images": (lambda d: (d / "im").mkdir() or (d / "im" / "f1.png").write_bytes(b"") or d / "im",
                         ["im", "no .json files (it holds 1 other file(s), e.g. f1.png)", "one JSON file per frame"]),
    "folder of other JSON": (lambda d: (d / "j").mkdir() or write_json(d / "j" / "a.json", {}) and d / "j",
                             ["a.json", "not an OpenPose keypoint file (no 'people' key)"]),
    "two cameras in one folder": (lambda d: write_openpose(d / "op", [[], []], "cam01.{:04d}.json")
                                  and write_openpose(d / "op", [[], []], "cam02.{:04d}.json"),
                                  ["op: cam01.0000.json and cam02.0000.json both have frame number 0", "one camera"]),
    "file without a number": (lambda d: write_openpose(d / "op", [[], []], "f{}.json")
                              and write_json(d / "op" / "last.json", {"people": []}) and d / "op",
                              ["last.json", "no frame number in the file name"]),
    "openpose bad file": (lambda d: write_openpose(d / "op", [[]]) and (d / "op" / "z9_keypoints.json").write_text("[")
                          and d / "op", ["z9_keypoints.json", "not JSON"]),
    "openpose person without pose": (lambda d: write_json(d / "a_keypoints.json", {"people": [{"face_keypoints_2d": []}]}),
                                     ["a_keypoints.json", "people[0] has no 'pose_keypoints_2d'"]),
    "openpose no people key": (lambda d: write_json(d / "a_keypoints.json", {"version": 1.3}) and d,
                               ["a_keypoints.json", "no 'people'"]),
    "openpose mixed lengths": (lambda d: _openpose_lengths(d / "op"), ["_000000000001_keypoints.json", "people[0]",
                                                                        "18 joints", "expected 25"]),
    "openpose nobody": (lambda d: write_openpose(d / "op", [[], []]), ["op", "no person in any of the 2 frame(s)"]),
    "openpose 15 joints": (lambda d: write_openpose(d / "op", [[{"pose_keypoints_2d": [1.0] * 45}]]),
                           ["op", "15 keypoints per frame match no layout"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_raise_one_clear_input_error(tmp_path, case):
    make, words = BAD_FILES[case]
    message = one_line_input_error(read_keypoints, make(tmp_path))
    for word in words:
        assert word in message, message


def test_layout_argument_must_fit_the_file(tmp_path):
    with pytest.raises(LayoutError, match="unknown layout 'foo'"):
        read_keypoints(tmp_path / "anything.json", layout="foo")
    np.savez(tmp_path / "c.npz", keypoints=KP17, layout="coco")
    with pytest.raises(InputError, match="the file's layout is 'coco' but 'h36m' was asked for"):
        read_keypoints(tmp_path / "c.npz", layout="h36m")
    path = write_json(tmp_path / "r.json", [{"image_id": 1, "keypoints": [1, 2, 1] * 17}])
    with pytest.raises(InputError, match="17 keypoints per person, but layout 'body25' has 25"):
        read_keypoints(path, layout="body25")
    assert read_keypoints(path, layout="h36m").layout == "h36m"


def test_raw_pose2sim_folder_follows_the_balancing_man(pose2sim_dir):
    """The raw OpenPose folder (a second person in the background of every frame, a third in one)
    gives the same keypoints as the folder Pose2Sim cleaned to the balancing man alone."""
    raw = read_keypoints(pose2sim_dir / "openpose" / "cam01_json")
    main = read_keypoints(pose2sim_dir / "openpose_main_person" / "cam01_json")
    assert raw.layout == main.layout == "body25b" and raw.num_frames == main.num_frames == 100
    np.testing.assert_array_equal(raw.keypoints, main.keypoints)
    np.testing.assert_array_equal(raw.confidence, main.confidence)
    assert any("several people in 100 frame(s)" in note and "(100 of 100 frames)" in note for note in raw.notes)
    assert not any("several people" in note for note in main.notes)
