"""Model folders written by the conversions of Lightning checkpoints: the tokenizer carries the model's limit and
the special tokens of training, class labels, image processors; and empty batches in the pipelines."""

import dataclasses

import numpy as np
import PIL.Image
import pytest
import torch
from transformers import AutoTokenizer, pipeline

from perceiver.data.text.tokenizer import CLS_TOKEN_ID, SEP_TOKEN_ID, perceiver_bytes_tokenizer
from perceiver.model.core.folder import class_labels, set_class_labels
from tests.model.text.utils import FIXTURES, save_lightning_checkpoint

HELLO = [ord(c) + 6 for c in "hello"]


def with_data_hparams(path, **hparams):
    ckpt = torch.load(path, weights_only=False)
    ckpt["datamodule_hyper_parameters"] = hparams
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def classifier_backend():
    from perceiver.model.text.classifier import TextClassifier
    from tests.model.text.classifier.test_classifier import fixture_config

    return TextClassifier(fixture_config())


@pytest.mark.parametrize("add_special_tokens", [False, True])
def test_text_classifier_checkpoint_keeps_the_special_tokens_of_training(
    tmp_path, classifier_backend, add_special_tokens
):
    from perceiver.model.text.classifier import convert_checkpoint

    ckpt = save_lightning_checkpoint(tmp_path / "clf.ckpt", classifier_backend)
    with_data_hparams(ckpt, add_special_tokens=add_special_tokens, add_eos_token=False)
    convert_checkpoint(tmp_path / "out", ckpt, "bytes", id2label={0: "a", 1: "b", 2: "c"})
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    expected = [CLS_TOKEN_ID, *HELLO, SEP_TOKEN_ID] if add_special_tokens else HELLO
    assert tokenizer("hello")["input_ids"] == expected
    max_seq_len = classifier_backend.config.encoder.max_seq_len
    assert tokenizer.model_max_length == max_seq_len
    classify = pipeline("text-classification", model=str(tmp_path / "out"))
    assert classify("x" * (3 * max_seq_len))[0]["label"] in ("a", "b", "c")  # truncated, not refused


def test_causal_lm_checkpoint_tokenizer_adds_nothing_after_a_prompt(tmp_path):
    from perceiver.model.text.clm import convert_checkpoint

    convert_checkpoint(tmp_path / "out", FIXTURES / "clm" / "lit.ckpt", tokenizer_name="deepmind/language-perceiver")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    assert tokenizer("hello")["input_ids"] == HELLO  # trained without special tokens: no [CLS] ... [SEP]
    model = convert_checkpoint(tmp_path / "out", FIXTURES / "clm" / "lit.ckpt", tokenizer_name="bytes")
    assert tokenizer.padding_side == "left" and tokenizer.model_max_length == model.config.backend_config.max_seq_len
    assert model.generation_config.pad_token_id == 0 and model.generation_config.eos_token_id is None


def test_causal_lm_checkpoint_trained_with_eos_ends_generation_there(tmp_path):
    from perceiver.model.text.clm import convert_checkpoint

    ckpt = tmp_path / "clm.ckpt"
    ckpt.write_bytes((FIXTURES / "clm" / "lit.ckpt").read_bytes())
    with_data_hparams(ckpt, add_special_tokens=True, add_eos_token=True)
    model = convert_checkpoint(tmp_path / "out", ckpt, tokenizer_name="bytes")
    assert AutoTokenizer.from_pretrained(tmp_path / "out")("hello")["input_ids"] == [CLS_TOKEN_ID, *HELLO]
    assert model.generation_config.eos_token_id == 2


def image_classifier_checkpoint(path, image_shape, num_classes):
    from perceiver.model.core.config import ClassificationDecoderConfig
    from perceiver.model.vision.image_classifier import ImageClassifier, ImageClassifierConfig, ImageEncoderConfig

    encoder = ImageEncoderConfig(image_shape=image_shape, num_frequency_bands=4, num_cross_attention_heads=1,
                                 num_self_attention_heads=2, num_self_attention_layers_per_block=1)  # fmt: skip
    decoder = ClassificationDecoderConfig(num_classes=num_classes, num_output_query_channels=16)
    backend = ImageClassifier(ImageClassifierConfig(encoder, decoder, num_latents=4, num_latent_channels=16)).eval()
    hparams = {"encoder": dataclasses.asdict(encoder), "decoder": dataclasses.asdict(decoder), "num_latents": 4,
               "num_latent_channels": 16}  # fmt: skip
    state_dict = {f"model.{k}": v for k, v in backend.state_dict().items()}
    torch.save({"state_dict": state_dict, "hyper_parameters": hparams}, path)
    return backend


