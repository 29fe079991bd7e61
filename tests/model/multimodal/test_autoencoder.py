import pytest
import torch
import transformers
from transformers import AutoConfig, AutoModel

from perceiver.model.multimodal import (
    MultimodalAutoencoder,
    PerceiverMultimodalAutoencoder,
    PerceiverMultimodalAutoencoderConfig,
    convert_config,
    convert_hf_model,
    convert_model,
)

NUM_FRAMES, IMAGE_SIZE, AUDIO_PER_FRAME, SAMPLES_PER_PATCH, NUM_LABELS = 2, 8, 8, 4, 5
NUM_PIXELS = NUM_FRAMES * IMAGE_SIZE * IMAGE_SIZE  # image output points
NUM_AUDIO_PATCHES = NUM_FRAMES * AUDIO_PER_FRAME // SAMPLES_PER_PATCH  # audio output points


def source_config(**kwargs) -> transformers.PerceiverConfig:
    defaults = dict(
        num_latents=6,
        d_latents=16,
        num_blocks=1,
        num_self_attends_per_block=2,
        num_self_attention_heads=4,
        num_cross_attention_heads=1,
        num_frames=NUM_FRAMES,
        image_size=IMAGE_SIZE,
        audio_samples_per_frame=AUDIO_PER_FRAME,
        samples_per_patch=SAMPLES_PER_PATCH,
        output_shape=[1, NUM_FRAMES, IMAGE_SIZE, IMAGE_SIZE],
        output_num_channels=12,
        num_labels=NUM_LABELS,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.1,
    )
    config = transformers.PerceiverConfig(**(defaults | kwargs))
    config._label_trainable_num_channels = kwargs.get("_label_trainable_num_channels", 20)
    return config


@pytest.fixture(scope="module")
def converted():
    torch.manual_seed(0)
    src = transformers.PerceiverForMultimodalAutoencoding(source_config()).eval()
    return src, convert_hf_model(src)


def random_inputs(batch_size: int = 2) -> tuple[dict, dict]:
    """The same clip for transformers (frames channels first, audio (b, n, 1)) and for us (channels last)."""
    image = torch.randn(batch_size, NUM_FRAMES, 3, IMAGE_SIZE, IMAGE_SIZE)
    audio = torch.randn(batch_size, NUM_FRAMES * AUDIO_PER_FRAME, 1)
    label = torch.nn.functional.one_hot(torch.arange(batch_size) % NUM_LABELS, NUM_LABELS).float()
    return dict(image=image, audio=audio, label=label), dict(
        image=image.permute(0, 1, 3, 4, 2), audio=audio, label=label
    )


def source_chunks(src, inputs: dict, num_chunks: int) -> list[dict]:
    """transformers' own chunked decoding: each call decodes a slice of the image and audio output points."""
    image_chunk, audio_chunk = NUM_PIXELS // num_chunks, NUM_AUDIO_PATCHES // num_chunks
    outputs = []
    for i in range(num_chunks):
        points = {
            "image": torch.arange(image_chunk * i, image_chunk * (i + 1)),
            "audio": torch.arange(audio_chunk * i, audio_chunk * (i + 1)),
            "label": None,
        }
        with torch.no_grad():
            outputs.append((points, src(inputs=inputs, subsampled_output_points=points).logits))
    return outputs


def assert_close(actual, expected, tol=1e-5):
    torch.testing.assert_close(actual, expected, atol=tol, rtol=tol)


def test_convert_matches_transformers_on_subsampled_points(converted, tmp_path):
    src, tgt = converted
    src_inputs, inputs = random_inputs()
    chunks = source_chunks(src, src_inputs, num_chunks=2)
    assert chunks[0][1]["image"].abs().max() > 0.1
    tgt.save_pretrained(tmp_path)
    reloaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, PerceiverMultimodalAutoencoder)
    for points, expected in chunks:
        with torch.no_grad():
            backend = tgt.backend_model(inputs, output_points=points)
            wrapper = tgt(inputs, subsampled_output_points=points).logits
            loaded = reloaded(inputs, subsampled_output_points=points).logits
        for output in (backend, wrapper, loaded):
            assert output.keys() == expected.keys()
            for modality in expected:
                assert_close(output[modality], expected[modality])


