"""The score network: an MLP that predicts the noise in a noised, pelvis-relative 3D pose."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .skeleton import NUM_JOINTS


@dataclass(frozen=True)
class NetworkConfig:
    """Shape of the score network. The reference network is width 1024, 2 residual blocks."""

    width: int = 512
    num_blocks: int = 2
    time_embedding_dim: int = 128
    groups: int = 32
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def sinusoidal_embedding(t: torch.Tensor, dim: int, scale: float = 999.0) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of ``scale * t`` (shape ``(B,)`` -> ``(B, dim)``)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=t.dtype) / (half - 1))
    args = (scale * t)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, temb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, width)
        self.fc1 = nn.Linear(width, width)
        self.time1 = nn.Linear(temb_dim, width)
        self.norm2 = nn.GroupNorm(groups, width)
        self.fc2 = nn.Linear(width, width)
        self.time2 = nn.Linear(temb_dim, width)
        self.dropout = nn.Dropout(dropout)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        r = self.fc1(self.act(self.norm1(h))) + self.time1(temb)
        r = self.fc2(self.dropout(self.act(self.norm2(r)))) + self.time2(temb)
        return h + r


class ScoreNetwork(nn.Module):
    """Predicts the noise ``z`` from ``(x(t), t)``; ``x`` is ``(B, 51)`` pelvis-relative metres.

    Inputs are standardised with fixed per-coordinate statistics of the training poses
    (``input_mean``, ``input_std`` buffers), which keeps the MLP well conditioned.
    """

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        super().__init__()
        self.config = config
        dim = NUM_JOINTS * 3
        self.register_buffer("input_mean", torch.zeros(dim))
        self.register_buffer("input_std", torch.ones(dim))
        self.time_mlp = nn.Sequential(nn.Linear(config.time_embedding_dim, config.time_embedding_dim), nn.SiLU())
        self.input = nn.Linear(dim, config.width)
        self.blocks = nn.ModuleList(
            _ResidualBlock(config.width, config.time_embedding_dim, config.groups, config.dropout)
            for _ in range(config.num_blocks)
        )
        self.out_norm = nn.GroupNorm(config.groups, config.width)
        self.output = nn.Linear(config.width, dim)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(sinusoidal_embedding(t, self.config.time_embedding_dim))
        h = self.input((x - self.input_mean) / self.input_std)
        for block in self.blocks:
            h = block(h, temb)
        return self.output(self.act(self.out_norm(h)))


class ScoreEnsemble(nn.Module):
    """Several independently trained score networks used as one: the mean of their noise estimates.

    Their errors on people none of them saw are partly independent, so the mean generalises
    better than any member (README "Training the prior"); the cost is one network call per member.
    """

    def __init__(self, members: Sequence[ScoreNetwork]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a score ensemble needs at least one network")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        total = self.members[0](x, t)
        for member in self.members[1:]:
            total = total + member(x, t)
        return total / len(self.members)


def combine_networks(members: Sequence[ScoreNetwork]) -> ScoreNetwork | ScoreEnsemble:
    """One network as itself, several as their :class:`ScoreEnsemble`."""
    return members[0] if len(members) == 1 else ScoreEnsemble(members)
