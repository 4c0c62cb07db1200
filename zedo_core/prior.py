"""The trained pose prior shipped with the package: score network, SDE and initial poses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .network import NetworkConfig, ScoreEnsemble, ScoreNetwork, combine_networks
from .sde import SubVPSDE
from .skeleton import NUM_JOINTS

DEFAULT_PRIOR_PATH = Path(__file__).resolve().parent / "assets" / "prior.pt"
# Format 2 holds a list of networks (an ensemble); format 1 (one network) is still read.
ASSET_FORMAT = 2


class PriorLoadError(RuntimeError):
    """The prior file is missing, unreadable or not in the expected format."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; ``"cuda"`` without CUDA is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but PyTorch sees no CUDA device")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda'")
    return torch.device(device)


@dataclass
class PosePrior:
    """A diffusion prior over pelvis-relative 3D poses (metres, camera frame).

    ``network`` is one score network or an ensemble of them (their mean noise estimate).
    ``initial_poses`` maps a hypothesis count S to ``(S, 17, 3)`` K-Means centres of the training
    poses, each an upright person facing the camera.
    """

    network: ScoreNetwork | ScoreEnsemble
    sde: SubVPSDE
    initial_poses: dict[int, torch.Tensor]
    metadata: dict = field(default_factory=dict)

    @property
    def members(self) -> list[ScoreNetwork]:
        """The score networks whose noise estimates are averaged (one for a single network)."""
        if isinstance(self.network, ScoreEnsemble):
            return list(self.network.members)
        return [self.network]

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: str | torch.device) -> "PosePrior":
        device = resolve_device(device)
        self.network.to(device)
        self.initial_poses = {k: v.to(device) for k, v in self.initial_poses.items()}
        return self

    @torch.no_grad()
    def predict_noise(self, poses: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The network's noise estimate for poses ``(B, 17, 3)`` at times ``t`` ``(B,)``."""
        flat = poses.reshape(poses.shape[0], NUM_JOINTS * 3)
        return self.network(flat, t).reshape(poses.shape)

    @torch.no_grad()
    def denoise(self, poses: torch.Tensor, t: float, dt: float) -> torch.Tensor:
        """One truncated reverse-diffusion step at time ``t`` (deterministic Euler, step ``dt``)."""
        times = torch.full((poses.shape[0],), float(t), device=poses.device, dtype=poses.dtype)
        return self.sde.reverse_euler_step(poses, times, self.predict_noise(poses, times), dt)

    @torch.no_grad()
    def implausibility(self, poses: torch.Tensor, t: float = 0.05) -> torch.Tensor:
        """How unlikely each pose ``(B, 17, 3)`` is under the prior: the squared norm of the
        network's noise estimate at time ``t`` (a scaled score norm; 0 on the data manifold).
        Used to choose among hypotheses that all fit the 2D keypoints."""
        relative = poses - poses[:, :1]
        times = torch.full((poses.shape[0],), float(t), device=poses.device, dtype=poses.dtype)
        return self.predict_noise(relative, times).square().sum(dim=(1, 2))

    def state(self) -> dict:
        """A ``torch.save``-able dict that :func:`load_prior` reads back (weights_only-safe)."""
        return {
            "format": ASSET_FORMAT,
            "networks": [
                {
                    "network_config": member.config.to_dict(),
                    "state_dict": {k: v.detach().cpu() for k, v in member.state_dict().items()},
                }
                for member in self.members
            ],
            "sde": {"beta_min": self.sde.beta_min, "beta_max": self.sde.beta_max},
            "initial_poses": {str(k): v.detach().cpu() for k, v in self.initial_poses.items()},
            "metadata": dict(self.metadata),
        }


def load_prior(path: str | Path | None = None, device: str | torch.device = "auto") -> PosePrior:
    """Load a prior (by default the one shipped in ``zedo_core/assets``) onto ``device``."""
    path = Path(path) if path is not None else DEFAULT_PRIOR_PATH
    if not path.is_file():
        raise PriorLoadError(f"prior file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise PriorLoadError(f"cannot read prior file {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") not in (1, ASSET_FORMAT):
        raise PriorLoadError(f"{path} is not a ZeDO prior file (format {ASSET_FORMAT})")
    try:
        entries = state["networks"] if state["format"] == ASSET_FORMAT else [state]
        members = []
        for entry in entries:
            member = ScoreNetwork(NetworkConfig(**entry["network_config"]))
            member.load_state_dict(entry["state_dict"])
            members.append(member)
        prior = PosePrior(
            network=combine_networks(members).eval().requires_grad_(False),
            sde=SubVPSDE(**state["sde"]),
            initial_poses={int(k): v.float() for k, v in state["initial_poses"].items()},
            metadata=dict(state.get("metadata", {})),
        )
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
        raise PriorLoadError(f"{path} is a damaged ZeDO prior file: {exc!r}") from exc
    return prior.to(device)
