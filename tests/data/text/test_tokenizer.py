"""The fast UTF-8 bytes tokenizer against transformers' (slow) PerceiverTokenizer, the reference."""

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, PerceiverTokenizer

from perceiver.data.text.tokenizer import (
    MASK_TOKEN_ID,
    SPECIAL_TOKENS,
    VOCAB_SIZE,
    byte_to_unicode,
    perceiver_bytes_tokenizer,
)

CORPUS = [
    "Hello world",
    "This is an incomplete sentence where some words are missing.",
    "  leading and trailing whitespace  ",
    "tabs\tand\nnew lines\r\n and  double  spaces",
    "héllo wörld, ça va? Straße",
    "日本語のテキスト、中文字符",
    "emoji 😀🎉 and 👩‍👩‍👧 family",
    "special tokens inside: a [MASK][MASK] b [SEP] c [CLS]",
    "[PAD] [BOS] [EOS]",
    "",
    " ",
    "x",
    string.printable,
]


@pytest.fixture(scope="module")
def fast():
    return perceiver_bytes_tokenizer()


@pytest.fixture(scope="module")
def slow():
    return PerceiverTokenizer()


def test_vocabulary(fast):
    assert fast.is_fast
    assert len(fast) == fast.vocab_size == VOCAB_SIZE == 262
    assert [fast.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(6))
    assert (fast.pad_token_id, fast.mask_token_id, fast.cls_token_id, fast.sep_token_id) == (0, 3, 4, 5)
    assert fast.mask_token_id == MASK_TOKEN_ID
    assert fast.model_max_length == 2048
    # byte b -> b + 6
    assert fast("A\x00\xff".encode("latin-1").decode("latin-1"), add_special_tokens=False)["input_ids"][0] == 65 + 6
    assert fast(bytes([0xE2, 0x9C, 0x93]).decode())["input_ids"] == [4, 0xE2 + 6, 0x9C + 6, 0x93 + 6, 5]


def test_byte_map_is_a_bijection():
    mapping = byte_to_unicode()
    assert sorted(mapping) == list(range(256))
    assert len(set(mapping.values())) == 256


@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_ids_and_masks_match_slow_tokenizer(fast, slow, add_special_tokens):
    for text in CORPUS:
        a = fast(text, add_special_tokens=add_special_tokens)
        b = slow(text, add_special_tokens=add_special_tokens)
        assert a["input_ids"] == b["input_ids"], text
        assert a["attention_mask"] == b["attention_mask"], text
        assert set(a.keys()) == set(b.keys())


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding=True),
        dict(padding="max_length", max_length=40, truncation=True),
        dict(padding=True, truncation=True, max_length=8),
        dict(truncation=True, max_length=5, add_special_tokens=False),
    ],
)
def test_batches_match_slow_tokenizer(fast, slow, kwargs):
    a = fast(CORPUS, **kwargs)
    b = slow(CORPUS, **kwargs)
    assert a["input_ids"] == b["input_ids"]
    assert a["attention_mask"] == b["attention_mask"]


def test_left_padding_matches_slow_tokenizer():
    fast = perceiver_bytes_tokenizer(padding_side="left")
    slow = PerceiverTokenizer(padding_side="left")
    a, b = fast(CORPUS[:5], padding=True), slow(CORPUS[:5], padding=True)
    assert a["input_ids"] == b["input_ids"]
    assert a["attention_mask"] == b["attention_mask"]
    assert a["input_ids"][0][0] == fast.pad_token_id


def test_text_pairs_match_slow_tokenizer(fast, slow):
    a, b = fast("first part", "second part"), slow("first part", "second part")
    assert a["input_ids"] == b["input_ids"]


@pytest.mark.parametrize("skip_special_tokens", [True, False])
def test_decoding_matches_slow_tokenizer(fast, slow, skip_special_tokens):
    for text in CORPUS:
        ids = slow(text)["input_ids"]
        assert fast.decode(ids, skip_special_tokens=skip_special_tokens) == slow.decode(
            ids, skip_special_tokens=skip_special_tokens
        )
    batch = slow(CORPUS, padding=True)["input_ids"]
    assert fast.batch_decode(batch, skip_special_tokens=True) == slow.batch_decode(batch, skip_special_tokens=True)
    assert fast.batch_decode(batch, skip_special_tokens=True)[:3] == CORPUS[:3]


