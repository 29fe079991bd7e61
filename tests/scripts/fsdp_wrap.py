"""Run by test_distributed.py: wrap a tiny Perceiver AR with the ``fsdp_perceiver_ar`` policies in a one-process
gloo group on CPU; print the number of FSDP units, the output difference to the unwrapped model and whether the
backward pass ran."""

import json
import os

import torch
import torch.distributed as dist
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
    CheckpointWrapper,
    apply_activation_checkpointing,
    checkpoint_wrapper,
)
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig
from perceiver.scripts.cli import fsdp_perceiver_ar_strategy

os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
os.environ.setdefault("MASTER_PORT", "29541")
dist.init_process_group("gloo", rank=0, world_size=1)

config = CausalLanguageModelConfig(
    max_seq_len=16, max_latents=4, num_channels=16, num_heads=2, num_self_attention_layers=2, cross_attention_dropout=0
)
model, reference = CausalLanguageModel(config), CausalLanguageModel(config)
reference.load_state_dict(model.state_dict())

strategy = fsdp_perceiver_ar_strategy()  # the policies Lightning would apply on GPUs
wrap_policy = strategy.kwargs["auto_wrap_policy"]
checkpoint_policy = strategy._activation_checkpointing_kwargs["auto_wrap_policy"]
sharded = FSDP(model, auto_wrap_policy=wrap_policy, device_id=torch.device("cpu"), use_orig_params=True)
classes = tuple(checkpoint_policy._module_classes)
apply_activation_checkpointing(
    sharded, checkpoint_wrapper_fn=checkpoint_wrapper, check_fn=lambda m: isinstance(m, classes)
)

x = torch.randint(6, 262, (2, 16))
logits = sharded(x, prefix_len=12).logits
expected = reference(x, prefix_len=12).logits
logits.sum().backward()
expected.sum().backward()
grad = sharded.module.output_adapter.bias.grad
print(
    json.dumps(
        {
            "fsdp_units": sum(isinstance(m, FSDP) for m in sharded.modules()),
            "checkpointed": sum(isinstance(m, CheckpointWrapper) for m in sharded.modules()),
            "max_diff": float((logits - expected).abs().max()),
            "grad_diff": float((grad - reference.output_adapter.bias.grad).abs().max()),
        }
    )
)
dist.destroy_process_group()
