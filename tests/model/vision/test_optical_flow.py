import json
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
import transformers
from transformers import AutoConfig, pipeline

from perceiver.model.core.huggingface import perceiver_io_config_from_dict
from perceiver.model.vision.optical_flow import (
    OpticalFlow,
    OpticalFlowDecoderConfig,
    OpticalFlowEncoderConfig,
    OpticalFlowPerceiver,
    OpticalFlowPerceiverConfig,
    OpticalFlowPipeline,
    OpticalFlowProcessor,
    convert_config,
    convert_hf_model,
    convert_model,
)
from tests.model.vision.helpers import perceiver_config

FIXTURES = Path(__file__).parents[2] / "fixtures" / "optical_flow"
WINDOW = (8, 12)


def assert_close(actual, expected, atol=1e-5, rtol=1e-5):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol)


def fixture_model() -> OpticalFlow:
    data = json.loads((FIXTURES / "config.json").read_text())
    config = perceiver_io_config_from_dict(data, OpticalFlowEncoderConfig, OpticalFlowDecoderConfig)
    return OpticalFlow(config).eval()


def flow_source(**kwargs) -> transformers.PerceiverForOpticalFlow:
    config = perceiver_config(num_blocks=1, train_size=list(WINDOW), **kwargs)
    return transformers.PerceiverForOpticalFlow(config).eval()


@pytest.fixture(scope="module")
def converted() -> tuple[transformers.PerceiverForOpticalFlow, OpticalFlowPerceiver]:
    torch.manual_seed(0)
    src = flow_source()
    return src, convert_hf_model(src)


# --- reference fixtures -------------------------------------------------------------------------------------------


def test_fixture_backend_reproduces_logits():
    model = fixture_model()
    state_dict = torch.load(FIXTURES / "backend_state_dict.pt")
    key = "0.input_adapter.position_encoding.position_encoding"
    assert_close(model.state_dict()[key], state_dict[key], atol=1e-6)
    model.load_state_dict(state_dict)
    io = torch.load(FIXTURES / "io.pt")
    with torch.no_grad():
        logits = model(io["inputs"])
    # the fixture's flows are tiny (init scale 0.02, divided by the rescale factor 100): compare relatively too
    assert_close(logits, io["logits"], atol=1e-5 * io["logits"].abs().max().item(), rtol=1e-4)
    assert sum(p.numel() for p in model.parameters()) == 27076


def test_fixture_hf_folder_loads_and_reproduces_logits(tmp_path):
    io = torch.load(FIXTURES / "io.pt")
    assert isinstance(AutoConfig.from_pretrained(FIXTURES / "hf"), OpticalFlowPerceiverConfig)
    model = OpticalFlowPerceiver.from_pretrained(FIXTURES / "hf").eval()
    tol = 1e-5 * io["hf_logits"].abs().max().item()
    with torch.no_grad():
        assert_close(model(io["inputs"]).logits, io["hf_logits"], atol=tol, rtol=1e-4)
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        assert_close(OpticalFlowPerceiver.from_pretrained(tmp_path)(io["inputs"]).logits, io["hf_logits"], tol, 1e-4)


# --- conversion ---------------------------------------------------------------------------------------------------


def test_convert_matches_transformers(converted, tmp_path):
    src, tgt = converted
    x = torch.randn(2, 2, 27, *WINDOW)
    with torch.no_grad():
        expected = src(inputs=x).logits
    assert expected.shape == (2, *WINDOW, 2) and expected.abs().max() > 0.01
    with torch.no_grad():
        assert_close(tgt.backend_model(x), expected)
        assert_close(tgt(inputs=x).logits, expected)
    tgt.save_pretrained(tmp_path)
    with torch.no_grad():
        assert_close(OpticalFlowPerceiver.from_pretrained(tmp_path).eval()(x).logits, expected)


def test_convert_model_from_local_folder(tmp_path):
    src = flow_source()
    src.save_pretrained(tmp_path / "src")
    convert_model(tmp_path / "dst", source_repo_id=str(tmp_path / "src"))
    model = OpticalFlowPerceiver.from_pretrained(tmp_path / "dst").eval()
    x = torch.randn(1, 2, 27, *WINDOW)
    with torch.no_grad():
        assert_close(model(x).logits, src(inputs=x).logits)


def test_official_configuration_has_the_parameters_of_transformers():
    config = perceiver_config(
        num_latents=2048, d_latents=512, num_blocks=1, num_self_attends_per_block=24, num_self_attention_heads=16
    )
    with torch.device("meta"):
        src = transformers.PerceiverForOpticalFlow(config)
        tgt = OpticalFlow(convert_config(config))
        default = OpticalFlow(OpticalFlowPerceiverConfig().backend_config)
    n_src = sum(p.numel() for p in src.parameters())
    assert sum(p.numel() for p in tgt.parameters()) == n_src
    assert sum(p.numel() for p in default.parameters()) == n_src
    assert tgt.encoder.input_adapter.num_input_channels == 322


# --- pipeline -----------------------------------------------------------------------------------------------------


def random_frames(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2))


