"""The trained pose prior shipped with the package: score networks, SDE and initial poses.

The shipped file is ``assets/prior.npz`` (numpy arrays and a JSON header; read with
``allow_pickle=False``), verified against the SHA-256 recorded beside it. Lifting runs on numpy by
default, so no PyTorch is needed; ``device="cuda"`` runs the same code on torch tensors. Prior
files written by PyTorch (``.pt``, formats 1 and 2) are still read where torch is installed, with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .arrays import Array, asarray_like, is_torch, namespace, to_numpy
from .inputs import InputError
from .network import NetworkConfig, ScoreNetwork, ensemble_noise
from .safe_io import read_npz
from .sde import SubVPSDE
from .skeleton import NUM_JOINTS, mirror

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_PRIOR_PATH = ASSETS / "prior.npz"
# Format 3: .npz (numpy). Formats 1 (one network) and 2 (a list of networks) are PyTorch files.
ASSET_FORMAT = 3
_TORCH_FORMATS = (1, 2)
# What a prior's networks can be meant for: lifting single frames, or clips (video mode) and
# bodies known in advance (LiftConfig.prior_networks).
PRIOR_MODES = ("frame", "video")


class PriorLoadError(RuntimeError):
    """The prior file is missing, unreadable, damaged or not in the expected format."""


def torch_available() -> bool:
    """True when PyTorch can be imported (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` picks CUDA when PyTorch sees a CUDA device, else the CPU; ``"cuda"`` without
    CUDA is an error. Returns ``"cpu"`` or a CUDA device name such as ``"cuda"`` or ``"cuda:1"``."""
    device = str(device)
    if device == "cpu":
        return device
    if device == "auto":
        if torch_available():
            import torch

            if torch.cuda.is_available():
                return "cuda"
        return "cpu"
    if device != "cuda" and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda'")
    if not torch_available():
        raise RuntimeError(f"device {device!r} needs PyTorch with CUDA, and PyTorch is not installed")
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for, but PyTorch sees no CUDA device")
    return device


@dataclass
class PosePrior:
    """A diffusion prior over pelvis-relative 3D poses (metres, camera frame).

    ``members`` are the score networks whose noise estimates are averaged (one, or an ensemble).
    ``initial_poses`` maps a hypothesis count S to ``(S, 17, 3)`` K-Means centres of the training
    poses, each an upright person facing the camera. ``modes`` names the members meant for a
    lifting mode (``"frame"``, ``"video"``; :meth:`for_mode`); a mode it does not name uses every
    member. The weights and poses are numpy arrays (``backend == "numpy"``) or torch tensors on
    one device (``"torch"``); :meth:`to` moves them.
    """

    members: list[ScoreNetwork]
    sde: SubVPSDE
    initial_poses: dict[int, Array]
    metadata: dict = field(default_factory=dict)
    modes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        modes = {}
        for mode, indices in self.modes.items():
            if mode not in PRIOR_MODES:
                raise ValueError(f"unknown prior mode {mode!r}: use one of {PRIOR_MODES}")
            indices = tuple(int(i) for i in indices)
            if not indices or not all(0 <= i < len(self.members) for i in indices):
                raise ValueError(f"prior mode {mode!r} names networks {indices}, but the prior has {len(self.members)}")
            modes[mode] = indices
        self.modes = modes

    def members_for(self, mode: str) -> tuple[int, ...]:
        """Indices of the networks meant for lifting mode ``mode`` (``"frame"`` or ``"video"``):
        those the prior file names for it, else all of them."""
        if mode not in PRIOR_MODES:
            raise ValueError(f"unknown prior mode {mode!r}: use one of {PRIOR_MODES}")
        return self.modes.get(mode, tuple(range(len(self.members))))

    def for_mode(self, mode: str) -> "PosePrior":
        """This prior with only the networks meant for ``mode`` (:meth:`members_for`); the
        arrays are shared, not copied."""
        indices = self.members_for(mode)
        if indices == tuple(range(len(self.members))):
            return self
        return PosePrior(
            members=[self.members[i] for i in indices],
            sde=self.sde,
            initial_poses=self.initial_poses,
            metadata=self.metadata,
        )

    @property
    def _reference(self) -> Array:
        return next(iter(self.members[0].params.values()))

    @property
    def backend(self) -> str:
        """``"numpy"`` or ``"torch"``: the kind of array the lifting loop runs on."""
        return "torch" if is_torch(self._reference) else "numpy"

    @property
    def device(self) -> str:
        """``"cpu"``, or the torch device the weights are on (e.g. ``"cuda:0"``)."""
        return str(self._reference.device) if self.backend == "torch" else "cpu"

    def to(self, device: str = "cpu", backend: str | None = None) -> "PosePrior":
        """This prior on ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``...): numpy on the CPU unless
        ``backend="torch"`` is asked for; torch on CUDA. Returns a new prior."""
        device = "cpu" if backend == "numpy" and device == "auto" else resolve_device(device)
        backend = backend or ("numpy" if device == "cpu" else "torch")
        if backend not in ("numpy", "torch"):
            raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
        if backend == "torch" and not torch_available():
            raise RuntimeError("backend 'torch' needs PyTorch, and PyTorch is not installed")
        if backend == "numpy" and device != "cpu":
            raise ValueError(f"the numpy backend runs on the CPU only, not {device!r}")
        if backend == "numpy":
            like = np.zeros(0, dtype=np.float32)
        else:
            import torch

            like = torch.zeros(0, dtype=torch.float32, device=device)
        return PosePrior(
            members=[member.converted(like) for member in self.members],
            sde=self.sde,
            initial_poses={k: asarray_like(v, like, "float32") for k, v in self.initial_poses.items()},
            metadata=dict(self.metadata),
            modes=dict(self.modes),
        )

    def array(self, data: Array, dtype: str = "float32") -> Array:
        """``data`` as an array of this prior's kind and device."""
        return asarray_like(data, self._reference, dtype)

    def predict_noise(self, poses: Array, t: Array, member: int | None = None, mirrored: bool = False) -> Array:
        """The noise estimate for poses ``(B, 17, 3)`` at times ``t`` ``(B,)``: the mean of every
        network, or only ``members[member]``'s. ``mirrored`` asks about the poses' mirror image
        (:func:`zedo_core.skeleton.mirror`) and mirrors the answer back: the prior was trained on
        mirrored poses too, so both are estimates of the same noise."""
        if mirrored:
            return mirror(self.predict_noise(mirror(poses), t, member))
        networks = self.members if member is None else [self.members[member]]
        flat = poses.reshape(poses.shape[0], NUM_JOINTS * 3)
        return ensemble_noise(networks, flat, t).reshape(poses.shape)

    def _times(self, poses: Array, t: float) -> Array:
        return namespace(poses).full_like(poses[:, 0, 0], float(t))

    def denoise(self, poses: Array, t: float, dt: float, member: int | None = None, mirrored: bool = False) -> Array:
        """One truncated reverse-diffusion step at time ``t`` (deterministic Euler, step ``dt``);
        ``member`` and ``mirrored`` as in :meth:`predict_noise`."""
        times = self._times(poses, t)
        return self.sde.reverse_euler_step(poses, times, self.predict_noise(poses, times, member, mirrored), dt)

    def implausibility(self, poses: Array, t: float = 0.05) -> Array:
        """How unlikely each pose ``(B, 17, 3)`` is under the prior: the squared norm of the
        network's noise estimate at time ``t`` (a scaled score norm; 0 on the data manifold).
        Used to choose among hypotheses that all fit the 2D keypoints."""
        relative = poses - poses[:, :1]
        noise = self.predict_noise(relative, self._times(poses, t))
        return (noise * noise).sum(-1).sum(-1)

    def state(self, matrix_dtype: str = "float32") -> dict[str, np.ndarray]:
        """The arrays of a format-3 prior file (``np.savez``; :func:`load_prior` reads them back).
        ``matrix_dtype="float16"`` stores the networks' weight matrices (nearly all of the file)
        at half precision; they are read back as float32, like every other array."""
        if matrix_dtype not in ("float32", "float16"):
            raise ValueError(f"matrix_dtype must be 'float32' or 'float16', got {matrix_dtype!r}")
        header = {
            "format": ASSET_FORMAT,
            "networks": [member.config.to_dict() for member in self.members],
            "sde": {"beta_min": self.sde.beta_min, "beta_max": self.sde.beta_max},
            "initial_poses": sorted(self.initial_poses),
            "metadata": self.metadata,
        }
        if self.modes:
            header["modes"] = {mode: list(indices) for mode, indices in self.modes.items()}
        arrays = {"header": np.array(json.dumps(header, sort_keys=True))}
        for i, member in enumerate(self.members):
            for name, value in member.numpy_params().items():
                with np.errstate(over="ignore"):  # reported below, naming the weight
                    stored = value.astype(matrix_dtype) if value.ndim == 2 else value
                if not np.isfinite(stored).all():
                    raise ValueError(f"network {i} weight {name} does not fit in {matrix_dtype}")
                arrays[f"network{i}/{name}"] = stored
        arrays.update({f"initial_poses/{k}": to_numpy(v).astype(np.float32) for k, v in self.initial_poses.items()})
        return arrays

    def save(self, path: str | Path, matrix_dtype: str = "float32") -> Path:
        """Write this prior as a format-3 ``.npz`` (atomically; ``matrix_dtype`` as in
        :meth:`state`) and return its path."""
        path = Path(path)
        tmp = path.with_name(path.name + ".partial")
        try:
            # np.savez stamps each member with the current time; fixed stamps make rebuilds bit-identical.
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
                for name, value in self.state(matrix_dtype).items():
                    with archive.open(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), "w") as member:
                        np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(prior_path: str | Path) -> Path:
    """Where the SHA-256 of a shipped prior file is recorded (``prior.npz.sha256``)."""
    prior_path = Path(prior_path)
    return prior_path.with_name(prior_path.name + ".sha256")


def _verify_checksum(path: Path) -> None:
    recorded = checksum_path(path)
    if not recorded.is_file():
        raise PriorLoadError(f"the shipped prior's checksum file is missing: {recorded}")
    expected = recorded.read_text().split()[0].strip().lower()
    if file_sha256(path) != expected:
        raise PriorLoadError(f"{path} is damaged (its SHA-256 differs from {recorded.name}): reinstall the package")


def _read_npz(path: Path) -> PosePrior:
    try:
        arrays = read_npz(path)  # the same guarded reader as keypoint files (no pickles, damage, size)
    except InputError as exc:
        raise PriorLoadError(f"cannot read prior file: {exc}") from exc
    if "header" not in arrays:
        raise PriorLoadError(f"{path} is not a ZeDO prior file (no 'header' entry)")
    try:
        header = json.loads(str(arrays["header"]))
        if header.get("format") != ASSET_FORMAT:
            raise PriorLoadError(f"{path} is not a ZeDO prior file of format {ASSET_FORMAT}")
        members = []
        for i, config in enumerate(header["networks"]):
            prefix = f"network{i}/"
            params = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            members.append(ScoreNetwork(NetworkConfig(**config), params))
        initial = {int(k): arrays[f"initial_poses/{k}"] for k in header["initial_poses"]}
        modes = {str(mode): tuple(indices) for mode, indices in header.get("modes", {}).items()}
        return PosePrior(members, SubVPSDE(**header["sde"]), initial, dict(header.get("metadata", {})), modes)
    except PriorLoadError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise PriorLoadError(f"{path} is a damaged ZeDO prior file: {exc!r}") from exc


def _read_torch_file(path: Path) -> PosePrior:
    if not torch_available():
        raise PriorLoadError(
            f"{path} is a PyTorch prior file and PyTorch is not installed: convert it with "
            f"'python -m training.build_assets --convert {path.name} OUT.npz' where torch is installed"
        )
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise PriorLoadError(f"cannot read prior file {path}: {first_line}") from exc
    if not isinstance(state, dict) or state.get("format") not in _TORCH_FORMATS:
        raise PriorLoadError(f"{path} is not a ZeDO prior file")
    try:
        entries = state["networks"] if state["format"] == 2 else [state]
        members = [
            ScoreNetwork(
                NetworkConfig(**entry["network_config"]),
                {k: v.detach().float().numpy() for k, v in entry["state_dict"].items()},
            )
            for entry in entries
        ]
        initial = {int(k): v.float().numpy() for k, v in state["initial_poses"].items()}
        return PosePrior(members, SubVPSDE(**state["sde"]), initial, dict(state.get("metadata", {})))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise PriorLoadError(f"{path} is a damaged ZeDO prior file: {exc!r}") from exc


def _check_finite(prior: PosePrior, path: Path) -> None:
    for i, member in enumerate(prior.members):
        for name, value in member.params.items():
            if not np.isfinite(value).all():
                raise PriorLoadError(f"{path} is damaged: network {i} weight {name} holds NaN or infinity")
    for count, poses in prior.initial_poses.items():
        if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 3) or not np.isfinite(poses).all():
            raise PriorLoadError(f"{path} is damaged: its {count} initial poses are not finite (S, 17, 3) arrays")


def load_prior(path: str | Path | None = None, device: str = "auto", backend: str | None = None) -> PosePrior:
    """Load a prior (by default the one shipped in ``zedo_core/assets``, checked against its
    recorded SHA-256) for ``device``: numpy on the CPU (no PyTorch needed), torch on CUDA.
    ``backend="torch"`` runs on torch on the CPU too. Raises :class:`PriorLoadError` naming the file."""
    shipped = path is None
    path = Path(path) if path is not None else DEFAULT_PRIOR_PATH
    if not path.is_file():
        raise PriorLoadError(f"prior file not found: {path}")
    if shipped:
        _verify_checksum(path)
    with open(path, "rb") as handle:
        magic = handle.read(4)
    # Both formats are zip archives; a PyTorch file holds a pickle ("data.pkl"), ours does not.
    is_torch_file = path.suffix == ".pt"
    if magic[:2] == b"PK" and not is_torch_file:
        try:
            with zipfile.ZipFile(path) as archive:
                is_torch_file = any(name.endswith("data.pkl") for name in archive.namelist())
        except (zipfile.BadZipFile, OSError) as exc:
            raise PriorLoadError(f"cannot read prior file {path}: {exc}") from exc
    prior = _read_torch_file(path) if is_torch_file else _read_npz(path)
    if not prior.members:
        raise PriorLoadError(f"{path} holds no score network")
    _check_finite(prior, path)
    return prior.to(device, backend)
