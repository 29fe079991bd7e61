"""``perceiver.export``: torch.export and ONNX (onnxruntime) of the masked LM, the image classifier and a cached
Perceiver AR decode step, against the eager models (within 1e-4)."""

import copy

import pytest
import torch

from perceiver.export import (
    DecodeStep,
    export_decode_step,
    export_image_classifier,
    export_masked_lm,
    export_prefill,
    to_onnx,
)
from perceiver.model.core import CausalSequenceModel, CausalSequenceModelConfig
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.text.common import TextEncoderConfig
from perceiver.model.text.mlm import MaskedLanguageModel, MaskedLanguageModelConfig, TextDecoderConfig
from perceiver.model.vision.image_classifier import ImageClassifier, ImageClassifierConfig, ImageEncoderConfig

TOL = dict(atol=1e-4, rtol=1e-4)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def masked_lm() -> MaskedLanguageModel:
    torch.manual_seed(0)
    encoder = TextEncoderConfig(
        vocab_size=50, max_seq_len=16, num_input_channels=16, num_cross_attention_heads=2,
        num_self_attention_heads=2, num_self_attention_layers_per_block=1,
    )  # fmt: skip
    decoder = TextDecoderConfig(vocab_size=50, max_seq_len=16, num_cross_attention_heads=2)
    return MaskedLanguageModel(
        MaskedLanguageModelConfig(encoder, decoder, num_latents=4, num_latent_channels=16)
    ).eval()


def image_classifier() -> ImageClassifier:
    torch.manual_seed(0)
    encoder = ImageEncoderConfig(
        image_shape=(6, 6, 3), num_frequency_bands=3, num_cross_attention_heads=1, num_self_attention_heads=2,
        num_self_attention_layers_per_block=1,
    )  # fmt: skip
    decoder = ClassificationDecoderConfig(num_classes=5, num_output_query_channels=16, num_cross_attention_heads=1)
    return ImageClassifier(ImageClassifierConfig(encoder, decoder, num_latents=4, num_latent_channels=16)).eval()


def causal_model() -> CausalSequenceModel:
    torch.manual_seed(0)
    config = CausalSequenceModelConfig(
        vocab_size=40, max_seq_len=24, max_latents=6, num_channels=16, num_heads=2, num_self_attention_layers=2,
        init_scale=0.1,
    )  # fmt: skip
    return CausalSequenceModel(config).eval()


def filled_cache(model: CausalSequenceModel, x: torch.Tensor, prefix_len: int) -> list:
    cache = model.preallocated_kv_cache(x.shape[0])
    with torch.no_grad():
        model(x, prefix_len=prefix_len, kv_cache=cache)
    return cache


def cache_tensors(cache: list) -> list[torch.Tensor]:
    return [t for c in cache for t in (c.k[:, : c.length], c.v[:, : c.length])]


def test_masked_lm_export_equals_eager_for_other_batch_and_length():
    model = masked_lm()
    program = export_masked_lm(model, torch.randint(0, 50, (2, 12)))
    x = torch.randint(0, 50, (3, 9))
    pad_mask = torch.zeros(3, 9, dtype=torch.bool)
    pad_mask[1, 6:] = True
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x, pad_mask), model(x, pad_mask=pad_mask), **TOL)


def test_image_classifier_export_equals_eager_for_other_batch():
    model = image_classifier()
    program = export_image_classifier(model, torch.randn(2, 6, 6, 3))
    x = torch.randn(5, 6, 6, 3)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), **TOL)


def test_decode_step_export_equals_cached_eager_step():
    model = causal_model()
    program = export_decode_step(
        model, torch.randint(0, 40, (2, 1)), filled_cache(model, torch.randint(0, 40, (2, 10)), 7)
    )
    # another batch size and other cache lengths than the example's
    cache = filled_cache(model, torch.randint(0, 40, (3, 14)), 10)
    token = torch.randint(0, 40, (3, 1))
    inputs = cache_tensors(cache)
    with torch.no_grad():
        logits, *updated = program.module()(token, *inputs)
        expected = model(token, prefix_len=0, kv_cache=cache).logits[:, -1]
    torch.testing.assert_close(logits, expected, **TOL)
    for actual, wanted in zip(updated, cache_tensors(cache)):
        torch.testing.assert_close(actual, wanted, **TOL)


