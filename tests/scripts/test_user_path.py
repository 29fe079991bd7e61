"""The user's whole path, per trainable task: write small data files, ``fit`` from the CLI, take the ready folder the
run writes, load it with ``pipeline(task, model=folder)`` and check that the pipeline feeds the model the inputs that
training and validation saw, and predicts what the trained Lightning module predicts on the validation examples."""

import random
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from transformers import pipeline

from tests.data.audio.test_symbolic_data import write_midi

pytestmark = pytest.mark.usefixtures("one_thread")

TRAINER = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


# a tiny Perceiver AR: 8 latents, 32 channels, one self-attention layer
PERCEIVER_AR_MODEL = [
    "--model.max_latents=8",
    "--model.num_channels=32",
    "--model.num_heads=2",
    "--model.num_self_attention_layers=1",
    "--model.cross_attention_dropout=0.0",
    "--model.init_scale=0.1",
]


def optimizer_and_trainer(tmp_path: Path, max_steps: int | None = None) -> list[str]:
    return [
        "--optimizer=AdamW",
        "--optimizer.lr=3e-3",
        "--lr_scheduler.warmup_steps=5",
        *([f"--trainer.max_steps={max_steps}"] if max_steps is not None else []),
        *TRAINER,
        f"--trainer.default_root_dir={tmp_path / 'logs'}",
    ]


def ready_folder(cli) -> Path:
    folder = Path(cli.trainer.log_dir) / "hf"
    assert (folder / "config.json").is_file() and (folder / "README.md").is_file()
    return folder


def words_text(rng: random.Random, n: int) -> str:
    words = ["the", "model", "reads", "a", "short", "text", "and", "writes", "one", "more", "line", "of", "it"]
    return "\n\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(8, 16))) + "." for _ in range(n))


# ---- text classifier: csv with class names as labels ----


def write_reviews(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    good, bad = ["good", "great", "superb", "lovely"], ["bad", "awful", "dull", "poor"]
    rows = ["review,sentiment"]
    for i in range(n):
        label = rng.choice(["positive", "negative"])
        rows.append(f"a {rng.choice(good if label == 'positive' else bad)} film seen {i} times,{label}")
    path.write_text("\n".join(rows) + "\n")


def classifier_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--data=LocalTextDataModule",
        f"--data.train_files=[{tmp_path / 'train.csv'}]",
        f"--data.valid_files=[{tmp_path / 'valid.csv'}]",
        "--data.text_column=review",
        "--data.label_column=sentiment",
        "--data.task=clf",
        "--data.tokenizer=bytes",
        "--data.max_seq_len=40",
        "--data.batch_size=16",
        "--data.num_workers=0",
        f"--data.dataset_dir={tmp_path / 'cache'}",
        "--model.num_latents=4",
        "--model.num_latent_channels=32",
        "--model.encoder.num_input_channels=32",
        "--model.encoder.num_cross_attention_heads=1",
        "--model.encoder.num_self_attention_heads=2",
        "--model.encoder.num_self_attention_layers_per_block=1",
        "--model.encoder.num_cross_attention_qk_channels=null",
        "--model.encoder.num_cross_attention_v_channels=null",
        "--model.encoder.num_self_attention_qk_channels=null",
        "--model.encoder.num_self_attention_v_channels=null",
        "--model.encoder.dropout=0.0",
        "--model.encoder.init_scale=0.1",
        "--model.decoder.num_output_query_channels=32",
        "--model.decoder.dropout=0.0",
        "--model.decoder.init_scale=0.1",
        *optimizer_and_trainer(tmp_path),
        *extra,
    ]


