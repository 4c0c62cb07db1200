"""Read camera calibration files: Pose2Sim / anipose TOML, OpenCV FileStorage YAML and XML.

    >>> camera = read_camera("calibration.toml", "cam_01")     # one camera, chosen by name
    >>> camera.K, camera.distortion, camera.image_size         # (3,3), OpenCV coefficients, (w, h)
    >>> sequence = apply_camera(read_keypoints("cam01_json"), camera)   # K set, lens undone

What each format holds (one camera or several; names are the section or key names):

- TOML (Pose2Sim, anipose): one table per camera with ``matrix`` (3x3), ``distortions``, ``size``
  ``[w, h]``, optionally ``name``, ``rotation`` (Rodrigues vector), ``translation`` and
  ``fisheye``; tables without ``matrix`` (``[metadata]``) are not cameras.
- OpenCV YAML (``%YAML:1.0``, ``!!opencv-matrix``) and XML (``<opencv_storage>``), as
  ``cv::FileStorage`` writes them (the OpenCV calibration sample, ROS camera_info YAML):
  ``camera_matrix`` (or ``K``, ``cameraMatrix``), ``distortion_coefficients`` (or ``D``,
  ``dist_coeffs``), ``image_width`` / ``image_height`` (or ``image_size``), optionally
  ``camera_name``; at the top level (one camera) or in one mapping per camera.

Key names are matched without regard to case or underscores. Every problem raises
:class:`~zedo_core.inputs.InputError` with one line naming the file and the key. numpy and the
standard library only: the add-on runs in Blender, which has neither PyYAML nor OpenCV.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from .distortion import check_coefficients, undistort_points
from .inputs import InputError

# Accepted spellings (lower case, no underscores) of each field.
MATRIX_KEYS = ("matrix", "cameramatrix", "k", "intrinsicmatrix", "intrinsics")
DISTORTION_KEYS = ("distortions", "distortioncoefficients", "distcoeffs", "distcoeff", "distortion", "dist", "d")
SIZE_KEYS = ("size", "imagesize", "resolution")
WIDTH_KEYS, HEIGHT_KEYS = ("imagewidth", "width"), ("imageheight", "height")
NAME_KEYS = ("name", "cameraname")
ROTATION_KEYS = ("rotation", "r", "rvec", "rotationmatrix")
TRANSLATION_KEYS = ("translation", "t", "tvec", "translationvector")
FISHEYE_MODELS = ("fisheye", "equidistant", "kannalabrandt")
PINHOLE_MODELS = ("plumbbob", "rationalpolynomial", "radtan", "pinhole", "opencv", "brown")
# A calibration made at one resolution serves footage scaled from it when the aspect ratios agree
# to this relative tolerance (rounding of odd sizes).
ASPECT_TOLERANCE = 0.01
# Sizes that differ by less than a video codec's macroblock (16 px) are the same pixels with the
# padding cropped or kept (1088 vs 1080 rows of H.264): K unchanged. The Pose2Sim calibration says
# 1088 x 1920 for a video whose MP4 track header, and Blender, say 1080 x 1920.
MAX_PADDING_PX = 16


@dataclass(frozen=True, eq=False)
class CameraCalibration:
    """One calibrated camera: ``K`` (3,3) pixels, ``distortion`` OpenCV coefficients (empty = none;
    ``fisheye`` says which model), ``image_size`` ``(width, height)`` pixels when the file says,
    and the extrinsics when it has them: ``rotation`` (3,3) and ``translation`` (3,) with
    ``x_cam = rotation @ x_world + translation`` (OpenCV's convention, the file's length unit)."""

    name: str
    K: np.ndarray
    distortion: np.ndarray
    image_size: tuple[int, int] | None = None
    fisheye: bool = False
    rotation: np.ndarray | None = None
    translation: np.ndarray | None = None
    source: str = ""
    section: str = ""  # the table / mapping the camera came from ("" = the top level)

    @property
    def has_distortion(self) -> bool:
        return bool(np.any(self.distortion != 0))

    def undistort(self, points: object) -> np.ndarray:
        """Pixels ``(..., 2)`` as an ideal pinhole camera with this ``K`` would see them."""
        if not self.has_distortion:
            return np.array(points, dtype=np.float64)
        return undistort_points(points, self.K, self.distortion, self.fisheye)

    def scaled_to(self, image_size: tuple[int, int]) -> CameraCalibration:
        """This camera for footage of ``image_size`` (w, h): the same ``K`` when the sizes differ
        by codec padding only (:data:`MAX_PADDING_PX`), else ``K`` scaled when the footage was
        scaled from the calibrated size (distortion coefficients are in normalised units and
        stay). InputError when the aspect ratios differ (cropped footage)."""
        width, height = (int(v) for v in image_size)
        if self.image_size is None or (width, height) == tuple(self.image_size):
            return self
        cw, ch = self.image_size
        if abs(width - cw) < MAX_PADDING_PX and abs(height - ch) < MAX_PADDING_PX:
            return replace(self, image_size=(width, height))
        if abs((width / height) / (cw / ch) - 1.0) > ASPECT_TOLERANCE:
            raise InputError(
                f"{self._label()}: calibrated for {cw}x{ch} images but the footage is {width}x{height} "
                f"(another aspect ratio: cropped?); calibrate at the footage's size"
            )
        sx, sy = width / cw, height / ch
        # Pixel centres: u' + 0.5 = s (u + 0.5).
        S = np.array([[sx, 0.0, 0.5 * (sx - 1.0)], [0.0, sy, 0.5 * (sy - 1.0)], [0.0, 0.0, 1.0]])
        return replace(self, K=S @ self.K, image_size=(width, height))

    def _label(self) -> str:
        return f"{self.source} [{self.name}]" if self.source else self.name


def read_cameras(path: str | Path) -> dict[str, CameraCalibration]:
    """Every camera in the calibration file ``path``, by name, in the file's order."""
    path = Path(path)
    tree, style = _load(path)
    found = _camera_nodes(tree, path)
    if not found:
        raise InputError(
            f"{path}: no camera matrix found (looked for {', '.join(_spell(k) for k in MATRIX_KEYS[:3])} "
            f"at the top level and in each {style})"
        )
    cameras: dict[str, CameraCalibration] = {}
    for key, node in found:
        camera = _camera(path, key, node)
        if camera.name in cameras:
            raise InputError(f"{path}: two cameras are named {camera.name!r}")
        cameras[camera.name] = camera
    return cameras