@pytest.mark.parametrize("chunk_size", [7, 50, 10_000])
def test_full_decoding_in_chunks_equals_transformers_chunks(converted, chunk_size):
    src, tgt = converted
    src_inputs, inputs = random_inputs()
    chunks = source_chunks(src, src_inputs, num_chunks=4)
    expected_image = torch.cat([out["image"] for _, out in chunks], dim=1)
    expected_audio = torch.cat([out["audio"] for _, out in chunks], dim=1)

    query_lengths = []
    hook = tgt.backend_model.decoder.cross_attn.register_forward_hook(
        lambda module, args, output: query_lengths.append(args[0].shape[1])
    )
    with torch.no_grad():
        output = tgt.backend_model(inputs, chunk_size=chunk_size)
    hook.remove()

    assert max(query_lengths) == min(chunk_size, NUM_PIXELS)  # memory stays bounded by the chunk size
    assert output["image"].shape == (2, NUM_FRAMES, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert output["audio"].shape == (2, NUM_FRAMES * AUDIO_PER_FRAME)
    assert_close(output["image"].reshape(2, NUM_PIXELS, 3), expected_image)
    assert_close(output["audio"], expected_audio)
    assert_close(output["label"], chunks[0][1]["label"])


def test_label_is_masked_and_optional(converted):
    _, tgt = converted
    _, inputs = random_inputs()
    points = {"image": torch.arange(5), "audio": torch.arange(2)}
    with torch.no_grad():
        expected = tgt.backend_model(inputs, output_points=points)
        without_label = tgt.backend_model({**inputs, "label": None}, output_points=points)
        other_label = tgt.backend_model({**inputs, "label": torch.randn(2, NUM_LABELS)}, output_points=points)
    for output in (without_label, other_label):
        for modality in expected:
            assert_close(output[modality], expected[modality])


def test_convert_model_from_local_folder(tmp_path):
    src = transformers.PerceiverForMultimodalAutoencoding(source_config()).eval()
    src.save_pretrained(tmp_path / "src")
    convert_model(tmp_path / "dst", source_repo_id=str(tmp_path / "src"))
    assert isinstance(AutoConfig.from_pretrained(tmp_path / "dst"), PerceiverMultimodalAutoencoderConfig)
    model = PerceiverMultimodalAutoencoder.from_pretrained(tmp_path / "dst").eval()
    src_inputs, inputs = random_inputs(1)
    (points, expected), *_ = source_chunks(src, src_inputs, num_chunks=2)
    with torch.no_grad():
        output = model(inputs, subsampled_output_points=points).logits
    assert_close(output["image"], expected["image"])


def test_official_configuration_has_the_parameters_of_transformers():
    config = transformers.PerceiverConfig(
        num_latents=784,
        d_latents=512,
        d_model=704,
        num_blocks=1,
        num_self_attends_per_block=8,
        num_self_attention_heads=8,
        num_cross_attention_heads=1,
        num_labels=700,
        image_size=224,
    )
    with torch.device("meta"):
        src = transformers.PerceiverForMultimodalAutoencoding(config)
        tgt = MultimodalAutoencoder(convert_config(config))
        default = MultimodalAutoencoder(PerceiverMultimodalAutoencoderConfig().backend_config)
    n_src = sum(p.numel() for p in src.parameters())
    assert sum(p.numel() for p in tgt.parameters()) == n_src
    assert sum(p.numel() for p in default.parameters()) == n_src
    assert tgt.encoder.input_adapter.num_input_channels == 704
    assert tgt.decoder.output_query_provider.num_query_channels == 1026


def test_bad_input(converted):
    _, tgt = converted
    _, inputs = random_inputs()
    model = tgt.backend_model
    with pytest.raises(TypeError, match="must be a dict"):
        model(inputs["image"])
    with pytest.raises(ValueError, match=r"x\['image'\] must have shape"):
        model({**inputs, "image": inputs["image"][:, :, :7]})
    with pytest.raises(ValueError, match=r"x\['image'\] must have shape"):
        model({**inputs, "image": inputs["image"].permute(0, 1, 4, 2, 3)})  # channels first
    with pytest.raises(ValueError, match=r"x\['image'\] must have shape .* divisible by the patch size \(1, 4, 4\)"):
        model({**inputs, "image": inputs["image"][:, :, :6, :4]})
    with pytest.raises(ValueError, match=r"x\['image'\] must have shape"):
        model({**inputs, "image": inputs["image"][..., :1]})  # one channel, not 3
    with pytest.raises(ValueError, match=r"x\['audio'\] must have shape .* divisible by audio_samples_per_patch"):
        model({**inputs, "audio": inputs["audio"][:, :-1]})
    with pytest.raises(ValueError, match=r"x\['audio'\] must have shape"):
        model({**inputs, "audio": inputs["audio"][:, :0]})
    with pytest.raises(ValueError, match=r"x\['label'\] must have shape"):
        model({**inputs, "label": torch.zeros(2, NUM_LABELS + 1)})
    with pytest.raises(ValueError, match="unknown modalities"):
        model({**inputs, "text": inputs["label"]})
    with pytest.raises(ValueError, match=r"must lie in \[0, 127\]"):
        model(inputs, output_points={"image": torch.tensor([0, NUM_PIXELS])})
    with pytest.raises(ValueError, match="integer indices"):
        model(inputs, output_points={"audio": torch.tensor([0.5])})
    with pytest.raises(ValueError, match="chunk_size must be > 0"):
        model(inputs, chunk_size=0)


def test_bad_config():
    with pytest.raises(ValueError, match="must equal"):
        convert_config(source_config(output_shape=[1, NUM_FRAMES, 16, 16]))
    config = convert_config(source_config())
    config.encoder.image_shape = (10, 8, 3)
    with pytest.raises(ValueError, match="must divide into patches"):
        MultimodalAutoencoder(config)
    config = convert_config(source_config())
    config.encoder.audio_samples_per_patch = 3
    with pytest.raises(ValueError, match="divisible by audio_samples_per_patch"):
        MultimodalAutoencoder(config)
    config = convert_config(source_config())
    config.encoder.label_mask_prob = 1.5
    with pytest.raises(ValueError, match="label_mask_prob"):
        MultimodalAutoencoder(config)


@pytest.mark.parametrize(
    ("frames", "size", "num_audio_samples"),
    [(2, (12, 12), 16), (3, (8, 4), 20), (4, (12, 16), 32)],
)
def test_other_clip_sizes_like_transformers(converted, frames, size, num_audio_samples):
    """transformers' encoder takes other clip lengths and frame sizes (Fourier features of the input's patch grid,
    frequencies of the configured clip); its decoder still decodes the configured clip's output points."""
    src, tgt = converted
    image = torch.randn(2, frames, 3, *size)
    audio = torch.randn(2, num_audio_samples, 1)
    label = torch.nn.functional.one_hot(torch.tensor([1, 3]), NUM_LABELS).float()
    points = {"image": torch.arange(10, 40), "audio": torch.arange(1, 3), "label": None}
    with torch.no_grad():
        expected = src(inputs=dict(image=image, audio=audio, label=label), subsampled_output_points=points).logits
        inputs = dict(image=image.permute(0, 1, 3, 4, 2), audio=audio, label=label)
        actual = tgt.backend_model(inputs, output_points=points)
        full = tgt.backend_model(inputs, chunk_size=50)
    for modality in expected:
        assert_close(actual[modality], expected[modality])
    assert full["image"].shape == (2, NUM_FRAMES, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert_close(full["image"].flatten(1, 3)[:, 10:40], expected["image"])
    # the configured clip's features stay cached next to the last other size
    assert len(tgt.backend_model.encoder.input_adapter._position_encodings) <= 2
