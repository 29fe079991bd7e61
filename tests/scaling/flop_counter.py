"""An independent FLOP count: intercepts every matrix product a forward pass calls, at the torch function level."""

import math

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.bmm, torch.Tensor.bmm, torch.mm}


class MatmulFlopCounter(TorchFunctionMode):
    """Counts ``2 * m * n * k`` for every ``F.linear``, matmul, ``scaled_dot_product_attention`` (full score matrix
    and weighted sum, masks not subtracted) and ``conv2d`` call made while active; ``calls`` names what was seen."""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self.calls: dict[str, int] = {}

    def _add(self, name: str, flops: int) -> None:
        self.flops += flops
        self.calls[name] = self.calls.get(name, 0) + 1

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func is F.linear:
            x, weight = args[0], args[1]
            self._add("linear", 2 * (x.numel() // x.shape[-1]) * weight.shape[1] * weight.shape[0])
        elif func in MATMULS:
            self._add("matmul", 2 * out.numel() * args[0].shape[-1])
        elif func is F.scaled_dot_product_attention:
            q, k, v = args[:3]
            batch = math.prod(q.shape[:-2])
            self._add("sdpa", 2 * batch * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1]))
        elif func is F.conv2d:
            weight = args[1]
            self._add("conv2d", 2 * out.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3])
        return out


def count_forward_flops(forward) -> MatmulFlopCounter:
    with MatmulFlopCounter() as counter:
        forward()
    return counter
