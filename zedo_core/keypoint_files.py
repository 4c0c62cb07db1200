"""Read 2D keypoint files: the engine's ``.npz``, COCO keypoint JSON, OpenPose JSON folders.

    >>> seq = read_keypoints("openpose_json/")      # a folder of OpenPose JSON files, one per frame
    >>> seq.layout, seq.keypoints.shape             # ("body25b", (N, 25, 2))
    >>> seq.notes                                   # what the reader decided (layout, person, gaps)
    >>> kp17, conf17 = seq.to_h36m().keypoints, seq.to_h36m().confidence

Every problem with a file raises :class:`~zedo_core.inputs.InputError` with one line naming the
file and the key, shape or frame. Missing joints are NaN keypoints with confidence 0.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .inputs import InputError, real_array
from .layouts import LAYOUTS, check_keypoints, detect_layout, get_layout, layout_for_joint_count, to_h36m
from .safe_io import input_errors_only, read_npz

OPENPOSE_SUFFIX = "_keypoints.json"
# Following one person through an OpenPose folder: a detection continues a track when its mean
# joint distance to the track's last pose is below this fraction of that pose's size (diagonal of
# its box of seen joints) per frame since the track was last seen, at most TRACK_MAX_REACH. People
# rarely move half their size between two frames; two people rarely stand closer than that.
TRACK_MAX_STEP = 0.5
TRACK_MAX_REACH = 1.5
# Gaps in a folder's frame numbers are filled with empty frames (timing kept), unless the numbers
# would stretch the clip beyond this many times its files: then they are not frame numbers.
MAX_GAP_STRETCH = 4


@dataclass(frozen=True, eq=False)
class KeypointSequence:
    """2D keypoints of one person over ``N`` frames in a detector ``layout`` of ``J`` joints.

    ``keypoints`` ``(N,J,2)`` float64 pixels (NaN = missing), ``confidence`` ``(N,J)`` in [0, 1]
    (0 = missing), ``image_size`` ``(width, height)`` pixels, ``fps`` frames per second and ``K``
    ``(3,3)`` or ``(N,3,3)`` intrinsics when the file says, ``source`` the file or folder read,
    ``notes`` what the reader decided that the user should hear of (the layout it detected, which
    of several people it followed, frames without a file), one line each; ``aimed`` the joints to
    aim at rather than pin (``LiftConfig.aimed_joints``; set by :meth:`to_h36m` from the layout)."""

    keypoints: np.ndarray
    confidence: np.ndarray
    layout: str
    image_size: tuple[int, int] | None = None
    fps: float | None = None
    K: np.ndarray | None = None
    source: str = ""
    notes: tuple[str, ...] = ()
    aimed: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def to_h36m(self) -> KeypointSequence:
        """The same sequence on the prior's 17 joints (``layout="h36m"``), via :func:`layouts.to_h36m`."""
        keypoints, confidence = to_h36m(self.keypoints, self.confidence, self.layout)
        aimed = tuple(dict.fromkeys(self.aimed + get_layout(self.layout).aimed))
        return replace(self, keypoints=keypoints, confidence=confidence, layout="h36m", aimed=aimed)


@input_errors_only
def read_keypoints(path: str | Path, layout: str | None = None) -> KeypointSequence:
    """Read ``path``: an engine ``.npz``, a COCO keypoint JSON (results list or dataset dict), an
    OpenPose JSON file or a folder of OpenPose JSON files, one per frame, any names
    (``*_keypoints.json``, ``cam01.0000.json``...), in the order of the frame number in their names.

    ``layout`` names the keypoints' layout when the file does not (17 joints: "h36m" for ``.npz``,
    "coco" for COCO JSON; 25 joints: BODY_25 or BODY_25B, detected, see
    :func:`layouts.detect_layout`); it must agree with the file's joint count and with an
    ``.npz``'s ``layout`` key."""
    path = Path(path)
    if layout is not None:
        get_layout(layout)  # unknown names fail first, whatever the file
    if path.is_dir():
        return _read_openpose_folder(path, layout)
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    if zipfile.is_zipfile(path):
        return _read_npz(path, layout)
    if path.suffix.lower() == ".npz":
        raise InputError(f"{path}: cannot read as .npz: not an .npz archive (save inputs with numpy.savez)")
    data = _load_json(path)
    if isinstance(data, list):
        return _read_coco(path, data, layout)
    if isinstance(data, dict) and "annotations" in data:
        return _read_coco(path, data, layout)
    if isinstance(data, dict) and "people" in data:
        return _read_openpose_frames(path, [(path, data)], layout)
    raise InputError(
        f"{path}: not a keypoint file: expected a COCO results list, a COCO dict with 'annotations', "
        f"or an OpenPose dict with 'people'"
    )


