"""Hugging Face wrapper of the image classifier, its Auto-class and pipeline registration, and conversion of the
official ``transformers`` Perceiver image classifiers (Fourier, learned and conv input)."""

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification
from transformers.image_processing_utils import BaseImageProcessor
from transformers.modeling_outputs import ImageClassifierOutput

from perceiver.data.vision.image_processor import PerceiverImageClassifierInputProcessor
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.convert import (  # noqa: F401 (copy_latent_provider_params: a perceiver-io 0.11 name)
    copy_classification_decoder_params,
    copy_cross_attention_layer_params,
    copy_encoder_params,
    copy_latent_provider_params,
    copy_param,
    copy_params,
    copy_self_attention_block_params,
    hf_decoder_kwargs,
    hf_encoder_kwargs,
    hf_latent_kwargs,
)
from perceiver.model.core.folder import save_model_folder
from perceiver.model.core.hf_io import (
    PerceiverIOBackendConfig,
    PerceiverIOTrainedModel,
    convert_source_model,
    converted_model,
)
from perceiver.model.core.perceiver_io import PerceiverEncoder
from perceiver.model.core.pipelines import serve_empty_batches
from perceiver.model.core.utils import check_labels, lazy_exports
from perceiver.model.vision.image_classifier.backend import (
    ConvImageInputAdapter,
    ImageClassifier,
    ImageClassifierConfig,
    ImageEncoderConfig,
    LearnedImageInputAdapter,
)


class PerceiverImageClassifierConfig(PerceiverIOBackendConfig):
    model_type = "perceiver-io-image-classifier"
    backend_config_class = ImageClassifierConfig

    def __init__(self, backend_config: ImageClassifierConfig | None = None, **kwargs: Any):
        super().__init__(backend_config, **kwargs)
        num_classes = self.model_config["decoder"]["num_classes"]
        if self.id2label is None or len(self.id2label) != num_classes:
            # the image-classification pipeline names classes through id2label
            self.id2label = {i: f"LABEL_{i}" for i in range(num_classes)}
            self.label2id = {label: i for i, label in self.id2label.items()}

    @classmethod
    def default_backend_config(cls) -> ImageClassifierConfig:
        """The configuration of ``deepmind/vision-perceiver-fourier``."""
        encoder = ImageEncoderConfig(
            image_shape=(224, 224, 3),
            num_frequency_bands=64,
            num_cross_attention_heads=1,
            num_self_attention_heads=8,
            num_self_attention_layers_per_block=6,
            num_self_attention_blocks=8,
        )
        decoder = ClassificationDecoderConfig(
            num_classes=1000, num_output_query_channels=1024, num_cross_attention_heads=1
        )
        return ImageClassifierConfig(encoder, decoder, num_latents=512, num_latent_channels=1024)


class PerceiverImageClassifier(PerceiverIOTrainedModel):
    config_class = PerceiverImageClassifierConfig
    backend_model_class = ImageClassifier
    main_input_name = "pixel_values"

    def forward(
        self,
        inputs: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs: Any,
    ) -> ImageClassifierOutput | tuple:
        """``pixel_values`` (or ``inputs``): channels-last images ``(b, h, w, c)`` of any height and width. With
        ``labels`` ``(b,)`` the cross-entropy loss is returned too. ``interpolate_pos_encoding`` resizes a learned
        position embedding to the input's size (as in ``transformers``)."""
        if inputs is not None and pixel_values is not None:
            raise ValueError("Pass either inputs or pixel_values, not both")
        x = pixel_values if pixel_values is not None else inputs
        if x is None:
            raise ValueError("Either inputs or pixel_values must be given")
        logits = self.backend_model(self._in_model_precision(x), interpolate_pos_encoding=interpolate_pos_encoding)
        loss = None
        if labels is not None:
            check_labels(labels, logits.shape[-1], (logits.shape[0],))
            loss = F.cross_entropy(logits, labels.to(logits.device))
        return self._output(ImageClassifierOutput, logits, loss, return_dict)

    @classmethod
    def from_checkpoint(cls, ckpt_path: str | Path) -> "PerceiverImageClassifier":
        """Load a Lightning checkpoint of ``LitImageClassifier`` (a local file or an http(s) URL), in eval mode."""
        return super().from_checkpoint(ckpt_path).eval()


# ---------------------------------------------------------------------------------------------------------------
# Conversion of transformers' PerceiverForImageClassification{Fourier,Learned,ConvProcessing}
# ---------------------------------------------------------------------------------------------------------------