def test_decoding_invalid_utf8_matches_slow_tokenizer(fast, slow):
    # A cut multi-byte character, a lone continuation byte, and an invalid lead byte.
    for raw in [bytes([0xE6, 0x97]), bytes([0x80, 0x41]), bytes([0xFF, 0x41, 0xC3])]:
        ids = [b + 6 for b in raw]
        assert fast.decode(ids) == slow.decode(ids)
        assert "\ufffd" in fast.decode(ids)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_random_text_matches_slow_tokenizer(text):
    fast, slow = _cached_tokenizers()
    assert fast(text)["input_ids"] == slow(text)["input_ids"]
    ids = fast(text)["input_ids"]
    assert fast.decode(ids, skip_special_tokens=True) == slow.decode(ids, skip_special_tokens=True)
    if not any(token in text for token in SPECIAL_TOKENS):
        assert fast.decode(ids, skip_special_tokens=True) == text


_TOKENIZERS = {}


def _cached_tokenizers():
    if not _TOKENIZERS:
        _TOKENIZERS["pair"] = (perceiver_bytes_tokenizer(), PerceiverTokenizer())
    return _TOKENIZERS["pair"]


def naive_word_ids(text: str) -> list[int]:
    """Word index of every UTF-8 byte: a word is a non-whitespace run with the whitespace before it."""
    ids = []
    for i, match in enumerate(re.finditer(r"\s*\S+|\s+$", text)):
        ids.extend([i] * len(match.group().encode()))
    return ids


@pytest.mark.parametrize("text", [t for t in CORPUS if "[" not in t])
def test_word_ids_follow_whitespace_delimited_words(fast, text):
    encoding = fast(text)
    word_ids = encoding.word_ids()
    assert word_ids[0] is None and word_ids[-1] is None  # [CLS], [SEP]
    assert word_ids[1:-1] == naive_word_ids(text)


def test_word_ids_of_a_batch(fast):
    encoding = fast(["one two", "three  four five"], padding=True)
    assert encoding.word_ids(0) == [None, 0, 0, 0, 1, 1, 1, 1, None] + [None] * 9
    assert encoding.word_ids(1)[1:-1] == naive_word_ids("three  four five")


def test_word_ids_of_multibyte_characters(fast):
    # every byte of a character belongs to the character's word
    assert fast("ab 😀x", add_special_tokens=False).word_ids() == [0, 0, 1, 1, 1, 1, 1, 1]


def test_special_tokens_in_text_are_single_tokens(fast):
    ids = fast("a [MASK][MASK][MASK] b", add_special_tokens=False)["input_ids"]
    assert ids == [ord("a") + 6, ord(" ") + 6, 3, 3, 3, ord(" ") + 6, ord("b") + 6]


def test_save_and_load_with_auto_tokenizer(fast, tmp_path):
    fast.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.is_fast
    assert loaded.mask_token_id == 3 and loaded.pad_token_id == 0 and loaded.model_max_length == 2048
    for text in CORPUS:
        assert loaded(text)["input_ids"] == fast(text)["input_ids"]
    assert loaded("two words").word_ids() == fast("two words").word_ids()


def test_model_max_length_truncates(slow):
    fast = perceiver_bytes_tokenizer(model_max_length=10)
    ids = fast("a" * 50, truncation=True)["input_ids"]
    assert len(ids) == 10 and ids[0] == 4 and ids[-1] == 5


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_bad_model_max_length(value):
    with pytest.raises(ValueError, match="model_max_length"):
        perceiver_bytes_tokenizer(model_max_length=value)


def test_bad_padding_side():
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right', got 'middle'"):
        perceiver_bytes_tokenizer(padding_side="middle")