# ---------------------------------------------------------------------------------------------- npz


def _read_npz(path: Path, layout: str | None) -> KeypointSequence:
    data = read_npz(path)
    if "keypoints" not in data:
        raise InputError(f"{path}: missing key 'keypoints' (found: {', '.join(sorted(data)) or 'none'})")
    keypoints = data["keypoints"]
    if "layout" in data:
        stored = stored_layout(path, data["layout"])
        if layout is not None and layout != stored:
            raise InputError(f"{path}: the file's layout is {stored!r} but {layout!r} was asked for")
        layout = stored
    detect = layout is None
    if detect:
        if keypoints.ndim != 3 or keypoints.shape[-1:] != (2,):
            raise InputError(f"{path}: key 'keypoints' must have shape (N, J, 2), got {keypoints.shape}")
        layout = _layout_for(path, keypoints.shape[1])
    kp, conf = _checked(path, keypoints, data.get("confidence"), layout)
    notes: tuple[str, ...] = ()
    if detect:
        layout, note = detect_layout(kp, conf)
        notes = (note,) if note else ()
    n = kp.shape[0]
    K = None
    if "K" in data:
        K = _numeric(path, "K", data["K"])
        if K.shape not in ((3, 3), (n, 3, 3)):
            raise InputError(f"{path}: key 'K' must have shape (3, 3) or ({n}, 3, 3), got {K.shape}")
    image_size = None
    if "image_size" in data:
        size = _numeric(path, "image_size", data["image_size"])
        if size.shape != (2,) or not np.isfinite(size).all() or (size <= 0).any() or (size != np.round(size)).any():
            raise InputError(f"{path}: key 'image_size' must be two positive whole numbers (width, height), got {size}")
        image_size = (int(size[0]), int(size[1]))
    fps = stored_fps(path, data["fps"]) if "fps" in data else None
    return KeypointSequence(kp, conf, layout, image_size, fps, K, str(path), notes)


def stored_layout(path: Path, value: np.ndarray) -> str:
    """The layout an ``.npz`` names in its ``layout`` key; InputError unless one known name."""
    if value.ndim != 0 or value.dtype.kind not in "US":
        raise InputError(f"{path}: key 'layout' must be one string, got {value.dtype} of shape {value.shape}")
    if str(value) not in LAYOUTS:
        raise InputError(f"{path}: key 'layout' names unknown layout {str(value)!r} (known: {', '.join(LAYOUTS)})")
    return str(value)


def stored_fps(path: Path, value: np.ndarray) -> float:
    """The frame rate an ``.npz`` gives in its ``fps`` key; InputError unless one positive number."""
    value = np.asarray(value)
    if value.size != 1 or value.dtype.kind not in "iuf" or not np.isfinite(value).all() or float(value.item()) <= 0:
        raise InputError(f"{path}: key 'fps' must be one positive number, got {value!r}")
    return float(value.item())


def _numeric(path: Path, key: str, value: np.ndarray) -> np.ndarray:
    return real_array(value, f"{path}: key '{key}'")


