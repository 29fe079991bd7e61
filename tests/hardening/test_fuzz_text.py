"""Fuzzing the text entry points: masked LM and text classifier (HF wrappers and backend), the bytes tokenizer,
TextPreprocessor and MaskFiller."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hardening import zoo
from tests.hardening.fuzz import PROFILES, assert_finite, attention_masks, call, token_tensors

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@PROFILES
def test_fuzz_masked_lm_and_classifier_forward(profile):
    mlm, classifier = zoo.mlm(), zoo.text_classifier()

    @settings(settings.get_profile(profile))
    @given(data=st.data())
    def run(data):
        x = data.draw(token_tensors(zoo.VOCAB, zoo.SEQ))
        mask = data.draw(attention_masks(x))
        out = call("PerceiverMaskedLanguageModel.forward", lambda: mlm(input_ids=x, attention_mask=mask))
        if out is not None:
            assert_finite("mlm logits", out.logits, (*x.shape, zoo.VOCAB))
        out = call("PerceiverTextClassifier.forward", lambda: classifier(input_ids=x, attention_mask=mask))
        if out is not None:
            assert_finite("classifier logits", out.logits, (x.shape[0], 3))
        pad_mask = None if mask is None or mask.dtype != torch_bool() else ~mask
        out = call("MaskedLanguageModel.forward", lambda: mlm.backend_model(x, pad_mask=pad_mask))
        if out is not None:
            assert_finite("backend logits", out, (*x.shape, zoo.VOCAB))

    run()


def torch_bool():
    import torch

    return torch.bool


@PROFILES
def test_fuzz_bytes_tokenizer_and_preprocessor(profile):
    from perceiver.data.text.preprocessor import TextPreprocessor
    from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer

    tokenizer = perceiver_bytes_tokenizer()

    @settings(settings.get_profile(profile))
    @given(texts=st.lists(TEXT, max_size=3), max_seq_len=st.integers(-1, 24), special=st.booleans())
    def run(texts, max_seq_len, special):
        ids = call("perceiver_bytes_tokenizer.encode", lambda: tokenizer(texts[0] if texts else "")["input_ids"])
        assert ids is not None and all(0 <= i < len(tokenizer) for i in ids)
        if texts and not special:
            # bytes round trip: decoding the ids without special tokens gives the text back
            assert tokenizer.decode(tokenizer(texts[0], add_special_tokens=False)["input_ids"]) == texts[0]
        preprocessor = call(
            "TextPreprocessor.__init__", lambda: TextPreprocessor(tokenizer, max_seq_len, add_special_tokens=special)
        )
        if preprocessor is None:
            assert max_seq_len <= (tokenizer.num_special_tokens_to_add() if special else 0)
            return
        out = call("TextPreprocessor.preprocess_batch", lambda: preprocessor.preprocess_batch(texts))
        if out is None:
            assert not texts
            return
        input_ids, pad_mask = out
        assert input_ids.shape == pad_mask.shape and input_ids.shape[0] == len(texts)
        assert input_ids.shape[1] <= max_seq_len and pad_mask.dtype.is_floating_point is False

    run()


@PROFILES
def test_fuzz_mask_filler(profile):
    from perceiver.data.text.preprocessor import TextPreprocessor
    from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
    from perceiver.model.text.mlm import MaskFiller

    filler = MaskFiller(TextPreprocessor(perceiver_bytes_tokenizer(), zoo.SEQ, add_special_tokens=True))
    model = zoo.mlm()
    masked_text = st.lists(st.sampled_from(["a", "b", " ", "é", "<mask>"]), max_size=10).map("".join)

    @settings(settings.get_profile(profile))
    @given(texts=st.lists(masked_text, max_size=3), k=st.integers(-1, 5))
    def run(texts, k):
        out = call("MaskFiller.fill", lambda: filler.fill(model, texts, k))
        if out is not None:
            masked, filled = out
            assert len(masked) == len(filled) == len(texts) and all(len(f) == k for f in filled)

    run()