def test_pipeline_any_frame_size_and_input_types(converted):
    _, model = converted
    flow_pipeline = pipeline("optical-flow", model=model)
    assert isinstance(flow_pipeline, OpticalFlowPipeline)
    f1, f2 = random_frames(13, 30)  # not multiples of the 8x12 window

    flow = flow_pipeline((f1, f2))
    assert flow.shape == (13, 30, 2) and flow.dtype == np.float32

    pil = flow_pipeline((PIL.Image.fromarray(f1), PIL.Image.fromarray(f2)))
    tensors = flow_pipeline([torch.from_numpy(f1), torch.from_numpy(f2)])
    channels_first = flow_pipeline((torch.from_numpy(f1).permute(2, 0, 1), torch.from_numpy(f2).permute(2, 0, 1)))
    for other in (pil, tensors, channels_first):
        np.testing.assert_array_equal(other, flow)

    # the same as the processor driving the model by hand
    processor = OpticalFlowProcessor(WINDOW, patch_min_overlap=2)
    with torch.no_grad():
        expected = processor.process(lambda x: model(x).logits, [(f1, f2)], batch_size=3)[0]
    np.testing.assert_allclose(flow, expected, atol=1e-4)  # pixels; batch shapes differ


def test_pipeline_list_of_pairs_micro_batches_and_render(converted):
    _, model = converted
    flow_pipeline = pipeline("optical-flow", model=model)
    pair_1, pair_2 = random_frames(9, 25, seed=1), random_frames(16, 12, seed=2)
    flows = flow_pipeline([pair_1, pair_2], micro_batch_size=4)
    assert [f.shape for f in flows] == [(9, 25, 2), (16, 12, 2)]
    np.testing.assert_allclose(flows[0], flow_pipeline(pair_1, micro_batch_size=1), atol=1e-4)

    image = flow_pipeline(pair_1, render=True)
    assert image.shape == (9, 25, 3) and image.dtype == np.uint8


def test_pipeline_bad_input(converted):
    _, model = converted
    flow_pipeline = pipeline("optical-flow", model=model)
    f1, f2 = random_frames(13, 30)
    with pytest.raises(ValueError, match="same size"):
        flow_pipeline((f1, f2[:12]))
    with pytest.raises(ValueError, match="smaller than the model's window"):
        flow_pipeline((f1[:7], f2[:7]))
    with pytest.raises(TypeError, match="pair of frames"):
        flow_pipeline("frame.png")
    with pytest.raises(TypeError, match="PIL image, numpy array or torch tensor"):
        flow_pipeline([(f1, "frame.png")])
    with pytest.raises(ValueError, match="micro_batch_size"):
        flow_pipeline((f1, f2), micro_batch_size=0)


def test_backend_rejects_bad_input_shape(converted):
    _, model = converted
    with pytest.raises(ValueError, match="2 frames, patch channels"):
        model.backend_model(torch.randn(1, 2, 27, 8, 13))
    with pytest.raises(ValueError, match="2 frames, patch channels"):
        model.backend_model(torch.randn(1, 3, 27, *WINDOW))
    with pytest.raises(TypeError, match="must be a tensor"):
        model.backend_model(np.zeros((1, 2, 27, *WINDOW)))


def test_bad_config():
    def config(encoder_shape, decoder_shape, rescale_factor=100.0):
        encoder = OpticalFlowEncoderConfig(
            image_shape=encoder_shape, num_patch_hidden_channels=6, num_frequency_bands=2, num_cross_attention_heads=1
        )
        decoder = OpticalFlowDecoderConfig(
            image_shape=decoder_shape, rescale_factor=rescale_factor, num_cross_attention_heads=1
        )
        return OpticalFlowPerceiverConfig().backend_config.__class__(encoder, decoder, 4, 8)

    OpticalFlow(config((8, 12), (8, 12)))
    with pytest.raises(ValueError, match="must be equal"):
        OpticalFlow(config((8, 12), (8, 10)))
    with pytest.raises(ValueError, match="rescale_factor must be > 0"):
        OpticalFlow(config((8, 12), (8, 12), rescale_factor=0.0))
    with pytest.raises(ValueError, match="image_shape must be"):
        OpticalFlow(config((8, 12, 3), (8, 12, 3)))


def test_other_window_sizes_are_refused_like_transformers(converted):
    """transformers' flow decoder reshapes to ``train_size``: other sizes fail there, and a size with as many pixels
    (the transposed window) gives a scrambled flow without an error. Ours refuses both; the pipeline tiles frames
    of any size into windows of the model's size instead."""
    src, tgt = converted
    with pytest.raises(RuntimeError):
        src(inputs=torch.randn(1, 2, 27, 10, 12))
    with torch.no_grad():
        assert src(inputs=torch.randn(1, 2, 27, *WINDOW[::-1])).logits.shape == (1, *WINDOW, 2)
    for size in [(10, 12), WINDOW[::-1]]:
        with pytest.raises(
            ValueError, match=r"2 frames, patch channels, height, width\) = \(batch_size, 2, 27, 8, 12\)"
        ):
            tgt.backend_model(torch.randn(1, 2, 27, *size))


def test_pipeline_progress_bar_over_the_windows(converted, capsys):
    _, model = converted
    flow_pipeline = pipeline("optical-flow", model=model)
    pair = random_frames(13, 30)
    flow_pipeline(pair, micro_batch_size=1, progress_bar=True)
    bar = capsys.readouterr().err
    assert "optical flow windows" in bar and "window/s" in bar or "window]" in bar
    flow_pipeline(pair, micro_batch_size=1, progress_bar=False)
    assert "optical flow windows" not in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress_bar must be a bool or None"):
        flow_pipeline(pair, progress_bar="yes")


def test_pipeline_empty_list(converted):
    _, model = converted
    assert pipeline("optical-flow", model=model)([]) == []