SOURCE_ADAPTER_TYPES = {
    "PerceiverForImageClassificationFourier": "fourier",
    "PerceiverForImageClassificationLearned": "learned",
    "PerceiverForImageClassificationConvProcessing": "conv",
}


def source_adapter_type(config: transformers.PerceiverConfig) -> str:
    architectures = config.architectures or []
    for architecture in architectures:
        if architecture in SOURCE_ADAPTER_TYPES:
            return SOURCE_ADAPTER_TYPES[architecture]
    raise ValueError(
        f"config.architectures must name one of {sorted(SOURCE_ADAPTER_TYPES)} to convert, got {architectures}"
    )


def convert_config(
    config: transformers.PerceiverConfig, input_adapter_type: str | None = None
) -> ImageClassifierConfig:
    """Backend config equivalent to a ``transformers`` Perceiver image classifier config. ``input_adapter_type``
    defaults to the one ``config.architectures`` names."""
    kind = input_adapter_type or source_adapter_type(config)
    if not config.use_query_residual:
        raise ValueError("use_query_residual=False in the encoder cross-attention is not supported")
    if kind == "learned":
        image_shape = (config.image_size, config.image_size, 3)
        adapter = {"num_conv_channels": 256, "num_position_channels": 256}
    elif kind in ("fourier", "conv"):
        # the official Fourier and conv classifiers choose their Fourier frequencies (64 bands) for 224x224 inputs
        image_shape = (224, 224, 3)
        adapter = {"num_frequency_bands": 64, "num_conv_channels": 64 if kind == "conv" else None}
    else:
        raise ValueError(f"input_adapter_type must be 'fourier', 'learned' or 'conv', got {kind!r}")
    encoder = ImageEncoderConfig(
        image_shape=image_shape,
        input_adapter_type=kind,
        **hf_encoder_kwargs(config),
        **adapter,
    )
    decoder = ClassificationDecoderConfig(
        num_classes=config.num_labels,
        num_output_query_channels=config.d_latents,
        num_cross_attention_heads=1,
        cross_attention_residual=True,
        **hf_decoder_kwargs(config),
    )
    return ImageClassifierConfig(encoder, decoder, **hf_latent_kwargs(config))


def copy_image_encoder_params(src: torch.nn.Module, tgt: PerceiverEncoder) -> None:
    """The encoder of a ``transformers`` ``PerceiverModel`` for images: latents, attention and input adapter."""
    copy_encoder_params(src, tgt)
    preprocessor, adapter = src.input_preprocessor, tgt.input_adapter
    if isinstance(adapter, LearnedImageInputAdapter):
        copy_param(preprocessor.convnet_1x1.weight.flatten(1), adapter.conv1x1.weight, "convnet_1x1.weight")
        copy_param(preprocessor.convnet_1x1.bias, adapter.conv1x1.bias, "convnet_1x1.bias")
        copy_param(preprocessor.position_embeddings.position_embeddings, adapter.position_embedding, "positions")
        copy_params(preprocessor.positions_projection, adapter.position_projection)
    elif isinstance(adapter, ConvImageInputAdapter):
        copy_params(preprocessor.convnet.conv, adapter.conv)
        copy_params(preprocessor.convnet.batchnorm, adapter.batch_norm)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            copy_param(getattr(preprocessor.convnet.batchnorm, name), getattr(adapter.batch_norm, name), name)


def copy_image_classifier_params(src: torch.nn.Module, tgt: ImageClassifier) -> None:
    """Copy a ``transformers`` ``PerceiverForImageClassification*`` into a backend built from ``convert_config``."""
    copy_image_encoder_params(src.perceiver, tgt.encoder)
    copy_classification_decoder_params(src.perceiver, tgt.decoder, query_residual=True)


def source_backend_config(src: torch.nn.Module) -> ImageClassifierConfig:
    """``convert_config`` of the source's config, with the Fourier features and conv width read from the source's
    preprocessor (so a source whose preprocessor was rebuilt, e.g. for smaller images, converts too). For the
    Fourier and conv sources ``image_shape`` is the resolution their frequencies were chosen for (``max_resolution``,
    times 4 for conv); both models take images of other sizes, as the sources do."""
    config = convert_config(src.config, SOURCE_ADAPTER_TYPES.get(type(src).__name__))
    encoder = config.encoder
    preprocessor = src.perceiver.input_preprocessor
    if encoder.input_adapter_type in ("fourier", "conv"):
        position_encoding = preprocessor.position_embeddings
        height, width = position_encoding.max_resolution
        if encoder.input_adapter_type == "conv":
            height, width = 4 * height, 4 * width  # frequencies are chosen for a quarter of the input size
            encoder.num_conv_channels = preprocessor.convnet.conv.out_channels
        encoder.image_shape = (height, width, preprocessor.in_channels)
        encoder.num_frequency_bands = position_encoding.num_bands
    return config


