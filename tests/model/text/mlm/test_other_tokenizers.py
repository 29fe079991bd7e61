"""The models with a tokenizer other than the bytes tokenizer: any Hugging Face fast tokenizer works."""

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoModelForMaskedLM, PreTrainedTokenizerFast, pipeline

from perceiver.data.text.preprocessor import TextPreprocessor
from perceiver.model.text.mlm import (
    MaskedLanguageModelConfig,
    MaskFiller,
    PerceiverMaskedLanguageModel,
    PerceiverMaskedLanguageModelConfig,
    TextDecoderConfig,
    TextEncoderConfig,
)

WORDS = "the a cat dog sat on mat rug and ran".split()


def word_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level fast tokenizer (BERT-like special tokens) built in-process."""
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=16,
    )


def test_masked_lm_with_a_word_level_tokenizer(tmp_path):
    tokenizer = word_tokenizer()
    vocab_size = len(tokenizer)
    config = MaskedLanguageModelConfig(
        TextEncoderConfig(
            vocab_size=vocab_size, max_seq_len=16, num_input_channels=16, num_self_attention_layers_per_block=1
        ),
        TextDecoderConfig(vocab_size=vocab_size, max_seq_len=16),
        num_latents=4,
        num_latent_channels=16,
    )
    model = PerceiverMaskedLanguageModel(PerceiverMaskedLanguageModelConfig(config)).eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    encoding = tokenizer(["the cat sat", "a dog ran on the rug"], padding=True)
    assert encoding.word_ids(1) == [None, 0, 1, 2, 3, 4, 5, None]

    fill_mask = pipeline("fill-mask", model=str(tmp_path))
    results = fill_mask("the [MASK] sat on the mat", top_k=2)
    assert len(results) == 2 and all(r["token"] < vocab_size for r in results)

    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    filler = MaskFiller(TextPreprocessor(tokenizer, max_seq_len=16, add_special_tokens=True))
    masked, filled = filler.fill(loaded, ["the <mask> sat"], num_predictions=1)
    ids = tokenizer("the [MASK] sat", return_tensors="pt")["input_ids"]
    assert ids[0, 2] == tokenizer.mask_token_id
    with torch.no_grad():
        ids[0, 2] = loaded(ids).logits[0, 2].argmax()
    assert filled == [[tokenizer.decode(ids[0], skip_special_tokens=True)]]
    assert masked == ["the [MASK] sat"]