def read_camera(path: str | Path, name: str | None = None, hint: str | None = None) -> CameraCalibration:
    """The camera ``name`` of the calibration file ``path`` (its section/key or its ``name``
    field). Without ``name``: the file's only camera, else the one whose name appears in ``hint``
    (e.g. the keypoint folder ``cam01_json`` for ``cam_01``); InputError listing the names when
    that does not decide."""
    path = Path(path)
    cameras = read_cameras(path)
    names = ", ".join(cameras)
    if name is not None:
        if name in cameras:
            return cameras[name]
        for camera in cameras.values():
            if name in camera_keys(camera):
                return camera
        raise InputError(f"{path}: no camera named {name!r} (cameras: {names})")
    if len(cameras) == 1:
        return next(iter(cameras.values()))
    if hint:
        matches = [c for c in cameras.values() if any(_name_in(key, hint) for key in camera_keys(c))]
        if len(matches) == 1:
            return matches[0]
    raise InputError(f"{path} holds {len(cameras)} cameras ({names}): choose one by name (--camera-name)")


def camera_keys(camera: CameraCalibration) -> tuple[str, ...]:
    """The names a camera answers to: its name and the section it came from."""
    return tuple(dict.fromkeys(filter(None, (camera.name, camera.section))))


def _tokens(text: str) -> list[object]:
    """'cam_01' -> ['cam', 1]; 'Cam01_json' -> ['cam', 1, 'json']."""
    return [int(t) if t.isdigit() else t for t in re.findall(r"[a-z]+|\d+", text.lower())]