def test_image_classifier_checkpoints_convert(tmp_path):
    from perceiver.data.vision.image_processor import resize_processor
    from perceiver.model.vision.image_classifier import convert_checkpoint, convert_mnist_classifier_checkpoint

    backend = image_classifier_checkpoint(tmp_path / "mnist.ckpt", (28, 28, 1), 10)
    convert_mnist_classifier_checkpoint(tmp_path / "mnist", tmp_path / "mnist.ckpt")
    classify = pipeline("image-classification", model=str(tmp_path / "mnist"))
    digit = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8))
    pixels = resize_processor((28, 28, 1))(digit, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = str(int(backend(pixels).argmax()))
    assert classify(digit, top_k=1)[0]["label"] == expected and len(classify(digit, top_k=10)) == 10

    image_classifier_checkpoint(tmp_path / "rgb.ckpt", (6, 6, 3), 2)
    convert_checkpoint(tmp_path / "rgb", tmp_path / "rgb.ckpt", resize_processor((6, 6, 3)), {0: "cat", 1: "dog"})
    assert pipeline("image-classification", model=str(tmp_path / "rgb"))(digit.convert("RGB"))[0]["label"] in (
        "cat",
        "dog",
    )
    with pytest.raises(TypeError, match="image_processor must be an image processor, a folder or a hub id"):
        convert_checkpoint(tmp_path / "bad", tmp_path / "rgb.ckpt", 42)


def test_class_labels_errors():
    assert class_labels(["neg", "pos"]) == {0: "neg", 1: "pos"}
    with pytest.raises(ValueError, match=r"class names must be distinct, got \['a'\]"):
        class_labels(["a", "b", "a"])
    config = type("Config", (), {"model_config": {"decoder": {"num_classes": 3}}})()
    with pytest.raises(ValueError, match="id2label has 2 labels but the classifier has num_classes=3"):
        set_class_labels(config, {0: "a", 1: "b"})
    set_class_labels(config, {0: "a", 1: "b", 2: "c"})
    assert config.label2id == {"a": 0, "b": 1, "c": 2}


def test_empty_batches_give_empty_results_for_our_models(tmp_path):
    import perceiver.model.text.mlm  # noqa: F401 (registers the classes)
    import perceiver.model.vision.image_classifier  # noqa: F401
    from perceiver.model.text.clm import CausalLanguageModelConfig, PerceiverCausalLanguageModel
    from perceiver.model.text.clm import PerceiverCausalLanguageModelConfig as ClmConfig
    from tests.docs_helpers import reference_model

    clf = pipeline("text-classification", model=reference_model("text_classifier"))
    fill = pipeline("fill-mask", model=reference_model("mlm"))
    image = pipeline("image-classification", model=reference_model("image_classifier"))
    config = CausalLanguageModelConfig(vocab_size=262, max_seq_len=16, max_latents=4, num_channels=16, num_heads=2,
                                       num_self_attention_layers=1)  # fmt: skip
    generate = pipeline("text-generation", model=PerceiverCausalLanguageModel(ClmConfig(config)),
                        tokenizer=perceiver_bytes_tokenizer(padding_side="left"))  # fmt: skip
    for pipe in (clf, fill, image, generate):
        assert pipe([]) == []
    assert len(clf(["a text", "another"])) == 2  # everything else unchanged


def test_empty_batches_of_other_models_are_left_to_transformers():
    import transformers

    config = transformers.BertConfig(vocab_size=262, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=8)  # fmt: skip
    bert = transformers.BertForSequenceClassification(config)
    clf = pipeline("text-classification", model=bert, tokenizer=perceiver_bytes_tokenizer())
    with pytest.raises(IndexError):
        clf([])


def test_symbolic_audio_pipeline_empty_list():
    from perceiver.model.audio.symbolic import PerceiverSymbolicAudioModel
    from tests.docs_helpers import fixture_path

    generator = pipeline("symbolic-audio-generation", model=PerceiverSymbolicAudioModel.from_pretrained(
        fixture_path("symbolic_audio/hf")))  # fmt: skip
    assert generator([]) == []
