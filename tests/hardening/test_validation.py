"""Clear ValueError/TypeError (naming argument, value and what is allowed) for the bad inputs that the hardening
survey found surfacing as IndexError/RuntimeError or passing silently."""

import numpy as np
import pytest
import torch

from perceiver.model.core.utils import (
    attention_mask_to_pad_mask,
    check_labels,
    check_loader_args,
    init_parameters,
    require_non_negative,
)
from tests.hardening import zoo
from tests.hardening.zoo import ids


def test_check_labels():
    check_labels(torch.tensor([0, 2, -100]), 3, (3,))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\) or -100 \(ignored\), got 7"):
        check_labels(torch.tensor([0, 7]), 3, (2,))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*got -1"):
        check_labels(torch.tensor([-1, 0]), 3, (2,))
    with pytest.raises(TypeError, match="integer tensor, got dtype torch.float32"):
        check_labels(torch.tensor([0.0]), 3, (1,))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\), got \(3,\)"):
        check_labels(torch.tensor([0, 1, 2]), 3, (2,))
    with pytest.raises(TypeError, match="labels must be a torch.Tensor, got list"):
        check_labels([0], 3, (1,))


def test_attention_mask_to_pad_mask():
    x = ids(2, 4)
    assert attention_mask_to_pad_mask(None, x) is None
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert torch.equal(attention_mask_to_pad_mask(mask, x), mask == 0)
    assert torch.equal(attention_mask_to_pad_mask(mask.float(), x), mask == 0)
    assert torch.equal(attention_mask_to_pad_mask(mask.bool(), x), mask == 0)
    with pytest.raises(ValueError, match="only 0 .padding. and 1"):
        attention_mask_to_pad_mask(mask * 2, x)
    with pytest.raises(ValueError, match="only 0 .padding. and 1"):
        attention_mask_to_pad_mask(torch.full((2, 4), 0.5), x)
    with pytest.raises(ValueError, match=r"shape of input_ids \(2, 4\), got \(2, 3\)"):
        attention_mask_to_pad_mask(torch.ones(2, 3), x)
    with pytest.raises(TypeError, match="attention_mask must be a torch.Tensor, got list"):
        attention_mask_to_pad_mask([[1]], x)


def test_loader_args_and_init_scale():
    check_loader_args(1, 0, None)
    with pytest.raises(ValueError, match="num_workers must be >= 0, got -1"):
        check_loader_args(1, -1)
    with pytest.raises(TypeError, match=r"batch_size must be an int, got float \(2.5\)"):
        check_loader_args(2.5, 0)
    with pytest.raises(ValueError, match="valid_batch_size must be > 0, got 0"):
        check_loader_args(1, 0, 0)
    with pytest.raises(TypeError, match="x must be an int"):
        require_non_negative(x=True)
    with pytest.raises(ValueError, match="init_scale must be a number >= 0, got -1.0"):
        init_parameters(torch.nn.Linear(2, 2), -1.0)


@pytest.mark.parametrize("factory", [zoo.mlm, zoo.text_classifier], ids=["mlm", "classifier"])
def test_text_models_reject_labels_and_masks(factory):
    model = factory()
    x = ids(2, 8)
    label_shape = (2, 8) if factory is zoo.mlm else (2,)
    with pytest.raises(ValueError, match=r"labels must be in \[0, \d+\) or -100"):
        model(input_ids=x, labels=torch.full(label_shape, 999))
    with pytest.raises(ValueError, match="attention_mask must hold only 0"):
        model(input_ids=x, attention_mask=torch.full((2, 8), 2))
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch_size, length\), got \(8,\)"):
        model(input_ids=x[0])
    loss = model(input_ids=x, labels=torch.zeros(label_shape, dtype=torch.long)).loss
    assert torch.isfinite(loss)


