"""Contrastive search (Su et al. 2022) for Perceiver AR, as a ``custom_generate`` decoding method of
``transformers``' ``generate``."""

from typing import Any

import torch
import torch.nn as nn

from perceiver.model.core.hf_compat import CACHE_NAME


@torch.no_grad()
def contrastive_search(
    model: Any,
    input_ids: torch.Tensor,
    logits_processor: Any,
    stopping_criteria: Any,
    generation_config: Any,
    synced_gpus: bool = False,
    contrastive_streamer: Any = None,
    **model_kwargs: Any,
) -> Any:
    """Contrastive search (Su et al. 2022) as a ``custom_generate`` decoding method of ``transformers``' ``generate``
    (transformers 5 moved its own implementation to a Hub repository, which cannot load offline).

    Each step scores the ``top_k`` most probable tokens by ``(1 - penalty_alpha) * probability - penalty_alpha *
    max cosine similarity`` of the token's hidden state with the hidden states of the context (the latent positions
    seen so far), and keeps the best. The candidates run as one batch of ``b * top_k`` rows; with a cache, it is
    expanded to the candidates and then narrowed to the chosen ones. Works with and without cache, and the two agree
    because both follow the model's latent schedule.

    :param contrastive_streamer: the ``streamer`` of ``generate`` (transformers passes only the arguments that its
        own decoding methods lack to a ``custom_generate`` callable, so the streamer travels under this name).
    """
    from transformers.generation.utils import GenerateDecoderOnlyOutput

    if synced_gpus:
        raise ValueError("contrastive search does not support synced_gpus")
    alpha = float(generation_config.penalty_alpha)
    top_k = int(generation_config.top_k)
    pad_token_id = generation_config._pad_token_tensor
    has_eos_criterion = any(hasattr(criterion, "eos_token_id") for criterion in stopping_criteria)
    if has_eos_criterion and pad_token_id is None:
        raise ValueError("contrastive search with an EOS token needs pad_token_id")
    return_dict = generation_config.return_dict_in_generate
    scores = () if return_dict and generation_config.output_scores else None
    raw_logits = () if return_dict and generation_config.output_logits else None

    streamer = contrastive_streamer
    if streamer is not None:
        streamer.put(input_ids.cpu())
    cache_key = CACHE_NAME
    batch_size = input_ids.shape[0]
    unfinished = torch.ones(batch_size, dtype=torch.long, device=input_ids.device)
    outputs = model(**model.prepare_inputs_for_generation(input_ids, **model_kwargs), return_dict=True)
    model_kwargs = model._update_model_kwargs_for_generation(outputs, model_kwargs)
    context = outputs.hidden_states[-1]  # (b, latents, c)
    next_logits = outputs.logits[:, -1].float()

    while True:
        next_scores = logits_processor(input_ids, next_logits)
        if scores is not None:
            scores += (next_scores,)
        if raw_logits is not None:
            raw_logits += (next_logits,)
        k = min(top_k, next_scores.shape[-1])
        top_probs, top_ids = next_scores.softmax(dim=-1).topk(k, dim=-1)  # (b, k)

        # evaluate the k candidates of every row as one batch
        cand_ids = torch.cat([input_ids.repeat_interleave(k, dim=0), top_ids.reshape(-1, 1)], dim=1)
        cand_kwargs = dict(model_kwargs)
        if (mask := model_kwargs.get("attention_mask")) is not None:
            # already one column longer than input_ids: _update_model_kwargs_for_generation extends it per step
            cand_kwargs["attention_mask"] = mask.repeat_interleave(k, dim=0)
        if (cache := model_kwargs.get(cache_key)) is not None:
            cache.batch_repeat_interleave(k)
        cand_out = model(**model.prepare_inputs_for_generation(cand_ids, **cand_kwargs), return_dict=True)
        cand_hidden = cand_out.hidden_states[-1][:, -1]  # (b * k, c)

        # degeneration penalty: highest cosine similarity with any context position
        ctx = nn.functional.normalize(context, dim=-1).repeat_interleave(k, dim=0)
        similarity = torch.einsum("bc,bmc->bm", nn.functional.normalize(cand_hidden, dim=-1), ctx).amax(dim=-1)
        score = (1.0 - alpha) * top_probs - alpha * similarity.view(batch_size, k)
        best = score.argmax(dim=-1)
        rows = torch.arange(batch_size, device=input_ids.device) * k + best

        next_tokens = top_ids[torch.arange(batch_size, device=input_ids.device), best]
        if has_eos_criterion:
            next_tokens = next_tokens * unfinished + pad_token_id * (1 - unfinished)
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=1)
        context = torch.cat([context, cand_hidden[rows].unsqueeze(1)], dim=1)
        next_logits = cand_out.logits[rows, -1].float()
        if cand_out.cache is not None:
            cand_out.cache.batch_select_indices(rows)
        model_kwargs = model._update_model_kwargs_for_generation(cand_out, model_kwargs)
        if streamer is not None:
            streamer.put(next_tokens.cpu())
        unfinished = unfinished & ~stopping_criteria(input_ids, scores)
        if unfinished.max() == 0:
            break

    if streamer is not None:
        streamer.end()
    if return_dict:
        return GenerateDecoderOnlyOutput(
            sequences=input_ids, scores=scores, logits=raw_logits, **{cache_key: model_kwargs.get(cache_key)}
        )
    return input_ids
