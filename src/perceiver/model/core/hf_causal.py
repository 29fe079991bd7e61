"""The Hugging Face wrapper of Perceiver AR sequence models: ``transformers``' view of the KV cache, the output
and config classes, and the model with exact KV-cached ``generate`` on the latent schedule of
:mod:`perceiver.model.core.generation` (contrastive search from :mod:`perceiver.model.core.contrastive_search`)."""

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from transformers import GenerationMixin
from transformers.cache_utils import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast

from perceiver.model.core.adapter import check_token_ids
from perceiver.model.core.config import CausalSequenceModelConfig
from perceiver.model.core.config_dict import dataclass_from_dict
from perceiver.model.core.contrastive_search import contrastive_search
from perceiver.model.core.generation import LatentSchedule, check_left_padding, compiled_decode_step, step_inputs
from perceiver.model.core.hf_base import PerceiverBackendConfig, PerceiverPreTrainedModel
from perceiver.model.core.hf_compat import CACHE_NAME
from perceiver.model.core.kv_cache import KVCache, cache_length
from perceiver.model.core.perceiver_ar import CausalSequenceModel
from perceiver.model.core.utils import (
    attention_mask_to_pad_mask,
    check_labels,
    check_token_tensor,
    checked_inputs,
    inputs_checked,
)


class PerceiverARCache(Cache):
    """``transformers``' view of the Perceiver AR caches: one :class:`KVCache` for the hybrid cross-attention layer,
    then one per self-attention layer (``kv_cache``, the list the backend model fills and updates in place)."""

    def __init__(self, kv_cache: list[KVCache] | None = None):
        super().__init__(layers=[])
        self.kv_cache: list[KVCache] = [] if kv_cache is None else kv_cache

    def __len__(self) -> int:
        return len(self.kv_cache)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values held by layer ``index`` (views of the valid part of its buffers)."""
        cache = self.kv_cache[index]
        return cache.k[:, : cache.length], cache.v[:, : cache.length]

    def __repr__(self) -> str:
        return f"PerceiverARCache({self.kv_cache})"

    @property
    def is_compileable(self) -> bool:
        return False

    @property
    def is_croppable(self) -> bool:
        return False

    @property
    def batch_size(self) -> int:
        return self.kv_cache[0].batch_size if self.kv_cache else -1

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Positions held by the cross-attention cache: the part of the current window that is cached."""
        return self.kv_cache[0].length if self.kv_cache else 0

    def reset(self) -> None:
        for cache in self.kv_cache:
            cache.reset()

    def reorder_cache(self, beam_idx: torch.Tensor) -> None:
        for cache in self.kv_cache:
            cache.reorder(beam_idx)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.reorder_cache(indices)

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.kv_cache:
            index = torch.arange(self.kv_cache[0].batch_size).repeat_interleave(repeats)
            self.reorder_cache(index)

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("PerceiverARCache cannot be cropped: a Perceiver AR cache is refilled, not cut")


@dataclass
class PerceiverCausalSequenceModelOutput(CausalLMOutputWithPast):
    """Logits of the latent positions, ``hidden_states=(last_hidden_state,)``, the cache and the ``prefix_len``
    used."""

    prefix_len: int | None = None

    if CACHE_NAME == "cache":

        @property
        def past_key_values(self) -> Cache | None:
            """The cache under its older name."""
            return self.cache

    else:

        @property
        def cache(self) -> Cache | None:
            """The cache under its newer name."""
            return self.past_key_values


class PerceiverCausalSequenceModelConfig(PerceiverBackendConfig):
    """Wrapper config of Perceiver AR sequence models; subclasses set ``model_type`` and ``backend_config_class``."""

    backend_config_class = CausalSequenceModelConfig

    def __init__(self, backend_config: CausalSequenceModelConfig | None = None, **kwargs: Any):
        kwargs.setdefault("is_decoder", True)
        super().__init__(backend_config, **kwargs)

    @classmethod
    def default_backend_config(cls) -> CausalSequenceModelConfig:
        return cls.backend_config_class()

    @classmethod
    def backend_config_from_dict(cls, data: dict[str, Any]) -> CausalSequenceModelConfig:
        return dataclass_from_dict(cls.backend_config_class, data)

    @property
    def vocab_size(self) -> int:
        return self.model_config["vocab_size"]


