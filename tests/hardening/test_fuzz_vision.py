"""Fuzzing the vision entry points: image classifier and optical flow (HF wrappers), the image processor, the
optical-flow processor and the image-classification and optical-flow pipelines."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hardening import zoo
from tests.hardening.fuzz import PROFILES, assert_finite, call, float_tensors


@st.composite
def images(draw, max_side: int = 20):
    """numpy images: (h, w), (h, w, c) with 1, 3 or 4 channels (or odd), uint8 or float in [0, 1]."""
    h, w = draw(st.integers(0, max_side)), draw(st.integers(0, max_side))
    c = draw(st.sampled_from([None, 1, 3, 3, 3, 4, 2]))
    shape = (h, w) if c is None else (h, w, c)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if draw(st.booleans()):
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.random(shape, dtype=np.float32)


@PROFILES
def test_fuzz_image_classifier_forward(profile):
    model = zoo.image_classifier()

    @settings(settings.get_profile(profile))
    @given(x=float_tensors(zoo.IMAGE_SHAPE))
    def run(x):
        out = call("PerceiverImageClassifier.forward", lambda: model(pixel_values=x))
        if out is not None:
            assert_finite("image classifier logits", out.logits, (x.shape[0], 3))

    run()


@PROFILES
def test_fuzz_optical_flow_forward(profile):
    model = zoo.optical_flow()

    @settings(settings.get_profile(profile))
    @given(x=float_tensors((2, 27, *zoo.FLOW_SHAPE), max_batch=1))
    def run(x):
        out = call("OpticalFlowPerceiver.forward", lambda: model(inputs=x))
        if out is not None:
            assert_finite("flow", out.logits, (x.shape[0], *zoo.FLOW_SHAPE, 2))

    run()


@PROFILES
def test_fuzz_image_processor_and_pipeline(profile):
    from transformers import pipeline

    from perceiver.data.vision.image_processor import PerceiverImageClassifierInputProcessor

    processor = PerceiverImageClassifierInputProcessor(size=8, crop_size=8)
    classify = pipeline("image-classification", model=zoo.image_classifier(), image_processor=processor)

    @settings(settings.get_profile(profile))
    @given(batch=st.lists(images(), min_size=0, max_size=3), top_k=st.integers(-1, 4))
    def run(batch, top_k):
        out = call(
            "PerceiverImageClassifierInputProcessor.__call__",
            lambda: processor(batch, return_tensors="pt")["pixel_values"],
        )
        if out is not None:
            assert_finite("pixel_values", out, (len(batch), *zoo.IMAGE_SHAPE))
        if batch:
            result = call("pipeline('image-classification')", lambda: classify(batch[0], top_k=top_k))
            if result is not None:
                assert len(result) <= 3 and all(np.isfinite(r["score"]) for r in result)

    run()


@PROFILES
def test_fuzz_optical_flow_processor_and_pipeline(profile):
    from transformers import pipeline

    flow = pipeline("optical-flow", model=zoo.optical_flow())

    @settings(settings.get_profile(profile))
    @given(f1=images(max_side=26), f2=images(max_side=26), same=st.booleans())
    def run(f1, f2, same):
        f2 = f1.copy() if same else f2
        out = call("OpticalFlowProcessor.preprocess", lambda: flow.flow_processor.preprocess((f1, f2))[0])
        if out is not None:
            assert out.ndim == 5 and out.shape[1:] == (2, 27, *zoo.FLOW_SHAPE)
        result = call("pipeline('optical-flow')", lambda: flow((f1, f2)))
        if result is not None:
            assert result.shape == (*f1.shape[:2], 2) and np.isfinite(result).all()

    run()
