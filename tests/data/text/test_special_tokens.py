"""The special-token convention per task and the tokenizer of model folders (serving tokenizer)."""

import pytest
from transformers import AutoTokenizer, PerceiverTokenizer

from perceiver.data.text.special_tokens import (
    TASK_CONVENTIONS,
    TextSpecialTokens,
    serving_tokenizer,
    tokens_around_text,
    training_special_tokens,
)
from perceiver.data.text.tokenizer import (
    CLS_TOKEN_ID,
    EOS_TOKEN_ID,
    SEP_TOKEN_ID,
    TruncatingTokenizer,
    perceiver_bytes_tokenizer,
)

HELLO = [ord(c) + 6 for c in "hello"]


@pytest.fixture(scope="module")
def bytes_tokenizer():
    return perceiver_bytes_tokenizer()


def test_every_text_task_has_a_convention():
    assert set(TASK_CONVENTIONS) == {"mlm", "clf", "clm"}


def test_tokens_around_a_text(bytes_tokenizer):
    assert tokens_around_text(bytes_tokenizer) == TextSpecialTokens((CLS_TOKEN_ID,), (SEP_TOKEN_ID,))
    assert training_special_tokens(bytes_tokenizer, False, False) == TextSpecialTokens()
    assert training_special_tokens(bytes_tokenizer, True, True) == TextSpecialTokens(
        (CLS_TOKEN_ID,), (SEP_TOKEN_ID, EOS_TOKEN_ID)
    )


@pytest.mark.parametrize("add_special_tokens", [False, True])
@pytest.mark.parametrize("add_eos_token", [False, True])
@pytest.mark.parametrize("task", ["mlm", "clf", "clm"])
def test_serving_tokenizer_adds_the_tokens_of_training(bytes_tokenizer, task, add_special_tokens, add_eos_token):
    served = serving_tokenizer(bytes_tokenizer, task, add_special_tokens, add_eos_token, max_seq_len=64)
    before = [CLS_TOKEN_ID] if add_special_tokens else []
    after = ([SEP_TOKEN_ID] if add_special_tokens else []) + ([EOS_TOKEN_ID] if add_eos_token else [])
    if task == "clm":
        after = []  # a prompt is continued: never ends with [SEP] or EOS
    assert served("hello")["input_ids"] == before + HELLO + after
    assert served.model_max_length == 64
    assert served.padding_side == ("left" if task == "clm" else "right")


def test_serving_tokenizer_truncates_by_default_keeping_the_special_tokens(bytes_tokenizer):
    clf = serving_tokenizer(bytes_tokenizer, "clf", True, False, max_seq_len=4)
    assert clf("hello")["input_ids"] == [CLS_TOKEN_ID, *HELLO[:2], SEP_TOKEN_ID]
    assert len(clf("hello", truncation=False)["input_ids"]) == 7  # an explicit choice wins
    clm = serving_tokenizer(bytes_tokenizer, "clm", False, False, max_seq_len=3)
    assert clm("hello")["input_ids"] == HELLO[-3:]  # prompts keep their end


def test_serving_tokenizer_round_trip_through_a_folder(bytes_tokenizer, tmp_path):
    import perceiver.model.text.classifier  # noqa: F401 (registers the tokenizer class)

    serving_tokenizer(bytes_tokenizer, "clf", False, True, max_seq_len=6).save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, TruncatingTokenizer) and loaded.model_max_length == 6
    assert loaded("hello world")["input_ids"] == [*HELLO, EOS_TOKEN_ID]


def test_slow_byte_tokenizer_is_rebuilt_as_fast():
    served = serving_tokenizer(PerceiverTokenizer(), "mlm", True, False, max_seq_len=16)
    assert served.is_fast and served("hello")["input_ids"] == [CLS_TOKEN_ID, *HELLO, SEP_TOKEN_ID]


def test_bad_arguments(bytes_tokenizer):
    with pytest.raises(ValueError, match="task must be one of"):
        serving_tokenizer(bytes_tokenizer, "seq2seq", False, False, 8)
    with pytest.raises(ValueError, match="max_seq_len must be a positive int, got 0"):
        serving_tokenizer(bytes_tokenizer, "clf", False, False, 0)
    no_eos = perceiver_bytes_tokenizer()
    no_eos.eos_token = None
    with pytest.raises(ValueError, match="add_eos_token=true, but tokenizer .* has no EOS token"):
        serving_tokenizer(no_eos, "clf", False, True, 8)


def test_slow_tokenizer_that_is_not_a_byte_tokenizer_is_refused():
    from transformers import PreTrainedTokenizer

    class Letters(PreTrainedTokenizer):
        def __init__(self, **kwargs):
            self.vocab = {c: i for i, c in enumerate("[]abcdefghijklmnopqrstuvwxyz ")}
            super().__init__(**kwargs)

        def get_vocab(self):
            return dict(self.vocab)

        @property
        def vocab_size(self):
            return len(self.vocab)

        def _tokenize(self, text, **kwargs):
            return list(text)

        def _convert_token_to_id(self, token):
            return self.vocab.get(token, 0)

        def _convert_id_to_token(self, index):
            return list(self.vocab)[index]

    with pytest.raises(ValueError, match="needs a fast tokenizer .* got the slow Letters"):
        serving_tokenizer(Letters(), "clf", False, False, 8)


def test_model_folder_without_tokenizer_names_the_fix(tmp_path):
    from transformers import pipeline

    from perceiver.model.text.classifier import PerceiverTextClassifier

    PerceiverTextClassifier.from_pretrained("tests/fixtures/text_classifier/hf").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"has no tokenizer .*serving_tokenizer\(\)\.save_pretrained"):
        pipeline("text-classification", model=str(tmp_path))