def _layout_for(path: Path, joints: int) -> str:
    try:
        return layout_for_joint_count(joints)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _checked(path: Path, keypoints: object, confidence: object | None, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """layouts.check_keypoints with the file named in the message."""
    try:
        return check_keypoints(keypoints, confidence, get_layout(layout))
    except InputError as exc:
        raise type(exc)(f"{path}: {exc}") from None


# --------------------------------------------------------------------------------------------- JSON


def _load_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a keypoint file (neither an .npz archive nor UTF-8 JSON)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a keypoint file") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"{path}: cannot read the JSON ({exc})") from None


def _triplets(where: str, values: object, joints: int | None) -> np.ndarray:
    """``[x, y, v] * J`` -> ``(J, 3)`` float64; InputError naming ``where`` when malformed."""
    if not isinstance(values, list):
        raise InputError(f"{where} must be a list of numbers [x, y, v, ...], got {type(values).__name__}")
    # Not np.array(values, float): it would turn true into 1.0 and "12" into 12.0 without a word.
    odd = [v for v in values if type(v) not in (int, float)]
    if odd:
        raise InputError(f"{where} must hold numbers only, got {json.dumps(odd[0])[:40]}")
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:
        raise InputError(f"{where} holds a number too large for a float") from None
    if array.ndim != 1 or array.size % 3:
        raise InputError(f"{where} has {array.size} values; expected x, y, v for each joint (a multiple of 3)")
    if joints is not None and array.size != 3 * joints:
        raise InputError(f"{where} has {array.size // 3} joints; expected {joints} like the entries before it")
    if not np.isfinite(array).all():
        raise InputError(f"{where} holds NaN or infinite values")
    return array.reshape(-1, 3)


def _natural_key(text: str) -> list[object]:
    """'frame10' after 'frame9'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _json_layout(path: Path, joints: int, layout: str | None, default_17: str) -> str:
    if layout is None:
        return default_17 if joints == 17 else _layout_for(path, joints)
    if get_layout(layout).num_joints != joints:
        raise InputError(
            f"{path}: {joints} keypoints per person, but layout {layout!r} has {get_layout(layout).num_joints}"
        )
    return layout


def _detected(requested: str | None, layout: str, kp: np.ndarray, conf: np.ndarray) -> tuple[str, tuple[str, ...]]:
    """The layout when the caller did not name one: the joint count's, or for 25 joints BODY_25
    or BODY_25B by geometry (with a note saying which and why)."""
    if requested is not None or kp.shape[1] != 25:
        return layout, ()
    layout, note = detect_layout(kp, conf)
    return layout, (note,) if note else ()


def _read_coco(path: Path, data: list | dict, layout: str | None) -> KeypointSequence:
    """COCO results ``[{"image_id", "keypoints", "score"}, ...]`` (the third value is a score) or a
    dataset ``{"images", "annotations"}`` (the third value is visibility: 0 = not labelled)."""
    results = isinstance(data, list)
    annotations = data if results else data["annotations"]
    images = [] if results else data.get("images", [])
    key = "" if results else "annotations"
    if not isinstance(annotations, list) or not isinstance(images, list):
        raise InputError(f"{path}: 'annotations' and 'images' must be lists")
    frames: list[object] = []  # image ids in frame order
    image_size = None
    if images:
        for i, image in enumerate(images):
            if not isinstance(image, dict) or "id" not in image:
                raise InputError(f"{path}: images[{i}] has no 'id'")
        by_name = all("file_name" in image for image in images)
        ordered = sorted(images, key=lambda im: _natural_key(str(im["file_name"])) if by_name else _sort_id(im["id"]))
        frames = [image["id"] for image in ordered]
        sizes = {(image.get("width"), image.get("height")) for image in images}
        if len(sizes) == 1:
            w, h = sizes.pop()
            if isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0:
                image_size = (int(w), int(h))
    joints = None
    people: dict[object, list[tuple[float, np.ndarray]]] = {}  # image id -> (rank, (J,3)) candidates
    for i, entry in enumerate(annotations):
        where = f"{path}: {key}[{i}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where} must be an object with 'image_id' and 'keypoints'")
        for required in ("image_id", "keypoints"):
            if required not in entry:
                raise InputError(f"{where} has no '{required}'")
        if entry.get("iscrowd"):
            continue
        triplets = _triplets(f"{where}.keypoints", entry["keypoints"], joints)
        joints = len(triplets)
        people.setdefault(_hashable(entry["image_id"]), []).append((_rank(entry, triplets), triplets))
    if joints is None:
        raise InputError(f"{path}: zero frames (no {'entries' if results else 'annotations with keypoints'})")
    if images:
        unknown = set(people) - {_hashable(f) for f in frames}
        if unknown:
            first = sorted(map(str, unknown))[0]
            raise InputError(f"{path}: annotations refer to image_id {first}, which 'images' lacks")
        frames = [_hashable(f) for f in frames]
    else:
        frames = sorted(people, key=_sort_id)
    requested, layout = layout, _json_layout(path, joints, layout, "coco")
    flags = not results and all(np.isin(t[:, 2], (0, 1, 2)).all() for group in people.values() for _, t in group)
    kp = np.full((len(frames), joints, 2), np.nan)
    conf = np.zeros((len(frames), joints))
    for f, image_id in enumerate(frames):
        if image_id not in people:
            continue  # no person in this frame: all missing
        best = max(people[image_id], key=lambda candidate: candidate[0])[1]
        # Dataset visibility flags: 1 (labelled, occluded) and 2 (visible) are both annotated points.
        score = (best[:, 2] > 0).astype(np.float64) if flags else np.clip(best[:, 2], 0.0, 1.0)
        seen = score > 0
        kp[f, seen] = best[seen, :2]
        conf[f, seen] = score[seen]
    kp, conf = _checked(path, kp, conf, layout)
    layout, notes = _detected(requested, layout, kp, conf)
    return KeypointSequence(kp, conf, layout, image_size, None, None, str(path), notes)


def _hashable(value: object) -> object:
    return value if isinstance(value, (int, str)) else json.dumps(value)


def _sort_id(value: object) -> tuple[int, object]:
    """Numbers in numeric order, then anything else by its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, _natural_key(str(value)))