@pytest.mark.parametrize("factory", [zoo.clm, zoo.audio], ids=["clm", "audio"])
def test_causal_models_reject_bad_inputs(factory):
    model = factory()
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch_size, length\), got \(8,\)"):
        model(input_ids=ids(1, 8)[0])
    with pytest.raises(TypeError, match="input_ids must be a torch.Tensor"):
        model(input_ids=[[1, 2, 3]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, \d+\) or -100.*got 99999"):
        model(input_ids=ids(2, 8), labels=torch.full((2, 8), 99999))
    with pytest.raises(ValueError, match="attention_mask must hold only 0"):
        model(input_ids=ids(2, 8), attention_mask=torch.rand(2, 8))
    with pytest.raises(ValueError, match="attention_mask must hold only 0"):
        model.generate(ids(1, 4), attention_mask=torch.full((1, 4), 3), max_new_tokens=2)


def test_image_classifier_rejects_out_of_range_labels():
    model = zoo.image_classifier()
    x = torch.randn(2, *zoo.IMAGE_SHAPE)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*got 7"):
        model(inputs=x, labels=torch.tensor([0, 7]))
    assert torch.isfinite(model(inputs=x, labels=torch.tensor([0, 2])).loss)


def test_optical_flow_rejects_integer_patches():
    model = zoo.optical_flow()
    with pytest.raises(TypeError, match="x must be a floating point tensor, got dtype torch.int64"):
        model(inputs=torch.zeros(1, 2, 27, *zoo.FLOW_SHAPE, dtype=torch.long))


def test_image_processor_rejects_zero_std():
    from perceiver.data.vision.image_processor import PerceiverImageClassifierInputProcessor

    with pytest.raises(ValueError, match=r"image_std must hold finite values > 0.*\[0.0\]"):
        PerceiverImageClassifierInputProcessor(image_std=0.0)
    processor = PerceiverImageClassifierInputProcessor(size=8, crop_size=8)
    with pytest.raises(ValueError, match="image_std must hold finite values > 0"):
        processor(np.zeros((8, 8, 3), np.uint8), image_std=[1.0, 0.0, 1.0])


def test_mask_filler_arguments():
    from perceiver.data.text.preprocessor import TextPreprocessor
    from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
    from perceiver.model.text.mlm import MaskFiller

    filler = MaskFiller(TextPreprocessor(perceiver_bytes_tokenizer(), zoo.SEQ, True))
    with pytest.raises(TypeError, match="masked_text_batch must be a list of str, got a str"):
        filler.fill(zoo.mlm(), "he<mask>lo", 2)
    with pytest.raises(ValueError, match="num_predictions must be <= the vocabulary size 262, got 9999"):
        filler.fill(zoo.mlm(), ["he<mask>lo"], 9999)
    masked, filled = filler.fill(zoo.mlm(), ["he<mask>lo"], 2)
    assert len(filled) == 1 and len(filled[0]) == 2


@pytest.mark.parametrize("kwargs", [dict(num_workers=-1), dict(batch_size=2.5), dict(valid_batch_size=0)])
def test_digits_data_module_loader_args(kwargs):
    from perceiver.data.vision import DigitsDataModule

    with pytest.raises((ValueError, TypeError), match=next(iter(kwargs))):
        DigitsDataModule(**kwargs)


def test_text_and_audio_data_modules_num_workers(tmp_path):
    from perceiver.data.audio import BachChoralesDataModule
    from perceiver.data.text import PydocTextDataModule

    with pytest.raises(ValueError, match="num_workers must be >= 0, got -1"):
        PydocTextDataModule(dataset_dir=str(tmp_path), max_seq_len=32, num_workers=-1)
    with pytest.raises(ValueError, match="num_workers must be >= 0, got -2"):
        BachChoralesDataModule(dataset_dir=str(tmp_path), max_seq_len=32, num_workers=-2)


@pytest.mark.parametrize("factory", [zoo.clm, zoo.audio], ids=["clm", "audio"])
def test_generate_rejects_empty_batch_and_bad_ids(factory):
    model = factory()
    with pytest.raises(ValueError, match="input_ids must hold at least one prompt, got batch_size 0"):
        model.generate(torch.zeros(0, 1, dtype=torch.long), max_new_tokens=1)
    with pytest.raises(TypeError, match="input_ids must hold integer token ids, got dtype torch.complex64"):
        model.generate(torch.zeros(1, 2, dtype=torch.complex64), max_new_tokens=1)
    with pytest.raises(ValueError, match=r"input_ids holds token ids in \[0..99999\], outside the vocabulary"):
        model.generate(torch.tensor([[0, 99999]]), max_new_tokens=1)


def test_text_preprocessor_max_seq_len_must_exceed_special_tokens():
    from perceiver.data.text.preprocessor import TextPreprocessor
    from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer

    with pytest.raises(ValueError, match=r"max_seq_len must be > 2 \(the special tokens added to every text\), got 2"):
        TextPreprocessor(perceiver_bytes_tokenizer(), 2, add_special_tokens=True)
    input_ids, _ = TextPreprocessor(perceiver_bytes_tokenizer(), 3, add_special_tokens=True).preprocess_batch([""])
    assert input_ids.shape == (1, 2)
    assert TextPreprocessor(perceiver_bytes_tokenizer(), 1, add_special_tokens=False).max_seq_len == 1


@pytest.mark.parametrize("option", ["first_cross_attention_layer_shared", "first_self_attention_block_shared"])
def test_sharing_options_must_be_bool(option):
    from perceiver.model.text.mlm import (
        MaskedLanguageModel,
        MaskedLanguageModelConfig,
        TextDecoderConfig,
        TextEncoderConfig,
    )

    encoder = TextEncoderConfig(
        vocab_size=zoo.VOCAB, max_seq_len=zoo.SEQ, num_input_channels=16, num_self_attention_heads=2, **{option: "x"}
    )
    decoder = TextDecoderConfig(vocab_size=zoo.VOCAB, max_seq_len=zoo.SEQ)
    with pytest.raises(TypeError, match=f"{option} must be a bool, got str"):
        MaskedLanguageModel(MaskedLanguageModelConfig(encoder, decoder, num_latents=4, num_latent_channels=16))
