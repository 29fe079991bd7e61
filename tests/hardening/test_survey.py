# ruff: noqa: B023 (each probe calls its lambda at once, inside the loop)
"""The hardening survey: every public entry point called with typical bad inputs (about 150 probes). Each must
raise a ValueError/TypeError (or FileNotFoundError) or return; an IndexError, KeyError or a RuntimeError from inside
torch fails. Run ``python -m tests.hardening.test_survey`` to print every probe's outcome."""

import tempfile
import warnings

import numpy as np
import torch

from tests.hardening import zoo
from tests.hardening.zoo import SEQ, VOCAB, ids

CLEAR = (ValueError, TypeError, FileNotFoundError)


def run_survey(verbose: bool = False) -> dict[str, str]:
    """Probe name -> outcome: ``clear`` (a clear error), ``returned`` or the unexpected exception's class name."""
    outcomes: dict[str, str] = {}

    def probe(name, fn):
        try:
            with torch.no_grad():
                fn()
            outcomes[name] = "returned"
        except CLEAR as e:
            outcomes[name] = "clear"
            if verbose:
                print(f"clear    {name}: {type(e).__name__}: {str(e)[:100]}")
        except Exception as e:  # noqa: BLE001 - the survey records every other exception
            outcomes[name] = type(e).__name__
        if verbose and outcomes[name] != "clear":
            print(f"{outcomes[name]:8s} {name}")

    warnings.filterwarnings("ignore")
    text_models = {"mlm": zoo.mlm, "txtclf": zoo.text_classifier}
    for mname, f in text_models.items():
        m = f()
        probe(f"{mname} float ids", lambda: m(input_ids=torch.rand(2, 8)))
        probe(f"{mname} id>=vocab", lambda: m(input_ids=torch.full((2, 8), VOCAB)))
        probe(f"{mname} id<0", lambda: m(input_ids=torch.full((2, 8), -1)))
        probe(f"{mname} too long", lambda: m(input_ids=ids(2, SEQ + 1)))
        probe(f"{mname} 1d", lambda: m(input_ids=ids(1, 8)[0]))
        probe(f"{mname} 3d", lambda: m(input_ids=ids(2, 8)[None]))
        probe(f"{mname} empty seq", lambda: m(input_ids=ids(2, 0)))
        probe(f"{mname} batch0", lambda: m(input_ids=ids(0, 8)))
        probe(f"{mname} mask shape", lambda: m(input_ids=ids(2, 8), attention_mask=torch.ones(2, 7)))
        probe(f"{mname} mask float", lambda: m(input_ids=ids(2, 8), attention_mask=torch.rand(2, 8)))
        probe(f"{mname} mask values 2", lambda: m(input_ids=ids(2, 8), attention_mask=torch.full((2, 8), 2)))
        probe(f"{mname} all masked", lambda: m(input_ids=ids(2, 8), attention_mask=torch.zeros(2, 8, dtype=torch.long)))
        probe(f"{mname} numpy", lambda: m(input_ids=ids(2, 8).numpy()))
        probe(f"{mname} none", lambda: m(input_ids=None))
        probe(f"{mname} labels shape", lambda: m(input_ids=ids(2, 8), labels=torch.zeros(3, dtype=torch.long)))
        probe(
            f"{mname} labels oob",
            lambda: m(input_ids=ids(2, 8), labels=torch.full((2, 8) if mname == "mlm" else (2,), 999)),
        )

    for mname, f in {"clm": zoo.clm, "audio": zoo.audio}.items():
        m = f()
        probe(f"{mname} float ids", lambda: m(input_ids=torch.rand(2, 8)))
        probe(f"{mname} id>=vocab", lambda: m(input_ids=torch.full((2, 8), 10000)))
        probe(f"{mname} id<0", lambda: m(input_ids=torch.full((2, 8), -1)))
        probe(f"{mname} too long", lambda: m(input_ids=ids(2, SEQ + 1)))
        probe(f"{mname} 1d", lambda: m(input_ids=ids(1, 8)[0]))
        probe(f"{mname} empty", lambda: m(input_ids=ids(2, 0)))
        probe(f"{mname} batch0", lambda: m(input_ids=ids(0, 8)))
        probe(f"{mname} mask shape", lambda: m(input_ids=ids(2, 8), attention_mask=torch.ones(2, 7)))
        probe(f"{mname} mask float", lambda: m(input_ids=ids(2, 8), attention_mask=torch.rand(2, 8)))
        probe(f"{mname} prefix_len neg", lambda: m(input_ids=ids(2, 8), prefix_len=-1))
        probe(f"{mname} prefix_len big", lambda: m(input_ids=ids(2, 8), prefix_len=8))
        probe(f"{mname} labels shape", lambda: m(input_ids=ids(2, 8), labels=torch.zeros(3, dtype=torch.long)))
        probe(f"{mname} labels oob", lambda: m(input_ids=ids(2, 8), labels=torch.full((2, 8), 99999)))
        probe(f"{mname} gen max_new_tokens -1", lambda: m.generate(ids(1, 4), max_new_tokens=-1))
        probe(f"{mname} gen prompt oob", lambda: m.generate(torch.full((1, 4), 99999), max_new_tokens=2))
        probe(f"{mname} gen prompt float", lambda: m.generate(torch.rand(1, 4), max_new_tokens=2))
        probe(f"{mname} gen prompt too long", lambda: m.generate(ids(1, SEQ + 2), max_new_tokens=2))
        probe(f"{mname} gen num_latents 0", lambda: m.generate(ids(1, 4), max_new_tokens=2, num_latents=0))
        probe(f"{mname} gen num_latents big", lambda: m.generate(ids(1, 4), max_new_tokens=2, num_latents=99))
        probe(f"{mname} gen empty prompt", lambda: m.generate(ids(1, 0), max_new_tokens=2))
        probe(f"{mname} gen 1d", lambda: m.generate(ids(1, 4)[0], max_new_tokens=2))
        probe(
            f"{mname} gen mask wrong", lambda: m.generate(ids(1, 4), attention_mask=torch.ones(1, 3), max_new_tokens=2)
        )

    m = zoo.image_classifier()
    for name, x in {
        "wrong channels": torch.randn(2, 8, 8, 4),
        "wrong size": torch.randn(2, 9, 8, 3),
        "3d": torch.randn(8, 8, 3),
        "int dtype": torch.randint(0, 255, (2, 8, 8, 3)),
        "uint8": torch.randint(0, 255, (2, 8, 8, 3), dtype=torch.uint8),
        "nan": torch.full((2, 8, 8, 3), float("nan")),
        "chw": torch.randn(2, 3, 8, 8),
        "numpy": np.zeros((2, 8, 8, 3), dtype=np.float32),
        "batch0": torch.randn(0, 8, 8, 3),
        "none": None,
    }.items():
        probe(f"imgclf {name}", lambda: m(inputs=x))
    probe("imgclf labels oob", lambda: m(inputs=torch.randn(2, 8, 8, 3), labels=torch.tensor([0, 7])))
    probe("imgclf labels shape", lambda: m(inputs=torch.randn(2, 8, 8, 3), labels=torch.tensor([0, 1, 2])))

    m = zoo.optical_flow()
    for name, x in {
        "wrong": torch.randn(1, 2, 27, 9, 12),
        "int": torch.zeros(1, 2, 27, 8, 12, dtype=torch.long),
        "4d": torch.randn(2, 27, 8, 12),
        "batch0": torch.randn(0, 2, 27, 8, 12),
    }.items():
        probe(f"flow {name}", lambda: m(inputs=x))
    from perceiver.data.vision.image_processor import PerceiverImageClassifierInputProcessor as P

    p = P(size={"height": 8, "width": 8}, crop_size={"height": 8, "width": 8}) if True else None
    for n, img in {
        "str": "x",
        "empty list": [],
        "1d": np.zeros(5),
        "4ch": np.zeros((8, 8, 4), np.uint8),
        "5d": np.zeros((1, 1, 8, 8, 3)),
        "zero size": np.zeros((0, 8, 3), np.uint8),
        "nan": np.full((8, 8, 3), np.nan, np.float32),
        "bool": np.zeros((8, 8, 3), bool),
        "complex": np.zeros((8, 8, 3), np.complex64),
        "int64 big": np.full((8, 8, 3), 1000),
        "tensor chw": torch.zeros(3, 8, 8),
    }.items():
        probe(f"imgproc {n}", lambda: p(img))
    probe("imgproc ctor size -1", lambda: P(size={"height": -1, "width": 8}))
    probe("imgproc ctor std 0", lambda: P(image_std=0.0))
    probe("imgproc ctor std list", lambda: P(image_std=[1, 2]))

    from perceiver.data.vision.optical_flow import OpticalFlowProcessor as OFP

    op = OFP(patch_size=(8, 12), patch_min_overlap=2)
    if op:
        probe(
            "ofp mismatch",
            lambda: (
                op.preprocess([np.zeros((16, 16, 3), np.uint8), np.zeros((16, 17, 3), np.uint8)])
                if hasattr(op, "preprocess")
                else op([np.zeros((16, 16, 3)), np.zeros((16, 17, 3))])
            ),
        )
        probe(
            "ofp small",
            lambda: op.preprocess([np.zeros((4, 4, 3), np.uint8)] * 2) if hasattr(op, "preprocess") else None,
        )
    probe("ofp ctor patch 0", lambda: OFP(patch_size=(0, 12)))
    probe("ofp ctor overlap neg", lambda: OFP(patch_size=(8, 12), patch_min_overlap=-1))

    from perceiver.data.audio import decode_midi, encode_midi

    probe("decode oob", lambda: decode_midi([9999]))
    probe("decode neg", lambda: decode_midi([-3]))
    probe("decode float", lambda: decode_midi([1.5]))
    probe("decode 2d", lambda: decode_midi(np.zeros((2, 2), int)))
    probe("encode str", lambda: encode_midi("x"))

    from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer

    probe("tok max_len 0", lambda: perceiver_bytes_tokenizer(model_max_length=0))
    probe("tok side", lambda: perceiver_bytes_tokenizer(padding_side="up"))
    from perceiver.data.text.preprocessor import TextPreprocessor

    tp = TextPreprocessor(perceiver_bytes_tokenizer(), 16, True)
    probe("tp list int", lambda: tp.preprocess_batch([1]))
    from perceiver.model.text.mlm import MaskFiller

    mf = MaskFiller(tp)
    probe("maskfill no mask", lambda: mf.fill(zoo.mlm(), ["hello"], 2))
    probe("maskfill k>vocab", lambda: mf.fill(zoo.mlm(), ["he<mask>lo"], 9999))
    probe("maskfill str batch", lambda: mf.fill(zoo.mlm(), "he<mask>lo", 2))

    from perceiver.data.audio import BachChoralesDataModule
    from perceiver.data.text import PydocTextDataModule
    from perceiver.data.vision import DigitsDataModule

    for kw in [
        dict(batch_size=0),
        dict(batch_size=-1),
        dict(num_workers=-1),
        dict(valid_size=1.5),
        dict(random_shift=-1),
        dict(batch_size=2.5),
        dict(valid_batch_size=0),
    ]:
        probe(f"digits {kw}", lambda: DigitsDataModule(**kw))
    d = tempfile.mkdtemp()
    for kw in [
        dict(max_seq_len=0),
        dict(batch_size=0),
        dict(mask_prob=2.0),
        dict(task="foo"),
        dict(padding_side="up"),
        dict(num_workers=-1),
        dict(random_min_seq_len=0),
        dict(max_seq_len="x"),
    ]:
        probe(f"pydoc {kw}", lambda: PydocTextDataModule(**({"dataset_dir": d, "max_seq_len": 32} | kw)))
    for kw in [dict(max_seq_len=0), dict(batch_size=0), dict(num_workers=-1), dict(min_seq_len=0)]:
        probe(f"bach {kw}", lambda: BachChoralesDataModule(**({"dataset_dir": d, "max_seq_len": 32} | kw)))

    from perceiver.model.text.clm.lightning import LitCausalLanguageModel as L

    T = dict(vocab_size=262, max_seq_len=32, max_latents=8, num_channels=16, num_heads=2, num_self_attention_layers=1)
    for kw in [
        dict(num_heads=3),
        dict(max_latents=64),
        dict(num_channels=0),
        dict(vocab_size=0),
        dict(cross_attention_dropout=1.5),
        dict(max_grad_norm=-1),
        dict(max_seq_len=2.5),
    ]:
        probe(f"litclm {kw}", lambda: L(**(T | kw)))
    from perceiver.model.text.clm import CausalLanguageModel, CausalLanguageModelConfig

    for kw in [
        dict(num_heads=3),
        dict(max_latents=64),
        dict(num_channels=0),
        dict(vocab_size=-1),
        dict(num_self_attention_layers=0),
        dict(cross_attention_dropout=-0.1),
        dict(init_scale=-1.0),
    ]:
        probe(f"clmcfg {kw}", lambda: CausalLanguageModel(CausalLanguageModelConfig(**(T | kw))))
    from perceiver.model.core.config import ClassificationDecoderConfig
    from perceiver.model.vision.image_classifier import ImageClassifier, ImageClassifierConfig, ImageEncoderConfig

    for ekw, dkw, okw in [
        ({"image_shape": (8, 8)}, {}, {}),
        ({"image_shape": (0, 8, 3)}, {}, {}),
        ({"num_frequency_bands": 0}, {}, {}),
        ({}, {"num_classes": 0}, {}),
        ({}, {}, {"num_latents": 0}),
        ({"num_self_attention_heads": 3}, {}, {}),
        ({"dropout": 2.0}, {}, {}),
    ]:

        def f():
            e = ImageEncoderConfig(
                **(
                    {
                        "image_shape": (8, 8, 3),
                        "num_frequency_bands": 2,
                        "num_cross_attention_heads": 1,
                        "num_self_attention_heads": 2,
                    }
                    | ekw
                )
            )
            dd = ClassificationDecoderConfig(
                **({"num_classes": 3, "num_output_query_channels": 16, "num_cross_attention_heads": 1} | dkw)
            )
            ImageClassifier(ImageClassifierConfig(e, dd, **({"num_latents": 4, "num_latent_channels": 16} | okw)))

        probe(f"imgcfg {ekw}{dkw}{okw}", f)
    return outcomes


def test_survey_no_unexpected_exceptions():
    outcomes = run_survey()
    unexpected = {name: outcome for name, outcome in outcomes.items() if outcome not in ("clear", "returned")}
    assert len(outcomes) > 100 and not unexpected, unexpected


if __name__ == "__main__":
    results = run_survey(verbose=True)
    print(f"{len(results)} probes, {sum(r == 'clear' for r in results.values())} clear errors")