def _rank(entry: dict, triplets: np.ndarray) -> tuple[float, int, float]:
    """Which of several people in a frame to keep: highest score, then most labelled keypoints."""
    score = entry.get("score")
    score = float(score) if isinstance(score, (int, float)) else 0.0
    return (score, int((triplets[:, 2] > 0).sum()), float(triplets[:, 2].sum()))


def is_openpose_file(path: str | Path) -> bool:
    """Whether ``path`` is a JSON file holding one OpenPose frame (a dict with 'people')."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and "people" in data


def _frame_files(folder: Path) -> list[Path]:
    """The folder's frame files: its ``*_keypoints.json`` files when it has any (OpenPose's names;
    other JSON beside them is left alone), else every ``.json`` file."""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        raise InputError(f"{folder}: cannot read the folder ({exc.strerror or exc})") from None
    files = [p for p in entries if p.name.endswith(OPENPOSE_SUFFIX)]
    if not files:
        files = [p for p in entries if p.suffix.lower() == ".json"]
    if not files:
        found = f"it holds {len(entries)} other file(s), e.g. {entries[0].name}" if entries else "it is empty"
        raise InputError(
            f"{folder}: no .json files ({found}); expected OpenPose --write_json output, one JSON file per frame"
        )
    return files


def _frame_numbers(files: list[Path]) -> list[int]:
    """The frame number in each file's name: the last number that differs between the names
    (``cam01.0007.json`` -> 7, ``run2_000000000007_keypoints.json`` -> 7); the last number of each
    name when the names are not alike. InputError for a name without a number among several."""
    numbers = [re.findall(r"\d+", p.name) for p in files]
    if len(files) == 1:
        return [int(numbers[0][-1]) if numbers[0] else 0]
    for file, found in zip(files, numbers):
        if not found:
            raise InputError(f"{file}: no frame number in the file name (frames are ordered by the number in their names)")
    shape = {len(found) for found in numbers}
    texts = {tuple(re.split(r"\d+", p.name)) for p in files}
    position = -1
    if len(shape) == 1 and len(texts) == 1:  # alike names: the last numbered field that changes
        varying = [i for i in range(shape.pop()) if len({int(found[i]) for found in numbers}) > 1]
        position = varying[-1] if varying else -1
    return [int(found[position]) for found in numbers]


def _read_openpose_folder(folder: Path, layout: str | None) -> KeypointSequence:
    files = _frame_files(folder)
    numbers = _frame_numbers(files)
    order = sorted(range(len(files)), key=lambda i: (numbers[i], _natural_key(files[i].name)))
    files, numbers = [files[i] for i in order], [numbers[i] for i in order]
    for a, b, n, m in zip(files, files[1:], numbers, numbers[1:]):
        if n == m:
            raise InputError(
                f"{folder}: {a.name} and {b.name} both have frame number {n}; keep one camera's frames per folder"
            )
    notes = []
    slots = list(range(len(files)))
    if len(files) > 1:
        step = int(np.gcd.reduce(np.diff(numbers)))
        span = (numbers[-1] - numbers[0]) // step + 1
        if span > len(files) and span <= MAX_GAP_STRETCH * len(files):
            slots = [(n - numbers[0]) // step for n in numbers]
            missing = sorted(set(range(span)) - set(slots))
            notes.append(
                f"{span - len(files)} of frames {numbers[0]}-{numbers[-1]} have no file (first: "
                f"{numbers[0] + step * missing[0]}): kept as frames without a person, so the timing holds"
            )
        elif span > len(files):
            notes.append(f"the numbers in the file names leave large gaps: read as {len(files)} consecutive frames")
    frames = []
    for file in files:
        data = _load_json(file)
        if not isinstance(data, dict) or "people" not in data:
            raise InputError(f"{file}: not an OpenPose keypoint file (no 'people' key)")
        frames.append((file, data))
    sequence = _read_openpose_frames(folder, frames, layout, slots[-1] + 1 if slots else 0, slots)
    return replace(sequence, notes=sequence.notes + tuple(notes))


def _read_openpose_frames(
    source: Path, frames: list[tuple[Path, dict]], layout: str | None, length: int | None = None,
    slots: list[int] | None = None,
) -> KeypointSequence:
    """One person per frame (see :func:`_follow`). ``frames[i]`` lands on frame ``slots[i]`` of
    ``length`` (default: one frame each, in order)."""
    length = len(frames) if length is None else length
    slots = list(range(len(frames))) if slots is None else slots
    joints = None
    candidates: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(length)]
    for (file, data), slot in zip(frames, slots):
        people = data["people"]
        if not isinstance(people, list):
            raise InputError(f"{file}: 'people' must be a list")
        for p, person in enumerate(people):
            where = f"{file}: people[{p}]"
            if person == {}:
                continue  # Pose2Sim writes {} for a frame without its person
            if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
                raise InputError(f"{where} has no 'pose_keypoints_2d'")
            values = person["pose_keypoints_2d"]
            if isinstance(values, list) and not values:
                continue  # OpenPose writes [] when body keypoints were not computed
            triplets = _triplets(f"{where}.pose_keypoints_2d", values, joints)
            joints = len(triplets)
            person_kp, person_conf = _openpose_person(triplets)
            if (person_conf > 0).any():
                candidates[slot].append((person_kp, person_conf))
    if joints is None:
        raise InputError(f"{source}: no person in any of the {len(frames)} frame(s)")
    requested, layout = layout, _json_layout(source, joints, layout, "coco")
    kp = np.full((length, joints, 2), np.nan)
    conf = np.zeros((length, joints))
    choice, note = _follow(candidates)
    for f, person in enumerate(choice):
        if person is not None:
            kp[f], conf[f] = candidates[f][person]
    kp, conf = _checked(source, kp, conf, layout)
    layout, notes = _detected(requested, layout, kp, conf)
    return KeypointSequence(kp, conf, layout, None, None, None, str(source), notes + ((note,) if note else ()))


def _openpose_person(triplets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(J,3)`` -> keypoints ``(J,2)`` (NaN where missing: OpenPose writes 0, 0, 0) and confidence."""
    score = np.clip(triplets[:, 2], 0.0, 1.0)
    kp = np.where((score > 0)[:, None], triplets[:, :2], np.nan)
    return kp, score


