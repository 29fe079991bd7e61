"""The Hugging Face side shared by the Perceiver IO text models: their wrapper base, the conversion of their
Lightning checkpoints into model folders, the weight copy of the text encoder from `transformers`'
``PerceiverModel`` (the official checkpoints) and the tokenizer class of their folders."""

import os
from typing import Any

import torch
from torch import nn
from transformers import AutoTokenizer

from perceiver.data.text.tokenizer import TruncatingTokenizer
from perceiver.model.core.checkpoint import read_lightning_checkpoint
from perceiver.model.core.convert import (  # noqa: F401 (the three copy helpers: perceiver-io 0.11 names)
    copy_cross_attention_layer_params,
    copy_encoder_params,
    copy_latent_provider_params,
    copy_params,
    copy_self_attention_block_params,
)
from perceiver.model.core.folder import save_model_folder
from perceiver.model.core.hf_io import PerceiverIOTrainedModel
from perceiver.model.core.utils import attention_mask_to_pad_mask, check_token_tensor
from perceiver.model.text.common.backend import TextEncoder
from perceiver.model.text.common.checkpoint import checkpoint_serving_tokenizer


class PerceiverTextModel(PerceiverIOTrainedModel):
    """Base of the text model wrappers: token ids and an attention mask in, the backend's logits out."""

    main_input_name = "input_ids"

    def get_input_embeddings(self) -> nn.Embedding:
        return self.backend_model.encoder.input_adapter.txt_embedding

    @classmethod
    def _from_checkpoint(
        cls, ckpt: dict[str, Any], ckpt_path: str | os.PathLike, **config_kwargs: Any
    ) -> "PerceiverTextModel":
        return super()._from_checkpoint(ckpt, ckpt_path, is_decoder=False, **config_kwargs)

    def _text_logits(
        self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None, kwargs: dict[str, Any]
    ) -> torch.Tensor:
        """The backend's logits of ``forward``'s inputs; ``kwargs``: the other keyword arguments ``forward`` got."""
        # Extra tokenizer outputs (token_type_ids) have no meaning for these models.
        kwargs.pop("token_type_ids", None)
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        if input_ids is None:
            raise ValueError("input_ids must be given")
        check_token_tensor(input_ids)
        return self.backend_model(input_ids, pad_mask=attention_mask_to_pad_mask(attention_mask, input_ids))


def convert_text_checkpoint(
    model_class: type[PerceiverTextModel],
    task: str,
    save_dir: str | os.PathLike,
    ckpt_url: str | os.PathLike,
    tokenizer: Any,
    **kwargs: Any,
) -> PerceiverTextModel:
    """Convert a Lightning checkpoint of a text model into a ``model_class`` folder with ``tokenizer`` (a name, a
    folder or a tokenizer), saved with the model's ``max_seq_len`` and the special tokens that the checkpoint's
    training data had for ``task`` (``"mlm"``, ``"clf"``); ``kwargs`` go to
    :func:`~perceiver.model.core.folder.save_model_folder` (class labels, ``save_pretrained`` arguments)."""
    ckpt = read_lightning_checkpoint(ckpt_url)
    model = model_class._from_checkpoint(ckpt, ckpt_url)
    max_seq_len = model.backend_model.config.encoder.max_seq_len
    save_model_folder(save_dir, model, checkpoint_serving_tokenizer(tokenizer, task, ckpt, max_seq_len), **kwargs)
    return model


def copy_text_encoder_params(src: nn.Module, tgt: TextEncoder) -> None:
    """``src``: the ``perceiver`` module (a ``PerceiverModel`` with a ``PerceiverTextPreprocessor``) of e.g. a
    `transformers` ``PerceiverForMaskedLM``."""
    copy_encoder_params(src, tgt)
    copy_params(src.input_preprocessor.embeddings, tgt.input_adapter.txt_embedding)
    copy_params(src.input_preprocessor.position_embeddings, tgt.input_adapter.pos_embedding)


def register_text_tokenizer(config_class: type) -> None:
    """Let ``AutoTokenizer`` (and so ``pipeline``) load the tokenizer of folders of ``config_class`` models: the
    :class:`~perceiver.data.text.tokenizer.TruncatingTokenizer` of ready folders, and a clear error for a folder
    saved without a tokenizer."""
    AutoTokenizer.register(config_class, fast_tokenizer_class=TruncatingTokenizer, exist_ok=True)