def _name_in(name: str, text: str) -> bool:
    """Whether camera ``name`` appears in ``text`` as whole words and numbers (cam_1 in cam01_json,
    not in cam12_json)."""
    needle, hay = _tokens(name), _tokens(text)
    return bool(needle) and any(hay[i : i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


def apply_camera(sequence, camera: CameraCalibration, image_size: tuple[int, int] | None = None):
    """``sequence`` (a :class:`~zedo_core.keypoint_files.KeypointSequence`) seen through
    ``camera``: its ``K`` (scaled to ``image_size``, else to the sequence's image size, when the
    footage was scaled from the calibrated size), that image size, and keypoints undistorted when
    the calibration has lens distortion; ``notes`` say what was done."""
    size = image_size or sequence.image_size
    notes = list(sequence.notes)
    if size is not None and camera.image_size is not None and tuple(size) != tuple(camera.image_size):
        calibrated = camera
        camera = camera.scaled_to(size)
        (cw, ch), (w, h) = calibrated.image_size, size
        if np.array_equal(camera.K, calibrated.K):
            notes.append(f"{camera.name} was calibrated at {cw}x{ch}, the footage is {w}x{h}: the same pixels "
                         f"(codec padding), K kept")  # fmt: skip
        else:
            notes.append(f"{camera.name} was calibrated at {cw}x{ch}: K scaled to the keypoints' {w}x{h}")
    if sequence.K is not None:
        notes.append(f"the input's own K is replaced by {camera.name}'s")
    keypoints = sequence.keypoints
    if camera.has_distortion:
        keypoints = camera.undistort(sequence.keypoints)
        lost = np.isnan(keypoints[..., 0]) & np.isfinite(sequence.keypoints[..., 0])
        shift = np.linalg.norm(keypoints - sequence.keypoints, axis=-1)
        largest = float(np.nanmax(shift)) if np.isfinite(shift).any() else 0.0
        notes.append(f"keypoints undistorted with {camera.name}'s lens distortion (largest shift {largest:.1f} px)")
        if lost.any():
            notes.append(f"{int(lost.sum())} keypoint(s) lie outside the lens model's valid area: treated as missing")
    confidence = np.where(np.isnan(keypoints[..., 0]), 0.0, sequence.confidence)
    return replace(
        sequence, keypoints=keypoints, confidence=confidence, K=camera.K.copy(),
        image_size=camera.image_size or sequence.image_size, notes=tuple(notes),
    )


# ------------------------------------------------------------------------------------------ formats


def _load(path: Path) -> tuple[dict, str]:
    """The file as nested dicts, and what holds one camera in it (for messages)."""
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a calibration file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a calibration file (not UTF-8 text)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    head = text.lstrip()[:200].lower()
    suffix = path.suffix.lower()
    if suffix == ".xml" or head.startswith(("<?xml", "<opencv_storage")):
        return _read_xml(path, text), "element"
    if suffix in (".yml", ".yaml") or head.startswith("%yaml"):
        return _read_yaml(path, text), "mapping"
    if suffix == ".toml" or suffix == "":
        try:
            return tomllib.loads(text), "table"
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})") from None
    raise InputError(
        f"{path}: unknown calibration format {suffix!r}: expected .toml (Pose2Sim, anipose), .yml/.yaml or .xml (OpenCV)"
    )


def _read_xml(path: Path, text: str) -> dict:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise InputError(f"{path}: not valid XML ({exc})") from None
    if root.tag != "opencv_storage":
        raise InputError(f"{path}: not an OpenCV FileStorage XML (its root is <{root.tag}>, not <opencv_storage>)")
    value = _xml_value(path, root)
    return value if isinstance(value, dict) else {}


def _xml_value(path: Path, element: ElementTree.Element) -> object:
    children = list(element)
    if element.get("type_id") == "opencv-matrix" or {c.tag for c in children} >= {"rows", "cols", "data"}:
        fields = {c.tag: _xml_value(path, c) for c in children}
        return _matrix(path, element.tag, fields)
    if children:
        if all(c.tag == "_" for c in children):
            return [_xml_value(path, c) for c in children]
        return {c.tag: _xml_value(path, c) for c in children}
    words = (element.text or "").split()
    values = [_scalar(w) for w in words]
    if len(values) == 1:
        return values[0]
    if values and all(isinstance(v, (int, float)) for v in values):
        return values
    return " ".join(words).strip('"')


