"""Lightning module of the causal language model (Perceiver AR): next-token loss on the latent positions and a
sampled continuation logged at the end of each validation."""

from typing import Any

import torch

from perceiver.model.core.lightning import LitCausalSequenceModel, is_checkpoint, log_text  # noqa: F401 (0.11 name)
from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig

PADDING_SIDE_ERROR = (
    "Causal language modeling with Perceiver AR requires a data module configured with padding_side=left"
)


class LitCausalLanguageModel(LitCausalSequenceModel):
    """Trains a :class:`CausalLanguageModel`. Arguments are the ``CausalLanguageModelConfig`` fields plus:

    :param validation_sample_prompt: text continued at the end of each validation (logged as text).
    :param validation_sample_record: index of a validation example whose tokens are continued (``-1``: random).
    :param validation_sample_num_tokens: number of tokens generated for these samples (top-k 10 sampling).
    :param params: initial weights: a Lightning checkpoint (``.ckpt``) or a Hugging Face model id or folder.
    """

    backend_model_class = CausalLanguageModel
    backend_config_class = CausalLanguageModelConfig

    def __init__(self, *args: Any, validation_sample_num_tokens: int = 512, **kwargs: Any):
        super().__init__(*args, validation_sample_num_tokens=validation_sample_num_tokens, **kwargs)

    def _datamodule(self) -> Any:
        trainer = self._trainer
        return None if trainer is None else getattr(trainer, "datamodule", None)

    def setup(self, stage: str | None = None) -> None:
        tokenizer = getattr(self._datamodule(), "tokenizer", None)
        if tokenizer is not None and tokenizer.pad_token is not None and tokenizer.padding_side != "left":
            raise ValueError(PADDING_SIDE_ERROR)

    def on_validation_epoch_end(self) -> None:
        trainer = self._trainer
        if trainer is None or trainer.sanity_checking or trainer.global_rank != 0:
            return
        datamodule = self._datamodule()
        tokenizer = getattr(datamodule, "tokenizer", None)
        if tokenizer is None:
            return
        prompts = []
        record = self.hparams.validation_sample_record
        ds_valid = getattr(datamodule, "ds_valid", None)
        if record is not None and ds_valid is not None and len(ds_valid) > 0:
            index = int(torch.randint(len(ds_valid), ()).item()) if record == -1 else record
            prompts.append(("validation sample", list(ds_valid[index]["input_ids"])))
        if self.hparams.validation_sample_prompt is not None:
            # tokenized as the saved model's pipeline does (the task's special tokens, see special_tokens.py)
            prompt_tokenizer = datamodule.serving_tokenizer() if hasattr(datamodule, "serving_tokenizer") else tokenizer
            ids = prompt_tokenizer(self.hparams.validation_sample_prompt)["input_ids"]
            prompts.append(("prompt sample", ids))
        for tag, ids in prompts:
            if not ids:
                continue
            generated = self.generate_continuation(torch.tensor([ids]), self.hparams.validation_sample_num_tokens)
            text = tokenizer.decode(ids) + " ▶ " + tokenizer.decode(generated[0, len(ids) :])
            log_text(self, tag, text)

    @torch.no_grad()
    def generate_continuation(self, input_ids: torch.Tensor, max_new_tokens: int, **kwargs: Any) -> torch.Tensor:
        """Sample a continuation of ``input_ids`` (top-k 10 by default) with the KV cache; returns prompt and new
        tokens. Uses as many latents as the prompt allows (up to ``max_latents``)."""
        input_ids = input_ids[:, -self.hparams.max_seq_len :].to(self.device)
        num_latents = min(input_ids.shape[1], self.hparams.max_latents)
        kwargs = {"do_sample": True, "top_k": 10, "use_cache": True} | kwargs
        was_training = self.model.training
        self.model.eval()
        try:
            return self.to_hgf_model().generate(
                input_ids, max_new_tokens=max_new_tokens, num_latents=num_latents, pad_token_id=0, **kwargs
            )
        finally:
            self.model.train(was_training)
