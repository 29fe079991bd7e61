"""Compute-optimal scaling: FLOP and parameter estimates, training FLOPs of the library's models, scaling laws."""

from perceiver.scaling.estimator import (
    ComputeEstimator,
    ModelInfo,
    num_cross_attn_params,
    num_model_params,
    num_self_attn_params,
    num_training_steps,
    num_training_tokens,
    perceiver_ar_num_params,
)
from perceiver.scaling.flops import linear_flops, training_flops
from perceiver.scaling.laws import ScalingLaw, fit_power_law, fit_scaling_law, isoflop_optimum

__all__ = [
    "ComputeEstimator",
    "ModelInfo",
    "ScalingLaw",
    "fit_power_law",
    "fit_scaling_law",
    "isoflop_optimum",
    "linear_flops",
    "num_cross_attn_params",
    "num_model_params",
    "num_self_attn_params",
    "num_training_steps",
    "num_training_tokens",
    "perceiver_ar_num_params",
    "training_flops",
]
