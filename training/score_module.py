"""The score network's trainable parameters as a torch module; its forward pass is the engine's
(``zedo_core.network.score_forward``), so training and lifting share one implementation."""

from __future__ import annotations

import torch
from torch import nn

from zedo_core.network import INPUT_DIM, NetworkConfig, ScoreNetwork, score_forward


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, temb_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, width)
        self.fc1 = nn.Linear(width, width)
        self.time1 = nn.Linear(temb_dim, width)
        self.norm2 = nn.GroupNorm(groups, width)
        self.fc2 = nn.Linear(width, width)
        self.time2 = nn.Linear(temb_dim, width)


class ScoreModule(nn.Module):
    """Trainable score network: PyTorch's default initialisation of each layer, parameter names as
    :meth:`NetworkConfig.parameter_shapes` lists them (the layout of checkpoints and prior files)."""

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("input_mean", torch.zeros(INPUT_DIM))
        self.register_buffer("input_std", torch.ones(INPUT_DIM))
        self.time_mlp = nn.Sequential(nn.Linear(config.time_embedding_dim, config.time_embedding_dim), nn.SiLU())
        self.input = nn.Linear(INPUT_DIM, config.width)
        self.blocks = nn.ModuleList(
            _ResidualBlock(config.width, config.time_embedding_dim, config.groups) for _ in range(config.num_blocks)
        )
        self.out_norm = nn.GroupNorm(config.groups, config.width)
        self.output = nn.Linear(config.width, INPUT_DIM)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        params = dict(self.named_parameters())
        params.update(self.named_buffers())
        dropout = self.dropout if self.training and self.config.dropout > 0 else None
        return score_forward(params, self.config, x, t, dropout)

    def for_inference(self) -> ScoreNetwork:
        """The engine's network with a copy of these weights (float32 numpy arrays)."""
        state = {k: v.detach().cpu().float().numpy().copy() for k, v in self.state_dict().items()}
        return ScoreNetwork(self.config, state)