def test_exported_prefill_and_decode_steps_generate_like_eager():
    model = causal_model()
    x = torch.randint(0, 40, (2, 10))
    prefill = export_prefill(model, x, prefix_len=7).module()
    step = export_decode_step(model, x[:, :1], filled_cache(model, x, 7)).module()
    eager_cache = filled_cache(model, x, 7)
    with torch.no_grad():
        logits, *cache = prefill(x)
        for _ in range(3):  # latents grow from 3 to 6 = max_latents
            token = logits.argmax(dim=-1, keepdim=True)
            expected = model(token, prefix_len=0, kv_cache=eager_cache).logits[:, -1]
            logits, *cache = step(token, *cache)
            torch.testing.assert_close(logits, expected, **TOL)


def test_decode_step_module_is_the_cached_forward():
    model = causal_model()
    cache = filled_cache(model, torch.randint(0, 40, (2, 10)), 7)
    token = torch.randint(0, 40, (2, 1))
    with torch.no_grad():
        logits, *_ = DecodeStep(model)(token, *cache_tensors(cache))
        expected = model(token, prefix_len=0, kv_cache=copy.deepcopy(cache)).logits[:, -1]
    torch.testing.assert_close(logits, expected, atol=0, rtol=0)


def test_export_needs_an_example_batch_of_two():
    with pytest.raises(ValueError, match=r"x_masked must be an example batch of at least 2 rows.*\(1, 4\)"):
        export_masked_lm(masked_lm(), torch.randint(0, 50, (1, 4)))
    with pytest.raises(TypeError, match="x must be a tensor, got list"):
        export_image_classifier(image_classifier(), [1, 2])


def test_decode_step_export_rejects_bad_caches():
    model = causal_model()
    token = torch.randint(0, 40, (2, 1))
    with pytest.raises(ValueError, match="cache must be a non-empty list of KVCache"):
        export_decode_step(model, token, [])
    with pytest.raises(ValueError, match=r"token must have shape \(batch_size, 1\), got \(2, 3\)"):
        export_decode_step(model, torch.zeros(2, 3, dtype=torch.long), filled_cache(model, torch.zeros(2, 6).long(), 3))
    with pytest.raises(ValueError, match=r"at least 2 entries, got lengths \[6, 1, 1\]"):
        export_decode_step(model, token, filled_cache(model, torch.zeros(2, 6, dtype=torch.long), 5))


def test_to_onnx_rejects_a_module():
    with pytest.raises(TypeError, match="program must be a torch.export.ExportedProgram, got ImageClassifier"):
        to_onnx(image_classifier(), "model.onnx")


# --- ONNX through onnxruntime (slow: the ONNX translation takes seconds per model) ------------------------------


def run_onnx(path, *inputs):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]
    return [torch.from_numpy(out) for out in session.run(None, dict(zip(names, [t.numpy() for t in inputs])))]


@pytest.mark.slow
def test_masked_lm_onnx_equals_eager(tmp_path):
    pytest.importorskip("onnxscript")
    model = masked_lm()
    path = to_onnx(export_masked_lm(model, torch.randint(0, 50, (2, 12))), tmp_path / "mlm.onnx")
    x = torch.randint(0, 50, (3, 9))
    pad_mask = torch.zeros(3, 9, dtype=torch.bool)
    pad_mask[2, 5:] = True
    with torch.no_grad():
        expected = model(x, pad_mask=pad_mask)
    torch.testing.assert_close(run_onnx(path, x, pad_mask)[0], expected, **TOL)


@pytest.mark.slow
def test_image_classifier_onnx_equals_eager(tmp_path):
    pytest.importorskip("onnxscript")
    model = image_classifier()
    path = to_onnx(export_image_classifier(model, torch.randn(2, 6, 6, 3)), tmp_path / "image.onnx")
    x = torch.randn(4, 6, 6, 3)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(run_onnx(path, x)[0], expected, **TOL)


@pytest.mark.slow
def test_decode_step_onnx_equals_eager(tmp_path):
    pytest.importorskip("onnxscript")
    model = causal_model()
    program = export_decode_step(
        model, torch.randint(0, 40, (2, 1)), filled_cache(model, torch.randint(0, 40, (2, 10)), 7)
    )
    path = to_onnx(program, tmp_path / "step.onnx")
    cache = filled_cache(model, torch.randint(0, 40, (3, 14)), 10)
    token = torch.randint(0, 40, (3, 1))
    outputs = run_onnx(path, token, *cache_tensors(cache))
    with torch.no_grad():
        expected = model(token, prefix_len=0, kv_cache=cache).logits[:, -1]
    torch.testing.assert_close(outputs[0], expected, **TOL)
    for actual, wanted in zip(outputs[1:], cache_tensors(cache)):
        torch.testing.assert_close(actual, wanted, **TOL)