def _matrix(path: Path, key: str, fields: dict) -> np.ndarray:
    """An ``!!opencv-matrix`` (rows, cols, dt, data) as a (rows, cols) array."""
    try:
        rows, cols = int(fields["rows"]), int(fields["cols"])
        data = np.asarray(fields["data"], dtype=np.float64).ravel()
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{path}: '{key}' is an opencv-matrix without numeric rows, cols and data") from None
    if data.size != rows * cols:
        raise InputError(f"{path}: '{key}' says {rows}x{cols} but holds {data.size} values")
    return data.reshape(rows, cols)


def _scalar(text: str) -> object:
    """A YAML/XML scalar: int, float, bool, None or the (unquoted) string."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lower = text.lower()
    if lower in ("true", "false"):
        return lower == "true"
    if lower in ("null", "~", ""):
        return None
    special = {".nan": math.nan, ".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}
    if lower in special:
        return special[lower]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


# YAML: the subset calibration files use. Block mappings by indentation, `- item` sequences, flow
# [..] and {..} collections (over several lines), tags (!!opencv-matrix), comments, quotes.


def _read_yaml(path: Path, text: str) -> dict:
    lines = []  # (line number, indent, content) of logical lines, flow collections joined
    pending: tuple[int, int, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        content = _strip_comment(raw).rstrip()
        if pending is not None:
            pending = (pending[0], pending[1], pending[2] + " " + content.strip())
            if _balanced(pending[2]):
                lines.append(pending)
                pending = None
            continue
        stripped = content.strip()
        if not stripped or stripped.startswith("%") or stripped in ("---", "..."):
            continue
        entry = (number, len(content) - len(content.lstrip(" ")), stripped)
        if "\t" in content[: entry[1] + 1]:
            raise InputError(f"{path}: line {number}: tabs in the indentation (YAML indents with spaces)")
        if _balanced(stripped):
            lines.append(entry)
        else:
            pending = entry
    if pending is not None:
        raise InputError(f"{path}: line {pending[0]}: a [ or {{ that is never closed")
    if not lines:
        raise InputError(f"{path}: empty YAML file")
    value, end = _yaml_block(path, lines, 0, lines[0][1])
    if end != len(lines):
        raise InputError(f"{path}: line {lines[end][0]}: unexpected indentation")
    if not isinstance(value, dict):
        raise InputError(f"{path}: the YAML file is not a mapping of keys to values")
    return value


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _balanced(text: str) -> bool:
    depth, quote = 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth <= 0


def _split_key(path: Path, number: int, text: str) -> tuple[str, str] | None:
    """``key: rest`` -> (key, rest); None when the line is not a mapping entry."""
    match = re.match(r"""^("[^"]*"|'[^']*'|[^\s:\[\]{},#'"][^:]*?)\s*:(?:\s+|$)(.*)$""", text)
    if match is None:
        return None
    key = match.group(1)
    if key[0] in "'\"":
        key = key[1:-1]
    return key, match.group(2)


def _yaml_block(path: Path, lines: list, i: int, indent: int) -> tuple[object, int]:
    number, _, text = lines[i]
    if text.startswith("- ") or text == "-":
        items = []
        while i < len(lines) and lines[i][1] == indent and (lines[i][2].startswith("- ") or lines[i][2] == "-"):
            item = lines[i][2][1:].strip()
            if _split_key(path, lines[i][0], item) is not None:
                raise InputError(f"{path}: line {lines[i][0]}: sequences of mappings are not supported here")
            if item:
                items.append(_yaml_value(path, lines[i][0], item))
                i += 1
            elif i + 1 < len(lines) and lines[i + 1][1] > indent:
                value, i = _yaml_block(path, lines, i + 1, lines[i + 1][1])
                items.append(value)
            else:
                items.append(None)
                i += 1
        return items, i
    mapping: dict[str, object] = {}
    while i < len(lines) and lines[i][1] == indent:
        number, _, text = lines[i]
        entry = _split_key(path, number, text)
        if entry is None:
            raise InputError(f"{path}: line {number}: expected 'key: value', got {text[:40]!r}")
        key, rest = entry
        tag = ""
        if rest.startswith("!"):
            tag, _, rest = rest.partition(" ")
            rest = rest.strip()
        i += 1
        if rest:
            value = _yaml_value(path, number, rest)
        elif i < len(lines) and lines[i][1] > indent:
            value, i = _yaml_block(path, lines, i, lines[i][1])
        elif i < len(lines) and lines[i][1] == indent and lines[i][2].startswith("- "):
            value, i = _yaml_block(path, lines, i, indent)  # a sequence at the key's own indentation
        else:
            value = None
        if tag.endswith("opencv-matrix") or (isinstance(value, dict) and {"rows", "cols", "data"} <= set(value)):
            if not isinstance(value, dict):
                raise InputError(f"{path}: line {number}: '{key}' is tagged {tag} but holds no rows, cols and data")
            value = _matrix(path, key, value)
        mapping[key] = value
    if i < len(lines) and lines[i][1] > indent:
        raise InputError(f"{path}: line {lines[i][0]}: unexpected indentation")
    return mapping, i


def _yaml_value(path: Path, number: int, text: str) -> object:
    if text[0] in "[{":
        value, end = _flow(path, number, text, 0)
        if text[end:].strip():
            raise InputError(f"{path}: line {number}: unexpected text after the closing bracket: {text[end:].strip()[:30]!r}")
        return value
    if text[0] in "|>":
        raise InputError(f"{path}: line {number}: block scalars (| or >) are not supported in calibration files")
    return _scalar(text)


def _flow(path: Path, number: int, text: str, i: int) -> tuple[object, int]:
    """Parse a flow collection starting at ``text[i]`` ('[' or '{'); returns (value, index after)."""
    opening = text[i]
    closing = "]" if opening == "[" else "}"
    items: list = []
    mapping: dict = {}
    i += 1
    while True:
        while i < len(text) and text[i] in " ,":
            i += 1
        if i >= len(text):
            raise InputError(f"{path}: line {number}: a {opening} that is never closed")
        if text[i] == closing:
            return (items if opening == "[" else mapping), i + 1
        if text[i] in "[{":
            value, i = _flow(path, number, text, i)
        else:
            start, quote = i, None
            while i < len(text):
                ch = text[i]
                if quote:
                    quote = None if ch == quote else quote
                elif ch in "'\"":
                    quote = ch
                elif ch in ",]}":
                    break
                i += 1
            value = text[start:i].strip()
            if opening == "{":
                key, sep, rest = value.partition(":")
                if not sep:
                    raise InputError(f"{path}: line {number}: expected 'key: value' inside {{ }}, got {value[:30]!r}")
                mapping[_scalar(key)] = _scalar(rest)
                continue
            value = _scalar(value)
        if opening == "[":
            items.append(value)
        else:
            raise InputError(f"{path}: line {number}: nested collections as keys are not supported")


# ------------------------------------------------------------------------------------------ cameras


def _normal(key: object) -> str:
    return str(key).lower().replace("_", "").replace("-", "")


def _spell(key: str) -> str:
    return {"matrix": "matrix", "cameramatrix": "camera_matrix", "k": "K"}.get(key, key)


def _get(node: dict, keys: tuple[str, ...]) -> tuple[str, object] | None:
    """The first of ``keys`` (normalised spellings) present in ``node``, as (the file's key, value)."""
    normal = {_normal(k): k for k in node}
    for key in keys:
        if key in normal:
            return normal[key], node[normal[key]]
    return None


def _camera_nodes(tree: dict, path: Path) -> list[tuple[str, dict]]:
    """(section key, node) of each camera: the top level when it has a camera matrix, else each
    mapping that has one."""
    if _get(tree, MATRIX_KEYS) is not None and not isinstance(_get(tree, MATRIX_KEYS)[1], dict):
        return [("", tree)]
    return [
        (str(key), value)
        for key, value in tree.items()
        if isinstance(value, dict) and _get(value, MATRIX_KEYS) is not None and not isinstance(_get(value, MATRIX_KEYS)[1], dict)
    ]


def _numbers(where: str, key: str, value: object) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: '{key}' must hold numbers, got {str(value)[:60]}") from None
    if not np.isfinite(array).all():
        raise InputError(f"{where}: '{key}' holds NaN or infinite values")
    return array


def _camera(path: Path, section: str, node: dict) -> CameraCalibration:
    where = f"{path} [{section}]" if section else str(path)
    key, value = _get(node, MATRIX_KEYS)
    K = _numbers(where, key, value)
    if K.size == 9:
        K = K.reshape(3, 3)
    if K.shape != (3, 3):
        raise InputError(f"{where}: '{key}' must be a 3x3 camera matrix, got shape {K.shape}")
    if not (K[0, 0] > 0 and K[1, 1] > 0) or K[1, 0] != 0 or not np.allclose(K[2], [0.0, 0.0, 1.0]):
        raise InputError(
            f"{where}: '{key}' is not a camera matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0: {K.tolist()}"
        )
    name_entry = _get(node, NAME_KEYS)
    name = str(name_entry[1]) if name_entry is not None and isinstance(name_entry[1], (str, int)) else ""
    name = name or section or path.stem

    fisheye = False
    if "fisheye" in {_normal(k) for k in node}:
        flag_key, flag = _get(node, ("fisheye",))
        if not isinstance(flag, bool):
            raise InputError(f"{where}: '{flag_key}' must be true or false, got {flag!r}")
        fisheye = flag
    model = _get(node, ("distortionmodel", "model", "cameramodel"))
    if model is not None and isinstance(model[1], str):
        kind = _normal(model[1])
        if kind in FISHEYE_MODELS:
            fisheye = True
        elif kind not in PINHOLE_MODELS:
            raise InputError(f"{where}: '{model[0]}' is {model[1]!r}: only OpenCV's pinhole and fisheye models are supported")

    distortion = np.zeros(0)
    entry = _get(node, DISTORTION_KEYS)
    if entry is not None and entry[1] is not None:
        try:
            distortion = check_coefficients(_numbers(where, entry[0], entry[1]), fisheye)
        except InputError as exc:
            raise InputError(f"{where}: '{entry[0]}': {exc}") from None

    image_size = _image_size(where, node)
    rotation = translation = None
    entry = _get(node, ROTATION_KEYS)
    if entry is not None:
        R = _numbers(where, entry[0], entry[1])
        if R.size == 3:
            R = _rodrigues(R.ravel())
        elif R.size == 9:
            R = R.reshape(3, 3)
            if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
                raise InputError(f"{where}: '{entry[0]}' is not a rotation matrix")
        else:
            raise InputError(f"{where}: '{entry[0]}' must be a Rodrigues vector (3) or a 3x3 matrix, got {R.size} values")
        rotation = R
    entry = _get(node, TRANSLATION_KEYS)
    if entry is not None:
        t = _numbers(where, entry[0], entry[1]).ravel()
        if t.size != 3:
            raise InputError(f"{where}: '{entry[0]}' must hold 3 values, got {t.size}")
        translation = t
    return CameraCalibration(name, K, distortion, image_size, fisheye, rotation, translation, str(path), section)


def _image_size(where: str, node: dict) -> tuple[int, int] | None:
    entry = _get(node, SIZE_KEYS)
    if entry is not None:
        size = _numbers(where, entry[0], entry[1]).ravel()
        key = entry[0]
    else:
        width, height = _get(node, WIDTH_KEYS), _get(node, HEIGHT_KEYS)
        if width is None and height is None:
            return None
        if width is None or height is None:
            raise InputError(f"{where}: has {(width or height)[0]!r} but not the other of image width and height")
        size = np.array([_numbers(where, width[0], width[1]), _numbers(where, height[0], height[1])], dtype=np.float64).ravel()
        key = f"{width[0]}' / '{height[0]}"
    if size.size != 2 or (size <= 0).any() or (size != np.round(size)).any():
        raise InputError(f"{where}: '{key}' must be two positive whole numbers (width, height), got {size.tolist()}")
    return int(size[0]), int(size[1])


def _rodrigues(r: np.ndarray) -> np.ndarray:
    """Rotation matrix of the Rodrigues vector ``r`` (axis * angle in radians)."""
    angle = float(np.linalg.norm(r))
    if angle < 1e-12:
        return np.eye(3)
    k = r / angle
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * cross + (1.0 - math.cos(angle)) * cross @ cross
