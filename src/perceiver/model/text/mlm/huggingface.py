"""Hugging Face wrapper of the masked language model: config, model with loss, Auto-class registration (so
``pipeline("fill-mask")`` works) and conversion of ``deepmind/language-perceiver`` and of Lightning checkpoints."""

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer, PreTrainedTokenizerBase
from transformers.modeling_outputs import MaskedLMOutput

from perceiver.data.text.tokenizer import VOCAB_SIZE, perceiver_bytes_tokenizer
from perceiver.model.core.convert import (
    copy_cross_attention_layer_params,
    copy_param,
    hf_decoder_kwargs,
    hf_encoder_kwargs,
    hf_latent_kwargs,
)
from perceiver.model.core.hf_io import PerceiverIOBackendConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder
from perceiver.model.core.pipelines import serve_empty_batches
from perceiver.model.core.utils import check_labels, lazy_exports
from perceiver.model.text.common.backend import TextEncoderConfig
from perceiver.model.text.common.huggingface import (
    PerceiverTextModel,
    convert_text_checkpoint,
    copy_text_encoder_params,
    register_text_tokenizer,
)
from perceiver.model.text.mlm.backend import MaskedLanguageModel, MaskedLanguageModelConfig, TextDecoderConfig


class PerceiverMaskedLanguageModelConfig(PerceiverIOBackendConfig):
    model_type = "perceiver-io-masked-language-model"
    backend_config_class = MaskedLanguageModelConfig

    @classmethod
    def default_backend_config(cls) -> MaskedLanguageModelConfig:
        return MaskedLanguageModelConfig(
            TextEncoderConfig(), TextDecoderConfig(), num_latents=512, num_latent_channels=512
        )


class PerceiverMaskedLanguageModel(PerceiverTextModel):
    config_class = PerceiverMaskedLanguageModelConfig
    backend_model_class = MaskedLanguageModel

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> MaskedLMOutput | tuple:
        """
        :param input_ids: ``(b, n)`` token ids with masked positions.
        :param attention_mask: ``(b, n)``, 1 = token, 0 = padding.
        :param labels: ``(b, n)`` target ids, ``-100`` where no loss is wanted (unmasked positions, padding).
        """
        logits = self._text_logits(input_ids, attention_mask, kwargs)
        loss = None
        if labels is not None:
            if not isinstance(labels, torch.Tensor) or tuple(labels.shape) != tuple(input_ids.shape):
                shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
                raise ValueError(f"labels must have the shape of input_ids {tuple(input_ids.shape)}, got {shape}")
            check_labels(labels, logits.shape[-1], tuple(input_ids.shape))
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten().to(logits.device), ignore_index=-100)
        return self._output(MaskedLMOutput, logits, loss, return_dict)


AutoConfig.register(PerceiverMaskedLanguageModelConfig.model_type, PerceiverMaskedLanguageModelConfig, exist_ok=True)
AutoModelForMaskedLM.register(PerceiverMaskedLanguageModelConfig, PerceiverMaskedLanguageModel, exist_ok=True)
register_text_tokenizer(PerceiverMaskedLanguageModelConfig)
serve_empty_batches("fill-mask")


# --------------------------------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------------------------------


def convert_config(config: Any) -> MaskedLanguageModelConfig:
    """Backend config of a `transformers` ``PerceiverConfig`` of ``PerceiverForMaskedLM``."""
    if config.hidden_act != "gelu":
        raise ValueError(f"only hidden_act='gelu' (exact GELU) converts, got {config.hidden_act!r}")
    if not getattr(config, "tie_word_embeddings", True):
        raise ValueError("only models with tied word embeddings (tie_word_embeddings=True) convert")
    if config.cross_attention_shape_for_attention != "kv":
        raise ValueError(
            "only cross_attention_shape_for_attention='kv' converts, "
            f"got {config.cross_attention_shape_for_attention!r}"
        )
    if not config.use_query_residual:
        raise ValueError("only encoders with a cross-attention query residual (use_query_residual=True) convert")
    # transformers' self-attention projects back to v_channels and adds that to the latents, so the width of
    # the values is the latent width; its cross-attention defaults qk to the input width ("kv").
    sa_qk = config.qk_channels or config.d_latents
    sa_v = config.v_channels or sa_qk
    if sa_v != config.d_latents:
        raise ValueError(f"self-attention v_channels ({sa_v}) must equal d_latents ({config.d_latents})")
    ca_qk = config.qk_channels or config.d_model
    ca_v = config.v_channels or ca_qk

    encoder = TextEncoderConfig(
        vocab_size=config.vocab_size,
        max_seq_len=config.max_position_embeddings,
        num_input_channels=config.d_model,
        **hf_encoder_kwargs(config)
        | dict(
            num_cross_attention_qk_channels=ca_qk,
            num_cross_attention_v_channels=ca_v,
            num_self_attention_qk_channels=sa_qk,
            num_self_attention_v_channels=sa_v,
        ),
    )
    # PerceiverForMaskedLM's decoder is fixed: 8 heads, qk 256, v = d_model, widening 1, no query residual.
    decoder = TextDecoderConfig(
        vocab_size=config.vocab_size,
        max_seq_len=config.max_position_embeddings,
        num_cross_attention_qk_channels=256,
        num_cross_attention_v_channels=config.d_model,
        num_cross_attention_heads=8,
        cross_attention_widening_factor=1,
        cross_attention_residual=False,
        **hf_decoder_kwargs(config),
    )
    return MaskedLanguageModelConfig(encoder, decoder, **hf_latent_kwargs(config))