class PerceiverCausalSequenceModel(PerceiverPreTrainedModel, GenerationMixin):
    """Hugging Face wrapper of a :class:`CausalSequenceModel` with ``generate`` on an exact latent schedule.

    ``generate(input_ids, num_latents=1, refill_latents=None, ...)`` supports greedy search, sampling, beam search,
    contrastive search, logits processors, stopping criteria and streamers, with and without cache, on left-padded
    batches (see :mod:`perceiver.model.core.generation`).
    """

    config_class = PerceiverCausalSequenceModelConfig
    backend_model_class = CausalSequenceModel
    main_input_name = "input_ids"

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # Perceiver AR brings its own cache (PerceiverARCache), made in prepare_inputs_for_generation.
        return False

    def get_input_embeddings(self) -> nn.Module:
        return self.backend_model.input_adapter.txt_embedding

    def forward(
        self,
        input_ids: torch.Tensor,
        prefix_len: int | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: PerceiverARCache | list[KVCache] | None = None,
        use_cache: bool | None = None,
        labels: torch.Tensor | None = None,
        past_key_values: PerceiverARCache | list[KVCache] | None = None,
        return_dict: bool | None = None,
        compile_decode_step: bool = False,
        pad_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> PerceiverCausalSequenceModelOutput | tuple:
        """
        :param input_ids: ``(b, n)`` token ids, left-padded where padded; with a filled cache only the new tokens.
        :param prefix_len: leading positions that are prefix (default: all but the last ``max_latents``).
        :param attention_mask: ``(b, cached + n)``, 1 = token, 0 = padding.
        :param cache: a :class:`PerceiverARCache` (``past_key_values`` is its older transformers name); with
            ``use_cache=True`` and no cache, a new one is filled.
        :param labels: ``(b, n)`` next-token targets aligned with ``input_ids`` (shifted inside, ``-100`` ignored);
            the loss covers the latent positions.
        :param compile_decode_step: run cached single-token steps through the backend's compiled decode step
            (:func:`~perceiver.model.core.generation.compiled_decode_step`); set by ``generate``.
        :param pad_mask: the backend's form of ``attention_mask`` (bool, ``True`` = padding), given instead of it
            (``generate`` does, with inputs it has checked).
        """
        if not inputs_checked():
            check_token_tensor(input_ids)
        cache = past_key_values if cache is None else cache
        functional = isinstance(cache, list) and not all(isinstance(c, KVCache) for c in cache)
        if isinstance(cache, list) and not functional:
            cache = PerceiverARCache(cache)
        if cache is not None and not functional and not isinstance(cache, PerceiverARCache):
            raise TypeError(f"cache must be a PerceiverARCache, got {type(cache).__name__}")
        if cache is None and use_cache:
            cache = PerceiverARCache()
        if isinstance(cache, PerceiverARCache):
            self._allocate(cache, input_ids)
        kv_cache = cache if functional or cache is None else cache.kv_cache
        num_cached = cache_length(kv_cache[0]) if kv_cache else 0
        if prefix_len is None:
            prefix_len = 0 if num_cached else max(0, input_ids.shape[1] - self.backend_model.max_latents)
        if attention_mask is not None:
            if pad_mask is not None:
                raise ValueError("give attention_mask or pad_mask, not both")
            # with a filled cache the mask also covers the cached tokens: the backend checks its length
            reference = attention_mask if num_cached else input_ids
            pad_mask = attention_mask_to_pad_mask(attention_mask, reference)

        backend = compiled_decode_step(self.backend_model) if compile_decode_step else self.backend_model
        output = backend(input_ids, prefix_len=prefix_len, pad_mask=pad_mask, kv_cache=kv_cache)
        if functional:
            cache = output.kv_cache
        loss = None if labels is None else self._loss(output.logits, labels, input_ids)
        result = PerceiverCausalSequenceModelOutput(
            loss=loss,
            logits=output.logits,
            hidden_states=(output.last_hidden_state,),
            prefix_len=prefix_len,
            **{CACHE_NAME: cache},
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        return result if return_dict else result.to_tuple()

    @staticmethod
    def _loss(logits: torch.Tensor, labels: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        if labels.shape != input_ids.shape:
            raise ValueError(
                f"labels must have the shape of input_ids {tuple(input_ids.shape)}, got {tuple(labels.shape)}"
            )
        check_labels(labels, logits.shape[-1], tuple(input_ids.shape))
        offset = input_ids.shape[1] - logits.shape[1]  # prefix_len, or 0 for a cached call
        targets = labels[:, offset + 1 :]
        return nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100
        )

    @torch.no_grad()
    def generate(
        self,
        inputs: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        num_latents: int = 1,
        refill_latents: int | None = None,
        compile_decode_step: bool = False,
        **kwargs: Any,
    ) -> Any:
        """``transformers``' ``generate`` on the latent schedule of :mod:`perceiver.model.core.generation`.

        :param num_latents: latents of the first step (the prompt's last ``num_latents`` positions; cut to the
            prompt length).
        :param refill_latents: latents after each refill pass once the latents reached ``max_latents`` (default
            :func:`~perceiver.model.core.generation.default_refill_latents`).
        :param compile_decode_step: run the cached single-token steps through ``torch.compile`` (the first call
            per model compiles, which takes seconds; worth it for long or repeated generation, see
            ``docs/generation.md``).
        """
        if not isinstance(compile_decode_step, bool):
            raise TypeError(f"compile_decode_step must be a bool, got {type(compile_decode_step).__name__}")
        if inputs is None and input_ids is None:
            raise ValueError("Either inputs or input_ids must be defined")
        if inputs is not None and input_ids is not None:
            raise ValueError("Only one of inputs or input_ids may be defined")
        input_ids = inputs if inputs is not None else input_ids
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            raise ValueError(f"input_ids must be a tensor of shape (batch_size, seq_len), got {_describe(input_ids)}")
        if input_ids.shape[0] == 0:
            raise ValueError("input_ids must hold at least one prompt, got batch_size 0")
        check_token_ids(input_ids, self.get_input_embeddings().num_embeddings, name="input_ids")
        for name in ("cache", "past_key_values"):
            if kwargs.get(name) is not None:
                raise ValueError(f"{name} cannot be passed to generate: the latent schedule manages the cache")
        schedule = LatentSchedule.create(
            self.backend_model.max_seq_len,
            self.backend_model.max_latents,
            input_ids.shape[1],
            num_latents,
            refill_latents,
        )
        attention_mask = kwargs.get("attention_mask")
        if attention_mask is not None:
            attention_mask_to_pad_mask(attention_mask, input_ids)  # type, shape and 0/1 values
            check_left_padding(attention_mask)
        if kwargs.get("custom_generate") is None and self._is_contrastive_search(kwargs):
            kwargs["custom_generate"] = contrastive_search
            kwargs["contrastive_streamer"] = kwargs.pop("streamer", None)
        if compile_decode_step:
            kwargs["compile_decode_step"] = True
        # the prompt, its mask and the latent counts are checked: the steps do not check again
        with checked_inputs():
            return super().generate(inputs=input_ids, latent_schedule=schedule, **kwargs)

    def _is_contrastive_search(self, kwargs: dict[str, Any]) -> bool:
        config = kwargs.get("generation_config") or self.generation_config

        def get(name: str) -> Any:
            return kwargs[name] if name in kwargs else getattr(config, name, None)

        penalty_alpha, top_k = get("penalty_alpha"), get("top_k")
        single_beam = get("num_beams") in (None, 1)
        return bool(penalty_alpha) and penalty_alpha > 0 and (top_k or 0) > 1 and not get("do_sample") and single_beam

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        cache: PerceiverARCache | None = None,
        attention_mask: torch.Tensor | None = None,
        use_cache: bool | None = None,
        latent_schedule: LatentSchedule | None = None,
        token_type_ids: torch.Tensor | None = None,
        past_key_values: PerceiverARCache | None = None,
        compile_decode_step: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Inputs of the next forward pass: the schedule's window, or only the newest token with a cache that holds
        the window's earlier positions. ``token_type_ids`` (from some tokenizers) have no meaning here."""
        if latent_schedule is None:
            raise ValueError(f"latent_schedule is missing: generate with {type(self).__name__}.generate")
        use_cache = bool(use_cache)
        cache = past_key_values if cache is None else cache
        if cache is not None and not isinstance(cache, PerceiverARCache):
            raise TypeError(f"cache must be a PerceiverARCache, got {type(cache).__name__}")
        if inputs_checked():  # within generate, which checked the prompt's mask
            pad_mask = None if attention_mask is None else ~attention_mask.bool()
        else:
            pad_mask = attention_mask_to_pad_mask(attention_mask, input_ids)
            if pad_mask is not None and input_ids.shape[1] == latent_schedule.prompt_len:
                check_left_padding(attention_mask)
        if use_cache and cache is None:
            cache = self._allocate(PerceiverARCache(), input_ids)
        step = step_inputs(
            latent_schedule, input_ids, pad_mask, None if cache is None else cache.kv_cache, use_cache=use_cache
        )
        model_inputs: dict[str, Any] = {
            "input_ids": step.x,
            "prefix_len": step.prefix_len,
            "pad_mask": step.pad_mask,
            "use_cache": use_cache,
        }
        if compile_decode_step:
            model_inputs["compile_decode_step"] = True
        if use_cache:
            model_inputs[CACHE_NAME] = cache
        return model_inputs

    def _allocate(self, cache: PerceiverARCache, input_ids: torch.Tensor) -> PerceiverARCache:
        """Give an empty ``cache`` the backend's preallocated buffers for ``input_ids``' batch."""
        if not cache.kv_cache:
            cache.kv_cache.extend(self.backend_model.preallocated_kv_cache(input_ids.shape[0], device=input_ids.device))
        return cache

    def _reorder_cache(self, cache: PerceiverARCache, beam_idx: torch.Tensor) -> PerceiverARCache:
        cache.reorder_cache(beam_idx)
        return cache


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__