def test_text_classifier_from_csv_with_class_names(tmp_path):
    import perceiver.model.text.classifier  # noqa: F401
    from perceiver.scripts.text.classifier import main

    write_reviews(tmp_path / "train.csv", 160, seed=0)
    write_reviews(tmp_path / "valid.csv", 24, seed=1)
    cli = main(["fit", *classifier_args(tmp_path, "--trainer.max_steps=40")])
    dm, lit = cli.datamodule, cli.model.eval()
    folder = ready_folder(cli)
    clf = pipeline("text-classification", model=str(folder))
    assert clf.model.config.id2label == {0: "negative", 1: "positive"}

    texts = list(dm.load_source_dataset()["valid"]["text"])
    for i, text in enumerate(texts):
        assert clf.preprocess(text)["input_ids"][0].tolist() == dm.ds_valid[i]["input_ids"]

    labels, input_ids, pad_mask = next(iter(dm.val_dataloader()))
    with torch.no_grad():
        probs = lit(input_ids, pad_mask).softmax(dim=-1)
    results = clf(texts[: len(labels)])
    assert [r["label"] for r in results] == [dm.label_names[i] for i in probs.argmax(dim=-1)]
    torch.testing.assert_close(torch.tensor([r["score"] for r in results]), probs.max(dim=-1).values)
    assert cli.trainer.callback_metrics["val_acc"] > 0.9  # it learned: the comparison is not between chance models

    # a text longer than max_seq_len is truncated as in training, not refused
    long_text = "a superb film " * 400
    truncated = dm._tokenize({"text": [long_text], "label": [1]})["input_ids"][0]
    assert clf.preprocess(long_text)["input_ids"][0].tolist() == truncated and len(truncated) == 40
    assert clf(long_text)[0]["label"] in ("negative", "positive")
    assert clf([]) == []

    card = (folder / "README.md").read_text()
    assert "text-classification" in card and "val_acc" in card and "steps: 40" in card and "`positive`" in card

    # the same folder from the checkpoint: validate --ready_folder (metrics of that validation)
    from_ckpt = tmp_path / "from-ckpt"
    last = Path(cli.trainer.checkpoint_callback.dirpath) / "last.ckpt"
    main(["validate", *classifier_args(tmp_path), f"--ckpt_path={last}", f"--ready_folder={from_ckpt}"])
    clf_ckpt = pipeline("text-classification", model=str(from_ckpt))
    assert [r["label"] for r in clf_ckpt(texts)] == [r["label"] for r in clf(texts)]
    assert "steps: 40" in (from_ckpt / "README.md").read_text()

    # test on held-out files, from the command line
    tested = main(["test", *classifier_args(tmp_path, f"--data.test_files=[{tmp_path / 'valid.csv'}]"),
                   f"--ckpt_path={last}"])  # fmt: skip
    assert tested.trainer.callback_metrics["test_acc"] == cli.trainer.callback_metrics["val_acc"]


# ---- masked language model: plain text files ----


def test_masked_language_model_from_text_files(tmp_path):
    import perceiver.model.text.mlm  # noqa: F401
    from perceiver.scripts.text.mlm import main

    rng = random.Random(0)
    (tmp_path / "train.txt").write_text(words_text(rng, 60))
    (tmp_path / "valid.txt").write_text(words_text(rng, 8))
    cli = main(
        [
            "fit",
            "--data=LocalTextDataModule",
            f"--data.train_files=[{tmp_path / 'train.txt'}]",
            f"--data.valid_files=[{tmp_path / 'valid.txt'}]",
            "--data.task=mlm",
            "--data.tokenizer=bytes",
            "--data.max_seq_len=32",
            "--data.batch_size=8",
            "--data.num_workers=0",
            f"--data.dataset_dir={tmp_path / 'cache'}",
            "--model.num_latents=4",
            "--model.num_latent_channels=32",
            "--model.num_predictions=1",
            "--model.masked_samples=[the model <mask><mask><mask><mask><mask> a text]",
            "--model.encoder.num_input_channels=32",
            "--model.encoder.num_cross_attention_qk_channels=null",
            "--model.encoder.num_cross_attention_v_channels=null",
            "--model.encoder.num_cross_attention_heads=1",
            "--model.encoder.num_self_attention_qk_channels=null",
            "--model.encoder.num_self_attention_v_channels=null",
            "--model.encoder.num_self_attention_heads=2",
            "--model.encoder.num_self_attention_layers_per_block=1",
            "--model.encoder.init_scale=0.1",
            "--model.decoder.num_cross_attention_qk_channels=null",
            "--model.decoder.num_cross_attention_v_channels=null",
            "--model.decoder.num_cross_attention_heads=1",
            "--model.decoder.init_scale=0.1",
            *optimizer_and_trainer(tmp_path, max_steps=30),
        ]
    )
    dm, lit = cli.datamodule, cli.model.eval()
    fill_mask = pipeline("fill-mask", model=str(ready_folder(cli)))
    tokenizer, mask_id = dm.tokenizer, dm.tokenizer.mask_token_id
    for i in range(min(4, len(dm.ds_valid))):
        ids = list(dm.ds_valid[i]["input_ids"])
        assert fill_mask.tokenizer(tokenizer.decode(ids))["input_ids"] == ids  # what preprocess calls
        masked = list(ids)
        positions = [5, 17]
        for p in positions:
            masked[p] = mask_id
        text = tokenizer.decode(masked)
        assert fill_mask.preprocess(text)["input_ids"][0].tolist() == masked
        with torch.no_grad():
            logits = lit(torch.tensor([masked]))[0]
        candidates = fill_mask(text, top_k=1)
        assert [c[0]["token"] for c in candidates] == [int(logits[p].argmax()) for p in positions]

    # a text longer than max_seq_len is truncated to the model's 32 positions, not refused
    long_text = "the model [MASK] a text" + " and more" * 20
    assert fill_mask.preprocess(long_text)["input_ids"].shape == (1, 32)
    assert len(fill_mask(long_text, top_k=2)) == 2