def copy_text_decoder_params(src: Any, tgt: PerceiverDecoder) -> None:
    """``src``: a `transformers` ``PerceiverForMaskedLM``."""
    decoder = src.perceiver.decoder
    copy_cross_attention_layer_params(decoder.decoding_cross_attention, tgt.cross_attn, query_residual=False)
    copy_param(
        decoder.output_position_encodings.position_embeddings, tgt.output_query_provider._query, "output queries"
    )
    copy_param(src.embedding_decoder.bias, tgt.output_adapter.bias, "output bias")


def convert_hf_model(src_model: Any) -> PerceiverMaskedLanguageModel:
    """Our wrapper with the weights of a `transformers` ``PerceiverForMaskedLM`` instance."""
    model = PerceiverMaskedLanguageModel(
        PerceiverMaskedLanguageModelConfig(convert_config(src_model.config), is_decoder=False)
    )
    copy_text_encoder_params(src_model.perceiver, model.backend_model.encoder)
    copy_text_decoder_params(src_model, model.backend_model.decoder)
    return model


def convert_model(
    save_dir: str | Path,
    source_repo_id: str = "deepmind/language-perceiver",
    tokenizer: PreTrainedTokenizerBase | None = None,
    **kwargs: Any,
) -> PerceiverMaskedLanguageModel:
    """Convert a `transformers` ``PerceiverForMaskedLM`` (hub id or local folder) into a
    ``PerceiverMaskedLanguageModel`` folder ``save_dir``, with a tokenizer.

    :param tokenizer: saved with the model; default: the fast UTF-8 bytes tokenizer for a 262-token vocabulary,
        otherwise the source's own tokenizer.
    :param kwargs: passed to ``save_pretrained``.
    """
    from transformers import PerceiverForMaskedLM

    src_model = PerceiverForMaskedLM.from_pretrained(source_repo_id)
    model = convert_hf_model(src_model)
    if tokenizer is None:
        if src_model.config.vocab_size == VOCAB_SIZE:
            tokenizer = perceiver_bytes_tokenizer(model_max_length=src_model.config.max_position_embeddings)
        else:
            tokenizer = AutoTokenizer.from_pretrained(source_repo_id)
            tokenizer.model_max_length = src_model.config.max_position_embeddings
    tokenizer.save_pretrained(save_dir, **kwargs)
    model.save_pretrained(save_dir, **kwargs)
    return model


def convert_checkpoint(
    save_dir: str | Path, ckpt_url: str | Path, tokenizer_name: str | PreTrainedTokenizerBase, **kwargs: Any
) -> PerceiverMaskedLanguageModel:
    """Convert a Lightning checkpoint of the masked language model into a ``PerceiverMaskedLanguageModel`` folder
    with the tokenizer ``tokenizer_name`` (a name, a folder or a tokenizer), saved with the model's ``max_seq_len``
    and the special tokens of the checkpoint's training data (see :mod:`perceiver.data.text.special_tokens`)."""
    return convert_text_checkpoint(PerceiverMaskedLanguageModel, "mlm", save_dir, ckpt_url, tokenizer_name, **kwargs)


# perceiver-io 0.11 made its Lightning module importable from here (imported on access: Lightning is slow to import)
__getattr__ = lazy_exports(__name__, {"LitMaskedLanguageModel": "perceiver.model.text.mlm.lightning"})
