"""Adapted inputs whose position channels are shared by the batch, and cross-attention key/value projection that
exploits it.

Image and optical-flow inputs are per-example features concatenated with position encodings that are the same for
every example. Cross-attention normalises that array (``kv_norm``, a LayerNorm over all channels) and projects it to
keys and values: the largest matrix products of those models, over ``batch x positions`` rows. Because a LayerNorm
followed by a linear layer is linear in the centred input, the shared channels can be projected once per position:

    proj(norm(x)) = rstd * (W_e ((e - mean) * g_e) + W_s (s * g_s) - mean * W_s g_s) + (W beta + b)

with ``e`` the per-example channels, ``s`` the shared ones, ``g``/``beta`` the LayerNorm affine parameters and
``mean``/``rstd`` the per-token LayerNorm statistics (computed in float64 from per-example sums and per-position
sums of the shared channels). The values are those of the direct computation up to rounding.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class SplitInput:
    """``cat([per_example, shared.expand(b, -1, -1)], dim=-1)`` kept in its two parts.

    :param per_example: ``(b, n, c1)`` features of each example.
    :param shared: ``(n, c2)`` channels that are the same for every example (position encodings).
    """

    per_example: torch.Tensor
    shared: torch.Tensor

    def __post_init__(self):
        if self.per_example.dim() != 3 or self.shared.dim() != 2:
            raise ValueError(
                f"SplitInput needs per_example (b, n, c1) and shared (n, c2), got shapes "
                f"{tuple(self.per_example.shape)} and {tuple(self.shared.shape)}"
            )
        if self.per_example.shape[1] != self.shared.shape[0]:
            raise ValueError(
                f"per_example has {self.per_example.shape[1]} positions but shared has {self.shared.shape[0]}"
            )

    @property
    def shape(self) -> torch.Size:
        b, n, c1 = self.per_example.shape
        return torch.Size((b, n, c1 + self.shared.shape[1]))

    def materialize(self) -> torch.Tensor:
        """The concatenated ``(b, n, c1 + c2)`` tensor."""
        shared = self.shared.to(self.per_example.dtype).expand(self.per_example.shape[0], -1, -1)
        return torch.cat([self.per_example, shared], dim=-1)


def can_project_split(norm: nn.Module, projections: tuple[nn.Module, ...], x: SplitInput) -> bool:
    """Whether :func:`split_norm_project` computes ``proj(norm(x))`` here: a plain affine LayerNorm over the last
    dim, plain linear layers (wrapped ones, e.g. by adapter libraries, take the direct path), fp32 without autocast.
    """
    per_example = x.per_example
    return (
        type(norm) is nn.LayerNorm
        and norm.elementwise_affine
        and len(norm.normalized_shape) == 1
        and all(type(proj) is nn.Linear for proj in projections)
        and per_example.dtype == torch.float32
        and not torch.is_autocast_enabled(per_example.device.type)
    )


def split_norm_project(
    x: SplitInput, norm: nn.LayerNorm, projections: tuple[nn.Linear, ...], num_heads: int = 1, multiple: int = 1
) -> list[torch.Tensor]:
    """``[proj(norm(x.materialize())) for proj in projections]`` without materialising ``x`` or its normalisation;
    the shared channels are projected once per position (see the module docstring).

    With ``multiple > 1`` each of the ``num_heads`` heads of an output is zero-padded to a multiple of ``multiple``
    channels (the zero channels come out of the projection itself: no copy), as fused attention kernels prefer.
    """
    per_example, shared = x.per_example, x.shared.to(x.per_example.dtype)
    c1, c2 = per_example.shape[-1], shared.shape[-1]
    channels = c1 + c2

    # LayerNorm statistics per token; the shared channels contribute through per-position sums
    shared_sum = shared.sum(-1, dtype=torch.float64)
    shared_sq_sum = shared.square().sum(-1, dtype=torch.float64)
    mean = (per_example.sum(-1, dtype=torch.float64) + shared_sum) / channels  # (b, n)
    centered = per_example - mean.unsqueeze(-1).to(per_example.dtype)
    # sum over the shared channels of (s - mean)^2, expanded: exact for the bounded values of position encodings
    sq_dev = centered.square().sum(-1, dtype=torch.float64) + shared_sq_sum - 2 * mean * shared_sum
    sq_dev = sq_dev + c2 * mean.square()
    rstd = torch.rsqrt(sq_dev / channels + norm.eps).to(per_example.dtype).unsqueeze(-1)  # (b, n, 1)
    mean = mean.to(per_example.dtype).unsqueeze(-1)

    gamma_per_example, gamma_shared = norm.weight[:c1], norm.weight[c1:]
    # rstd * ((e - mean) * g_e) and -rstd * mean: the per-example operand of every projection
    features = torch.cat([centered * gamma_per_example * rstd, -(mean * rstd)], dim=-1)  # (b, n, c1 + 1)
    outputs = []
    for proj in projections:
        w_per_example, w_shared = proj.weight[:, :c1], proj.weight[:, c1:]
        shared_projected = F.linear(shared * gamma_shared, w_shared)  # (n, out): once per position
        shared_gain = F.linear(gamma_shared, w_shared)  # (out,): what the mean removes from the shared channels
        weight = torch.cat([w_per_example, shared_gain.unsqueeze(1)], dim=1)  # (out, c1 + 1)
        offset = F.linear(norm.bias, proj.weight, proj.bias) if norm.bias is not None else proj.bias
        weight, offset, shared_projected = pad_heads(weight, offset, shared_projected, num_heads, multiple)
        outputs.append(ProjectSplit.apply(features, weight, offset, rstd, shared_projected))
    return outputs


def pad_heads(
    weight: torch.Tensor, bias: torch.Tensor | None, projected: torch.Tensor, num_heads: int, multiple: int
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Zero-pad the output channels of a projection (``weight (out, in)``, ``bias (out,)``, an array ``projected
    (..., out)``) head by head, so that each of the ``num_heads`` heads has a multiple of ``multiple`` channels."""
    head_dim = weight.shape[0] // num_heads
    padding = -head_dim % multiple
    if padding == 0:
        return weight, bias, projected
    weight = F.pad(weight.unflatten(0, (num_heads, head_dim)), (0, 0, 0, padding)).flatten(0, 1)
    if bias is not None:
        bias = F.pad(bias.unflatten(0, (num_heads, head_dim)), (0, padding)).flatten()
    projected = F.pad(projected.unflatten(-1, (num_heads, head_dim)), (0, padding)).flatten(-2)
    return weight, bias, projected


