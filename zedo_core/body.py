"""A person's body: the 16 bone lengths one person keeps across all their footage.

Video mode already gives each clip one body (``LiftConfig.bone_length_pull``: every bone pulled
towards its median over the clip). A body measured over more footage of the same person — other
takes, other cameras of the same take — is closer to the truth than one short clip's, and frame
by frame has none at all. :func:`median_bone_lengths` measures a body from lifted poses,
``LiftConfig(bone_lengths=...)`` lifts with it, and :func:`write_body` / :func:`read_body` keep it
in a small JSON file (``python -m zedo_core lift --save-body`` / ``--body``)::

    {"format": "zedo-body", "version": 1, "unit": "m",
     "bone_lengths": {"pelvis-right_hip": 0.118, "right_hip-right_knee": 0.433, ...}}
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .inputs import InputError
from .safe_io import display
from .skeleton import BONE_NAMES, NUM_BONES, NUM_JOINTS, bone_lengths

BODY_FORMAT = "zedo-body"
BODY_VERSION = 1


def median_bone_lengths(poses3d: np.ndarray) -> np.ndarray:
    """``(16,)`` metres: each bone's median length over the finite poses ``(..., 17, 3)`` (frames,
    hypotheses, clips: any leading axes). Raises :class:`InputError` when no pose is finite."""
    poses = np.asarray(poses3d, dtype=np.float64)
    if poses.ndim < 2 or poses.shape[-2:] != (NUM_JOINTS, 3):
        raise InputError(f"poses must have shape (..., {NUM_JOINTS}, 3), got {poses.shape}")
    poses = poses.reshape(-1, NUM_JOINTS, 3)
    poses = poses[np.isfinite(poses).all(axis=(1, 2))]
    if not len(poses):
        raise InputError("no finite pose to measure a body from")
    return np.median(bone_lengths(poses), axis=0)


def _body_document(lengths: np.ndarray) -> dict:
    """The JSON document of a body (:func:`write_body`)."""
    lengths = np.asarray(lengths, dtype=np.float64).reshape(-1)
    if lengths.shape != (NUM_BONES,) or not (np.isfinite(lengths).all() and (lengths > 0).all()):
        raise InputError(f"a body is {NUM_BONES} finite bone lengths > 0, got {lengths.tolist()}")
    return {
        "format": BODY_FORMAT,
        "version": BODY_VERSION,
        "unit": "m",
        "bone_lengths": {name: round(float(x), 5) for name, x in zip(BONE_NAMES, lengths)},
    }


def write_body(path: str | Path, lengths: np.ndarray) -> None:
    """Write a body to ``path`` as JSON (callers wanting whole-or-nothing writes use
    ``safe_io.write_outputs`` around it)."""
    text = json.dumps(_body_document(lengths), indent=2) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def read_body(path: str | Path) -> tuple[float, ...]:
    """The 16 bone lengths (metres, ``skeleton.BONE_NAMES`` order) of a body file; every problem
    is one :class:`InputError` naming the file and the key."""
    where = display(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{where}: no such body file") from None
    except (OSError, UnicodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{where}: not a readable JSON body file ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != BODY_FORMAT:
        raise InputError(f"{where}: not a body file (expected \"format\": \"{BODY_FORMAT}\")")
    if document.get("version") != BODY_VERSION:
        raise InputError(f"{where}: body file version {document.get('version')!r} is not supported (expected {BODY_VERSION})")
    if document.get("unit", "m") != "m":
        raise InputError(f"{where}: \"unit\" must be \"m\", got {document.get('unit')!r}")
    table = document.get("bone_lengths")
    if not isinstance(table, dict):
        raise InputError(f"{where}: missing \"bone_lengths\" (an object of bone name -> metres)")
    unknown = sorted(set(table) - set(BONE_NAMES))
    if unknown:
        raise InputError(f"{where}: bone_lengths has unknown bone(s) {', '.join(map(repr, unknown))} (known: {', '.join(BONE_NAMES)})")
    lengths = []
    for name in BONE_NAMES:
        if name not in table:
            raise InputError(f"{where}: bone_lengths is missing {name!r}")
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and 0 < value < 5):
            raise InputError(f"{where}: bone_lengths[{name!r}] must be a length in metres (0 to 5), got {value!r}")
        lengths.append(float(value))
    return tuple(lengths)