# ---- causal language model: plain text files ----


def clm_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--data=LocalTextDataModule",
        f"--data.train_files=[{tmp_path / 'train.txt'}]",
        f"--data.valid_files=[{tmp_path / 'valid.txt'}]",
        "--data.task=clm",
        "--data.tokenizer=bytes",
        "--data.max_seq_len=32",
        "--data.padding_side=left",
        "--data.batch_size=8",
        "--data.num_workers=0",
        f"--data.dataset_dir={tmp_path / 'cache'}",
        *PERCEIVER_AR_MODEL,
        "--model.validation_sample_prompt=the model",
        "--model.validation_sample_num_tokens=4",
        *optimizer_and_trainer(tmp_path),
        *extra,
    ]


def greedy_with_lit(lit, ids: list[int], num_latents: int, num_tokens: int) -> list[int]:
    """Greedy tokens from the Lightning module's forward pass: the prefix stays, the latents grow by one per token
    (the latent schedule before the first refill)."""
    sequence, prefix_len = list(ids), len(ids) - num_latents
    for _ in range(num_tokens):
        with torch.no_grad():
            logits = lit(torch.tensor([sequence]), prefix_len=prefix_len).logits
        sequence.append(int(logits[0, -1].argmax()))
    return sequence[len(ids) :]


def test_causal_language_model_from_text_files(tmp_path, caplog):
    import perceiver.model.text.clm  # noqa: F401
    from perceiver.scripts.text.clm import main

    rng = random.Random(0)
    (tmp_path / "train.txt").write_text(words_text(rng, 60))
    (tmp_path / "valid.txt").write_text(words_text(rng, 8))
    with caplog.at_level("INFO"):
        cli = main(["fit", *clm_args(tmp_path, "--trainer.max_steps=30")])
    dm, lit = cli.datamodule, cli.model.eval()
    generator = pipeline("text-generation", model=str(ready_folder(cli)))
    assert generator.tokenizer.padding_side == "left" and generator.model.generation_config.pad_token_id == 0
    # the validation sample was prompted with the pipeline's tokens: no [CLS]/[SEP] around the prompt
    assert (
        generator.tokenizer("the model")["input_ids"]
        == dm.tokenizer("the model", add_special_tokens=False)["input_ids"]
    )
    assert "prompt sample (step " in caplog.text

    tokenizer = dm.tokenizer
    for i in range(min(3, len(dm.ds_valid))):
        prompt = list(dm.ds_valid[i]["input_ids"][:20])
        text = tokenizer.decode(prompt)
        assert generator.preprocess(text)["input_ids"][0].tolist() == prompt
        out = generator(text, max_new_tokens=4, num_latents=4, do_sample=False, return_tensors=True)
        assert out[0]["generated_token_ids"][20:] == greedy_with_lit(lit, prompt, num_latents=4, num_tokens=4)

    # a prompt longer than max_seq_len keeps its last max_seq_len tokens
    long_prompt = tokenizer.decode(list(dm.ds_train[0]["input_ids"]) * 3)
    ids = generator.preprocess(long_prompt)["input_ids"][0].tolist()
    assert ids == tokenizer(long_prompt, add_special_tokens=False)["input_ids"][-32:]
    out = generator(long_prompt, max_new_tokens=2, num_latents=8, do_sample=False, return_full_text=False)
    assert isinstance(out[0]["generated_text"], str)
    with pytest.raises(ValueError, match=r"num_latents must be in range \[8..8\]"):
        generator(long_prompt, max_new_tokens=2, num_latents=1)


# ---- symbolic audio: a MIDI folder ----


