"""Multi-process training: DDP on CPU with gloo, and the FSDP strategy for Perceiver AR."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, StrategyRegistry

from perceiver.model.core.layers import CrossAttentionLayer, SelfAttentionLayer
from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig
from perceiver.scripts.cli import fsdp_perceiver_ar_strategy, perceiver_ar_wrapped_modules


@pytest.mark.slow
def test_ddp_two_processes_on_cpu_end_with_identical_weights(tmp_path):
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    script = Path(__file__).with_name("ddp_fit.py")
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    initial = torch.load(tmp_path / "initial.pt")
    assert all(r["world_size"] == 2 and r["global_step"] == 3 for r in ranks)
    for key, value in ranks[0]["state_dict"].items():
        assert torch.equal(value, ranks[1]["state_dict"][key]), key
    changed = [k for k, v in initial.items() if not torch.equal(v, ranks[0]["state_dict"][k])]
    assert len(changed) > len(initial) // 2


def test_ddp_static_graph_strategy_is_registered():
    strategy = StrategyRegistry.get("ddp_static_graph")
    assert isinstance(strategy, DDPStrategy)
    assert strategy._ddp_kwargs == {"static_graph": True, "find_unused_parameters": False}


def test_fsdp_strategy_wraps_each_attention_layer():
    strategy = StrategyRegistry.get("fsdp_perceiver_ar")
    assert isinstance(strategy, FSDPStrategy)
    modules = perceiver_ar_wrapped_modules()
    assert modules == {CrossAttentionLayer, SelfAttentionLayer}
    # activation checkpointing applies to the same layers
    checkpointing = strategy._activation_checkpointing_kwargs["auto_wrap_policy"]
    assert checkpointing._module_classes == modules

    # the policy it builds picks the cross-attention layer and every self-attention layer (plus the root)
    model = CausalLanguageModel(
        CausalLanguageModelConfig(
            max_seq_len=16, max_latents=4, num_channels=16, num_heads=2, num_self_attention_layers=3
        )
    )
    policy = strategy.kwargs["auto_wrap_policy"]
    chosen = policy._run_policy(model, ignored_modules=set(), root_kwargs={})
    wrapped = [m for m in chosen if m is not model]
    assert len(wrapped) == 4
    assert sum(isinstance(m, CrossAttentionLayer) for m in wrapped) == 1
    assert sum(isinstance(m, SelfAttentionLayer) for m in wrapped) == 3
    assert fsdp_perceiver_ar_strategy(cpu_offload=True).cpu_offload.offload_params


@pytest.mark.slow
def test_fsdp_policies_wrap_and_train_on_cpu():
    import json

    script = Path(__file__).with_name("fsdp_wrap.py")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # root + cross-attention layer + 2 self-attention layers; the 3 layers also recompute activations
    assert report["fsdp_units"] == 4 and report["checkpointed"] == 3
    assert report["max_diff"] < 1e-6 and report["grad_diff"] < 1e-5
