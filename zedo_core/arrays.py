"""The engine's maths run on numpy arrays (default: no PyTorch needed) or on torch tensors (CUDA).

Every function of the lifting loop is written once, against the array it is given: numpy and torch
share most names (``sum(axis=, keepdims=)``, ``where``, ``einsum``, ``linalg.solve``, ``stack(axis=)``,
``exp``...), and the few that differ live here. :func:`namespace` returns the module that owns an
array, so a caller never says which library it uses. torch is imported only when a torch tensor is
already in hand.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

Array = Any  # a numpy.ndarray or a torch.Tensor


def is_torch(x: Array) -> bool:
    """True for a torch tensor (checked without importing torch)."""
    return type(x).__module__.startswith("torch")


def namespace(x: Array) -> ModuleType:
    """The module whose functions apply to ``x``: ``numpy`` or ``torch``."""
    if is_torch(x):
        import torch

        return torch
    return np


def to_numpy(x: Array) -> np.ndarray:
    """``x`` as a numpy array on the CPU (no copy for numpy input)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def dtype_name(x: Array) -> str:
    """``x``'s dtype as numpy spells it (``"float32"``, ``"float64"``, ``"int64"``, ``"bool"``...)."""
    return str(x.dtype).removeprefix("torch.")


def as_dtype(x: Array, dtype: str) -> Array:
    """``x`` converted to ``"float32"``, ``"float64"``, ``"int64"`` or ``"bool"`` (no copy when it already is)."""
    xp = namespace(x)
    target = getattr(xp, dtype) if is_torch(x) else np.dtype(dtype)
    if is_torch(x):
        return x.to(target)
    return x.astype(target, copy=False)


def asarray_like(data: Array, like: Array, dtype: str | None = None) -> Array:
    """``data`` (numpy, torch or a Python sequence) as an array of ``like``'s kind and device
    (and ``like``'s dtype unless ``dtype`` is given)."""
    if is_torch(like):
        import torch

        target = getattr(torch, dtype) if dtype else like.dtype
        if is_torch(data):
            return data.to(device=like.device, dtype=target)
        return torch.as_tensor(np.asarray(data), device=like.device).to(target)
    return np.asarray(to_numpy(data), dtype=np.dtype(dtype) if dtype else like.dtype)


def eye_like(like: Array, n: int = 3, dtype: str | None = None) -> Array:
    """The ``n x n`` identity of ``like``'s kind, device and (unless given) dtype."""
    if is_torch(like):
        import torch

        return torch.eye(n, dtype=getattr(torch, dtype) if dtype else like.dtype, device=like.device)
    return np.eye(n, dtype=np.dtype(dtype) if dtype else like.dtype)


def full_like_shape(like: Array, shape: tuple[int, ...], value: float, dtype: str | None = None) -> Array:
    """An array of ``shape`` filled with ``value``, of ``like``'s kind, device and (unless given) dtype."""
    if is_torch(like):
        import torch

        return torch.full(shape, value, dtype=getattr(torch, dtype) if dtype else like.dtype, device=like.device)
    return np.full(shape, value, dtype=np.dtype(dtype) if dtype else like.dtype)


def contiguous(x: Array) -> Array:
    """``x`` laid out contiguously in memory (a copy only when it is not)."""
    return x.contiguous() if is_torch(x) else np.ascontiguousarray(x)


def copy(x: Array) -> Array:
    """An independent copy of ``x``."""
    return x.clone() if is_torch(x) else x.copy()


def norm(x: Array, axis: int = -1, keepdims: bool = False) -> Array:
    """Euclidean norm along ``axis``."""
    return namespace(x).sqrt((x * x).sum(axis, keepdims=keepdims))


def smallest_k(x: Array, k: int, axis: int = -1) -> Array:
    """Indices of the ``k`` smallest values along ``axis`` (any order among them)."""
    if is_torch(x):
        return x.topk(k, dim=axis, largest=False).indices
    k = min(k, x.shape[axis])
    return np.argpartition(x, k - 1, axis=axis).take(np.arange(k), axis=axis)


def take_along_axis(x: Array, index: Array, axis: int) -> Array:
    """``x`` gathered at ``index`` along ``axis`` (numpy's ``take_along_axis``)."""
    if is_torch(x):
        import torch

        return torch.take_along_dim(x, index, dim=axis)
    return np.take_along_axis(x, index, axis=axis)


def nanmedian(x: Array, axis: int = -1) -> Array:
    """Median along ``axis`` ignoring NaN, the mean of the two middle values for an even count
    (as numpy; torch's own ``nanmedian`` takes the lower one); NaN where every value is NaN."""
    xp = namespace(x)
    ordered = xp.sort(x, axis=axis)  # NaN sorts last in numpy and torch
    if is_torch(x):
        ordered = ordered.values  # torch.sort returns (values, indices)
    count = xp.isfinite(x).sum(axis, keepdims=True)
    last = x.shape[axis] - 1
    low = xp.clip((count - 1) // 2, 0, last)
    high = xp.clip(count // 2, 0, last)
    median = 0.5 * (take_along_axis(ordered, low, axis) + take_along_axis(ordered, high, axis))
    median = xp.where(count > 0, median, xp.full_like(median, float("nan")))
    return median.squeeze(axis)


# Neural-network primitives: one formula, with torch's fused kernels where the input is a tensor
# (its autograd then trains through them).


def linear(x: Array, weight: Array, bias: Array) -> Array:
    """``x @ weight.T + bias``."""
    if is_torch(x):
        import torch.nn.functional as F

        return F.linear(x, weight, bias)
    return x @ weight.T + bias


def silu(x: Array) -> Array:
    """``x * sigmoid(x)``."""
    if is_torch(x):
        import torch.nn.functional as F

        return F.silu(x)
    # Through tanh: no overflow warnings for large negative x in float32.
    return x * (0.5 + 0.5 * np.tanh(0.5 * x))


def group_norm(x: Array, groups: int, weight: Array, bias: Array, eps: float = 1e-5) -> Array:
    """Group normalisation of ``x`` ``(B, C)``: each of ``groups`` channel groups standardised, then
    scaled by ``weight`` and shifted by ``bias`` ``(C,)``."""
    if is_torch(x):
        import torch.nn.functional as F

        return F.group_norm(x, groups, weight, bias, eps)
    grouped = x.reshape(x.shape[0], groups, x.shape[1] // groups)
    centred = grouped - grouped.mean(-1, keepdims=True)
    variance = (centred * centred).mean(-1, keepdims=True)
    return (centred / np.sqrt(variance + eps)).reshape(x.shape) * weight + bias