def _size(kp: np.ndarray) -> float:
    """Diagonal of the box around a pose's seen joints (pixels, at least 1)."""
    seen = kp[np.isfinite(kp[:, 0])]
    return max(float(np.linalg.norm(seen.max(axis=0) - seen.min(axis=0))), 1.0) if len(seen) else 1.0


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean pixel distance over joints seen in both; centroid distance when they share none."""
    both = np.isfinite(a[:, 0]) & np.isfinite(b[:, 0])
    if both.any():
        return float(np.linalg.norm(a[both] - b[both], axis=-1).mean())
    return float(np.linalg.norm(np.nanmean(a, axis=0) - np.nanmean(b, axis=0)))


def _follow(candidates: list[list[tuple[np.ndarray, np.ndarray]]]) -> tuple[list[int | None], str]:
    """Which detection of each frame is the clip's main person, and a note when others were seen.

    Detections are linked into tracks frame by frame (greedy, nearest first): a detection continues
    a track when its mean joint distance to the track's last pose is under :data:`TRACK_MAX_STEP`
    of that pose's size per frame since the track was last seen (at most :data:`TRACK_MAX_REACH`),
    else it starts a new track. The main person is the track with the most
    evidence: the sum over its frames of (sum of joint confidences) x (size), so the person seen
    longest, most confidently and largest; a background passer-by scores low on all three."""
    if all(len(people) <= 1 for people in candidates):  # one person: every detection is theirs
        return [0 if people else None for people in candidates], ""
    tracks: list[dict] = []  # {"last": (J,2) pose, "frames": {frame: detection}, "score": float}
    crowded = 0
    for f, people in enumerate(candidates):
        crowded += len(people) > 1
        pairs = sorted(
            (_distance(track["last"], kp) / _size(track["last"]), t, d)
            for t, track in enumerate(tracks)
            for d, (kp, _) in enumerate(people)
        )
        taken_tracks, taken_people = set(), set()
        for step, t, d in pairs:
            reach = min(TRACK_MAX_STEP * (f - max(tracks[t]["frames"])), TRACK_MAX_REACH)
            if step >= reach or t in taken_tracks or d in taken_people:
                continue
            taken_tracks.add(t)
            taken_people.add(d)
            _extend(tracks[t], f, d, people[d])
        for d, person in enumerate(people):
            if d not in taken_people:
                tracks.append({"frames": {}, "score": 0.0})
                _extend(tracks[-1], f, d, person)
    choice: list[int | None] = [None] * len(candidates)
    if not tracks:
        return choice, ""
    main = max(tracks, key=lambda track: track["score"])
    for f, d in main["frames"].items():
        choice[f] = d
    dropped = sum(1 for f, people in enumerate(candidates) if people and choice[f] is None)
    notes = []
    if crowded:
        notes.append(
            f"several people in {crowded} frame(s): following the one seen longest, most confidently and largest "
            f"({len(main['frames'])} of {len(candidates)} frames)"
        )
    if dropped:
        notes.append(f"{dropped} frame(s) only have detections far from that person (another person, or a jump): left empty")
    return choice, "; ".join(notes)


def _extend(track: dict, frame: int, detection: int, person: tuple[np.ndarray, np.ndarray]) -> None:
    kp, conf = person
    track["last"] = kp
    track["frames"][frame] = detection
    track["score"] += float(conf.sum()) * _size(kp)