class ProjectSplit(torch.autograd.Function):
    """``linear(features, weight, bias) + rstd * shared_projected`` (broadcast over the batch), with a backward that
    reduces over batch x positions in the fast orientation: the ``(batch x positions, out)`` gradient is read as few
    times as possible (the arrays are large and memory-bound, the operands small)."""

    @staticmethod
    def forward(ctx, features, weight, bias, rstd, shared_projected):
        ctx.save_for_backward(features, weight, rstd, shared_projected)
        ctx.has_bias = bias is not None
        return F.linear(features, weight, bias).addcmul_(rstd, shared_projected)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        # batched matmuls take ``grad`` in whatever layout it arrives (the keys' gradient comes transposed from
        # attention): reshaping it to 2-D would copy the largest array of the step
        features, weight, rstd, shared_projected = ctx.saved_tensors
        grad_features = grad_weight = grad_bias = grad_rstd = grad_shared = None
        if ctx.needs_input_grad[0]:
            grad_features = torch.bmm(grad, weight.expand(grad.shape[0], -1, -1))
        if ctx.needs_input_grad[1]:
            grad_weight = torch.bmm(features.transpose(1, 2), grad).sum(0).t()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 1))
        if ctx.needs_input_grad[3]:
            # the statistics depend on trainable inputs (learned or convolved adapter features)
            grad_rstd = (grad * shared_projected).sum(-1, keepdim=True)
        if ctx.needs_input_grad[4]:
            # sum over the batch of rstd * grad, accumulated per example: no batch-sized temporary
            grad_shared = torch.zeros_like(grad[0])
            for grad_example, rstd_example in zip(grad, rstd):
                grad_shared.addcmul_(grad_example, rstd_example)
        return grad_features, grad_weight, grad_bias, grad_rstd, grad_shared