def convert_hf_model(src: torch.nn.Module) -> PerceiverImageClassifier:
    """Convert an in-memory ``transformers`` Perceiver image classifier."""
    return converted_model(
        PerceiverImageClassifier, source_backend_config(src), src, copy_image_classifier_params, source_labels=True
    )


def convert_model(
    save_dir: str | Path,
    source_repo_id: str = "deepmind/vision-perceiver-fourier",
    push_to_hub: bool = False,
    **kwargs: Any,
) -> PerceiverImageClassifier:
    """Convert an official Perceiver image classifier (hub id or local folder) and save it, with its channels-last
    image processor, to ``save_dir``. ``kwargs`` go to ``save_pretrained``."""
    load_source = AutoModelForImageClassification.from_pretrained
    tgt = convert_source_model(save_dir, source_repo_id, load_source, convert_hf_model, push_to_hub, **kwargs)
    processor = load_source_processor(source_repo_id, tgt.config.backend_config.encoder.image_shape)
    processor.save_pretrained(save_dir, push_to_hub=push_to_hub, **kwargs)
    return tgt


def load_source_processor(
    source_repo_id: str | Path, image_shape: tuple[int, int, int]
) -> PerceiverImageClassifierInputProcessor:
    """The source's preprocessing settings as a channels-last processor; if the source has none, the ImageNet
    defaults (crop 224/256 of the shorter side) resized to the model's image size."""
    try:
        return PerceiverImageClassifierInputProcessor.from_pretrained(source_repo_id, channels_last=True)
    except OSError:
        height, width = image_shape[:2]
        crop_size = {"height": round(height * 256 / 224), "width": round(width * 256 / 224)}
        return PerceiverImageClassifierInputProcessor(size={"height": height, "width": width}, crop_size=crop_size)


# ---------------------------------------------------------------------------------------------------------------
# Conversion of Lightning checkpoints
# ---------------------------------------------------------------------------------------------------------------


def convert_checkpoint(
    save_dir: str | Path,
    ckpt_url: str | Path,
    image_processor: Any,
    id2label: dict[int, str] | None = None,
    label2id: dict[str, int] | None = None,
    **kwargs: Any,
) -> PerceiverImageClassifier:
    """Convert a Lightning checkpoint of ``LitImageClassifier`` into a ``PerceiverImageClassifier`` folder with
    ``image_processor`` (a processor, or a folder or hub id to load one from; it must produce the model's channels-last
    input size) and optional class labels. ``kwargs`` go to ``save_pretrained``."""
    if isinstance(image_processor, str | Path):
        image_processor = PerceiverImageClassifierInputProcessor.from_pretrained(str(image_processor))
    elif not isinstance(image_processor, BaseImageProcessor):
        raise TypeError(
            f"image_processor must be an image processor, a folder or a hub id, got {type(image_processor).__name__}"
        )
    model = PerceiverImageClassifier.from_checkpoint(ckpt_url)
    save_model_folder(save_dir, model, image_processor, id2label=id2label, label2id=label2id, **kwargs)
    return model


def convert_mnist_classifier_checkpoint(save_dir: str | Path, ckpt_url: str | Path, **kwargs: Any):
    """``convert_checkpoint`` of an MNIST classifier (``MNISTDataModule``): grey 28x28 images normalised to
    [-1, 1], labels ``"0"`` ... ``"9"``."""
    from perceiver.data.vision.image_processor import resize_processor

    labels = {i: str(i) for i in range(10)}
    return convert_checkpoint(save_dir, ckpt_url, resize_processor((28, 28, 1)), id2label=labels, **kwargs)


AutoConfig.register(PerceiverImageClassifierConfig.model_type, PerceiverImageClassifierConfig, exist_ok=True)
AutoModelForImageClassification.register(PerceiverImageClassifierConfig, PerceiverImageClassifier, exist_ok=True)
# slow_image_processor_class: the pillow backend in transformers 5, the only kind in 4.x
AutoImageProcessor.register(
    PerceiverImageClassifierConfig, slow_image_processor_class=PerceiverImageClassifierInputProcessor, exist_ok=True
)
serve_empty_batches("image-classification")


# perceiver-io 0.11 made its Lightning module importable from here (imported on access: Lightning is slow to import)
__getattr__ = lazy_exports(__name__, {"LitImageClassifier": "perceiver.model.vision.image_classifier.lightning"})
