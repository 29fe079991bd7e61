"""TextPreprocessor (perceiver.data.text.preprocessor): texts -> (input_ids, pad_mask)."""

import pytest
import torch
from transformers import PerceiverTokenizer

from perceiver.data.text.preprocessor import TextPreprocessor
from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer


@pytest.fixture(scope="module")
def preprocessor():
    return TextPreprocessor(perceiver_bytes_tokenizer(), max_seq_len=16, add_special_tokens=True)


def test_preprocess_batch_pads_and_truncates(preprocessor):
    input_ids, pad_mask = preprocessor.preprocess_batch(["abc", "a much longer text than sixteen bytes"])
    assert input_ids.shape == pad_mask.shape == (2, 16)
    assert pad_mask.dtype == torch.bool
    assert input_ids[0, :5].tolist() == [4, 97 + 6, 98 + 6, 99 + 6, 5]
    assert pad_mask[0].tolist() == [False] * 5 + [True] * 11
    assert input_ids[0, 5:].eq(0).all()
    assert not pad_mask[1].any() and input_ids[1, -1] == 5  # truncated, [SEP] kept
    # the same ids as transformers' PerceiverTokenizer
    expected = PerceiverTokenizer()(["abc"], return_tensors="pt")["input_ids"]
    assert torch.equal(input_ids[:1, :5], expected)


def test_preprocess_single_text(preprocessor):
    input_ids, pad_mask = preprocessor.preprocess("hi")
    assert input_ids.tolist() == [4, 104 + 6, 105 + 6, 5]
    assert not pad_mask.any()


def test_left_padding_and_no_special_tokens(tmp_path):
    perceiver_bytes_tokenizer().save_pretrained(tmp_path)
    preprocessor = TextPreprocessor(str(tmp_path), max_seq_len=8, add_special_tokens=False, padding_side="left")
    input_ids, pad_mask = preprocessor.preprocess_batch(["ab", "abcd"])
    assert input_ids[0].tolist() == [0, 0, 103, 104]
    assert pad_mask[0].tolist() == [True, True, False, False]


def test_tokenizer_without_pad_token():
    tokenizer = perceiver_bytes_tokenizer()
    tokenizer.pad_token = None
    preprocessor = TextPreprocessor(tokenizer, max_seq_len=8, add_special_tokens=False)
    input_ids, pad_mask = preprocessor.preprocess_batch(["ab", "cd"])  # equal lengths batch without padding
    assert input_ids.shape == (2, 2) and not pad_mask.any()
    with pytest.raises(ValueError, match=r"no pad token, so texts of different token lengths \[2, 3\]"):
        preprocessor.preprocess_batch(["ab", "cde"])


def test_bad_input(preprocessor):
    with pytest.raises(ValueError, match="text_batch is empty"):
        preprocessor.preprocess_batch([])
    with pytest.raises(TypeError, match="text_batch must be a list of str"):
        preprocessor.preprocess_batch("a string")
    with pytest.raises(TypeError, match="text must be a str, got int"):
        preprocessor.preprocess(3)
    with pytest.raises(ValueError, match="max_seq_len must be a positive int, got 0"):
        TextPreprocessor(perceiver_bytes_tokenizer(), max_seq_len=0, add_special_tokens=True)
    with pytest.raises(ValueError, match="padding_side must be None, 'left' or 'right', got 'up'"):
        TextPreprocessor(perceiver_bytes_tokenizer(), max_seq_len=4, add_special_tokens=True, padding_side="up")
    with pytest.raises(TypeError, match="tokenizer must be a name, a folder or a tokenizer, got int"):
        TextPreprocessor(5, max_seq_len=4, add_special_tokens=True)
