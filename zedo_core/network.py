"""The score network: an MLP that predicts the noise in a noised, pelvis-relative 3D pose.

Its forward pass is written once (:func:`score_forward`) over numpy arrays or torch tensors: the
add-on runs it on numpy, the CUDA path and training (``training.score_module``, which owns the
trainable torch parameters) on torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from .arrays import Array, as_dtype, asarray_like, group_norm, is_torch, linear, namespace, silu, to_numpy
from .skeleton import NUM_JOINTS

INPUT_DIM = NUM_JOINTS * 3


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

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter and buffer the forward pass reads, with its shape."""
        w, e = self.width, self.time_embedding_dim
        shapes: dict[str, tuple[int, ...]] = {
            "input_mean": (INPUT_DIM,),
            "input_std": (INPUT_DIM,),
            "time_mlp.0.weight": (e, e),
            "time_mlp.0.bias": (e,),
            "input.weight": (w, INPUT_DIM),
            "input.bias": (w,),
        }
        for i in range(self.num_blocks):
            for norm in ("norm1", "norm2"):
                shapes[f"blocks.{i}.{norm}.weight"] = shapes[f"blocks.{i}.{norm}.bias"] = (w,)
            for fc in ("fc1", "fc2"):
                shapes[f"blocks.{i}.{fc}.weight"], shapes[f"blocks.{i}.{fc}.bias"] = (w, w), (w,)
            for time in ("time1", "time2"):
                shapes[f"blocks.{i}.{time}.weight"], shapes[f"blocks.{i}.{time}.bias"] = (w, e), (w,)
        shapes["out_norm.weight"] = shapes["out_norm.bias"] = (w,)
        shapes["output.weight"], shapes["output.bias"] = (INPUT_DIM, w), (INPUT_DIM,)
        return shapes


def sinusoidal_embedding(t: Array, dim: int, scale: float = 999.0) -> Array:
    """Transformer-style sinusoidal embedding of ``scale * t`` (shape ``(B,)`` -> ``(B, dim)``)."""
    xp = namespace(t)
    half = dim // 2
    steps = asarray_like(list(range(half)), t)
    freqs = xp.exp(steps * (-math.log(10000.0) / (half - 1)))
    args = (scale * t)[:, None] * freqs[None, :]
    return xp.concatenate([xp.sin(args), xp.cos(args)], axis=1)


def _linear(params: Mapping[str, Array], name: str, x: Array) -> Array:
    return linear(x, params[f"{name}.weight"], params[f"{name}.bias"])


def _group_norm(params: Mapping[str, Array], name: str, x: Array, groups: int) -> Array:
    return group_norm(x, groups, params[f"{name}.weight"], params[f"{name}.bias"])


def score_forward(
    params: Mapping[str, Array],
    config: NetworkConfig,
    x: Array,
    t: Array,
    dropout: Callable[[Array], Array] | None = None,
) -> Array:
    """The noise estimate ``(B, 51)`` for noised poses ``x`` ``(B, 51)`` (pelvis-relative metres) at
    times ``t`` ``(B,)``. ``params`` maps the names of :meth:`NetworkConfig.parameter_shapes` to
    arrays of ``x``'s kind; ``dropout`` (training only) is applied inside each residual block.

    Inputs are standardised with fixed per-coordinate statistics of the training poses
    (``input_mean``, ``input_std``), which keeps the MLP well conditioned.
    """
    # The lifting loop asks at one time for every row: the time branch is then computed once and
    # broadcast (a fifth of the multiply-adds otherwise).
    shared = dropout is None and t.shape[0] > 1 and bool((t == t[0]).all())
    temb = silu(_linear(params, "time_mlp.0", sinusoidal_embedding(t[:1] if shared else t, config.time_embedding_dim)))
    h = _linear(params, "input", (x - params["input_mean"]) / params["input_std"])
    for i in range(config.num_blocks):
        block = f"blocks.{i}"
        r = _linear(params, f"{block}.fc1", silu(_group_norm(params, f"{block}.norm1", h, config.groups)))
        r = r + _linear(params, f"{block}.time1", temb)
        r = silu(_group_norm(params, f"{block}.norm2", r, config.groups))
        if dropout is not None:
            r = dropout(r)
        r = _linear(params, f"{block}.fc2", r) + _linear(params, f"{block}.time2", temb)
        h = h + r
    return _linear(params, "output", silu(_group_norm(params, "out_norm", h, config.groups)))


@dataclass
class ScoreNetwork:
    """A trained score network for inference: its shape and its weights (numpy arrays or torch
    tensors, all of one kind)."""

    config: NetworkConfig
    params: dict[str, Array] = field(repr=False)

    def __post_init__(self) -> None:
        expected = self.config.parameter_shapes()
        missing = sorted(set(expected) - set(self.params))
        if missing:
            raise KeyError(f"missing network weights: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        for name, shape in expected.items():
            if tuple(self.params[name].shape) != shape:
                raise ValueError(f"network weight {name} has shape {tuple(self.params[name].shape)}, expected {shape}")
        self.params = {name: self.params[name] for name in expected}  # drop extras (e.g. training state)

    def __call__(self, x: Array, t: Array) -> Array:
        return score_forward(self.params, self.config, x, t)

    def converted(self, like: Array) -> "ScoreNetwork":
        """The same network with float32 weights of ``like``'s kind and device."""
        return ScoreNetwork(self.config, {k: asarray_like(v, like, "float32") for k, v in self.params.items()})

    def numpy_params(self) -> dict:
        """The weights as float32 numpy arrays."""
        return {k: as_dtype(to_numpy(v), "float32") for k, v in self.params.items()}

    @property
    def on_torch(self) -> bool:
        return is_torch(next(iter(self.params.values())))


def ensemble_noise(members: Sequence[ScoreNetwork], x: Array, t: Array) -> Array:
    """The mean noise estimate of several independently trained networks.

    Their errors on people none of them saw are partly independent, so the mean generalises
    better than any member (docs/research.md, "Training the prior"); the cost is one network
    call per member."""
    if not members:
        raise ValueError("a score ensemble needs at least one network")
    total = members[0](x, t)
    for member in members[1:]:
        total = total + member(x, t)
    return total / len(members) if len(members) > 1 else total