def test_symbolic_audio_model_from_midi_files(tmp_path):
    from perceiver.data.audio import load_midi
    from perceiver.model.audio.symbolic import ReturnType
    from perceiver.scripts.audio.symbolic import main

    for k in range(6):
        write_midi(tmp_path / "midi" / "train" / f"piece{k}.mid", [60 + (i * (k + 2)) % 12 for i in range(24)])
    write_midi(tmp_path / "midi" / "valid" / "piece.mid", [60 + (i * 3) % 12 for i in range(24)])
    cli = main(
        [
            "fit",
            f"--data.dataset_dir={tmp_path / 'midi'}",
            "--data.max_seq_len=32",
            "--data.batch_size=4",
            "--data.num_workers=0",
            "--data.preproc_workers=1",
            *PERCEIVER_AR_MODEL,
            *optimizer_and_trainer(tmp_path, max_steps=20),
        ]
    )
    dm, lit = cli.datamodule, cli.model.eval()
    generator = pipeline("symbolic-audio-generation", model=str(ready_folder(cli)))
    assert generator.model.generation_config.pad_token_id == dm.pad_token_id

    midi = load_midi(tmp_path / "midi" / "valid" / "piece.mid")
    tokens = generator.preprocess(midi)["input_ids"][0].tolist()
    assert tokens == [int(t) for t in dm.ds_valid.tokens]  # the one validation piece, as the data module encoded it

    out = generator(midi, max_prompt_length=20, max_new_tokens=4, num_latents=4, return_type=ReturnType.TENSORS)
    assert out["generated_token_ids"][20:] == greedy_with_lit(lit, tokens[:20], num_latents=4, num_tokens=4)


# ---- image classifier: an image folder ----


def write_images(root: Path, seed: int, per_class: int) -> None:
    rng = np.random.default_rng(seed)
    colours = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(colour, 30, (12, 10, 3)), 0, 255).astype(np.uint8)
            PIL.Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_image_classifier_from_image_folder(tmp_path):
    import perceiver.model.vision.image_classifier  # noqa: F401
    from perceiver.model.vision.image_classifier import convert_checkpoint
    from perceiver.scripts.vision.image_classifier import main

    write_images(tmp_path / "images", seed=0, per_class=12)
    cli = main(
        [
            "fit",
            "--data=ImageFolderDataModule",
            f"--data.train_dir={tmp_path / 'images'}",
            "--data.image_shape=[8,8,3]",
            "--data.valid_size=0.25",
            "--data.test_size=0.1",
            "--data.batch_size=8",
            "--model.num_latents=4",
            "--model.num_latent_channels=32",
            "--model.encoder.num_frequency_bands=4",
            "--model.encoder.num_self_attention_heads=2",
            "--model.encoder.num_self_attention_layers_per_block=1",
            "--model.encoder.num_self_attention_blocks=1",
            "--model.encoder.dropout=0.0",
            "--model.encoder.init_scale=0.1",
            "--model.decoder.num_output_query_channels=32",
            "--model.decoder.dropout=0.0",
            "--model.decoder.init_scale=0.1",
            *optimizer_and_trainer(tmp_path, max_steps=20),
        ]
    )
    dm, lit = cli.datamodule, cli.model.eval()
    classifier = pipeline("image-classification", model=str(ready_folder(cli)))
    assert classifier.model.config.id2label == {0: "blue", 1: "green", 2: "red"}

    paths = [example["image"] for example in dm.valid_examples]
    images = torch.stack([dm.ds_valid[i]["image"] for i in range(len(paths))])
    for i, path in enumerate(paths):
        assert torch.equal(classifier.preprocess(path)["pixel_values"][0], images[i])
    with torch.no_grad():
        expected = [dm.label_names[i] for i in lit(images).argmax(dim=-1)]
    assert [r[0]["label"] for r in classifier(paths, top_k=1)] == expected

    # test split, and the same folder converted from the checkpoint
    assert cli.trainer.test(lit, datamodule=dm, verbose=False)[0]["test_acc"] >= 0.0
    converted = tmp_path / "converted"
    last = Path(cli.trainer.checkpoint_callback.dirpath) / "last.ckpt"
    convert_checkpoint(converted, last, dm.image_processor(), id2label=dict(enumerate(dm.label_names)))
    again = pipeline("image-classification", model=str(converted))
    assert [r[0]["label"] for r in again(paths, top_k=1)] == expected
