"""Fill ``<mask>`` placeholders in text with a masked language model's top predictions."""

import torch
import torch.nn as nn

from perceiver.data.text.preprocessor import TextPreprocessor
from perceiver.model.core.utils import require_positive


class MaskFiller:
    def __init__(self, preprocessor: TextPreprocessor):
        if preprocessor.tokenizer.mask_token is None:
            raise ValueError("the preprocessor's tokenizer has no mask token")
        self.preprocessor = preprocessor

    def fill(
        self, model: nn.Module, masked_text_batch: list[str], num_predictions: int, device: str | torch.device = "cpu"
    ) -> tuple[list[str], list[list[str]]]:
        """Replace each ``<mask>`` (or the tokenizer's mask token) with the model's predictions.

        Each masked token is predicted on its own; prediction ``k`` puts the ``k``-th most likely token at every
        masked position. With a byte tokenizer one ``<mask>`` stands for one byte.

        :param model: a ``MaskedLanguageModel`` or its Hugging Face wrapper.
        :return: the texts with the tokenizer's mask token, and per text ``num_predictions`` filled texts.
        """
        require_positive(num_predictions=num_predictions)
        if isinstance(masked_text_batch, str):
            raise TypeError("masked_text_batch must be a list of str, got a str (wrap it in a list)")
        tokenizer = self.preprocessor.tokenizer
        if num_predictions > len(tokenizer):
            raise ValueError(f"num_predictions must be <= the vocabulary size {len(tokenizer)}, got {num_predictions}")
        masked_text_batch = [text.replace("<mask>", tokenizer.mask_token) for text in masked_text_batch]
        input_ids, pad_mask = self.preprocessor.preprocess_batch(masked_text_batch)
        input_ids, pad_mask = input_ids.to(device), pad_mask.to(device)

        backend = getattr(model, "backend_model", model)
        with torch.no_grad():
            logits = backend(input_ids, pad_mask=pad_mask)

        is_masked = input_ids == tokenizer.mask_token_id
        predictions = torch.topk(logits[is_masked], k=num_predictions, dim=-1).indices

        filled = []
        for k in range(num_predictions):
            ids = input_ids.clone()
            ids[is_masked] = predictions[:, k]
            filled.append(tokenizer.batch_decode(ids, skip_special_tokens=True))
        # filled is (prediction, text): transpose to one list of predictions per text
        return masked_text_batch, [list(per_text) for per_text in zip(*filled, strict=True)]
