"""Draw the pictures of the docs into docs/images/ (offline, about a minute or two on 2 CPU cores).

    python examples/make_images.py                      # all three
    python examples/make_images.py --only loss-curve    # one of optical-flow, piano-roll, loss-curve

- ``optical-flow.png``: scikit-image's stereo motorcycle pair through the ``optical-flow`` pipeline, with a small
  *random* model converted from a ``transformers`` source (no official weights offline), and its rendering.
- ``piano-roll.png``: the piano roll of a Bach chorale from music21's corpus, the prompt the music examples
  continue; with ``--sam_model DIR`` (e.g. the folder ``make demo-music`` exports) the prompt and a generated
  continuation.
- ``loss-curve.png``: training and validation loss of a short real training run: the digits image classifier
  (``examples/training/img_clf/digits.yaml``, ``--steps`` steps).
"""

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = Path(__file__).parent
IMAGES = EXAMPLES.parent / "docs" / "images"


def optical_flow(path: Path) -> None:
    from skimage import data
    from transformers import pipeline

    sys.path.insert(0, str(EXAMPLES / "inference"))
    from tiny_sources import tiny_source

    from perceiver.model.vision.optical_flow import OpticalFlowPerceiver, convert_model, render_optical_flow

    model_dir = tempfile.mkdtemp(prefix="perceiver-io-optical-flow-")
    convert_model(model_dir, source_repo_id=tiny_source("optical-flow-perceiver"))
    flow_pipeline = pipeline("optical-flow", model=OpticalFlowPerceiver.from_pretrained(model_dir))
    frame_1, frame_2, _ = (f[::2, ::2] for f in data.stereo_motorcycle())
    flow = flow_pipeline((frame_1, frame_2), micro_batch_size=8)
    magnitude = np.linalg.norm(flow, axis=-1).max()

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    panels = [(frame_1, "frame 1"), (frame_2, "frame 2"), (render_optical_flow(flow), "flow (colour wheel)")]
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(image)
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle(
        f"optical-flow pipeline, {frame_1.shape[1]}x{frame_1.shape[0]} frames, small RANDOM model converted from "
        f"transformers (largest displacement {magnitude:.3f} px): shows the pipeline's output, not a real estimate",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def piano_roll(path: Path, sam_model: str | None, prompt_tokens: int = 256) -> None:
    from perceiver.data.audio import PAD_TOKEN_ID, decode_midi, encode_midi, load_midi
    from perceiver.data.audio.bach_chorales import chorale_to_midi

    chorale = load_midi(chorale_to_midi("bach/bwv66.6"))
    title = "Bach chorale BWV 66.6 (music21 corpus), all voices"
    prompt_end = None
    if sam_model:
        from transformers import pipeline

        import perceiver.model.audio.symbolic  # noqa: F401 (registers the pipeline)

        generator = pipeline("symbolic-audio-generation", model=sam_model)
        prompt_end = decode_midi(encode_midi(chorale)[:prompt_tokens]).get_end_time()
        chorale = generator(chorale, max_prompt_length=prompt_tokens, max_new_tokens=512, num_latents=64,
                            do_sample=True, top_p=0.95, pad_token_id=PAD_TOKEN_ID)["generated_audio_midi"]  # fmt: skip
        title = f"BWV 66.6 prompt ({prompt_tokens} tokens) and a continuation by {Path(sam_model).name}"
    fs = 20  # columns per second
    roll = chorale.get_piano_roll(fs=fs)
    pitches = np.nonzero(roll.sum(axis=1))[0]
    low, high = pitches.min() - 2, pitches.max() + 3
    fig, ax = plt.subplots(figsize=(12, 3.6))
    ax.imshow(roll[low:high] > 0, aspect="auto", origin="lower", cmap="Greys", interpolation="nearest",
              extent=(0, roll.shape[1] / fs, low - 0.5, high - 0.5))  # fmt: skip
    if prompt_end is not None:
        ax.axvline(prompt_end, color="tab:red", linestyle="--", label="end of prompt")
        ax.legend(loc="upper right")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def loss_curve(path: Path, steps: int) -> None:
    from perceiver.scripts.vision.image_classifier import main as cli_main

    log_dir = Path(tempfile.mkdtemp(prefix="img-clf-digits-"))
    cli_main([
        "fit",
        f"--config={EXAMPLES / 'training' / 'img_clf' / 'digits.yaml'}",
        f"--trainer.max_steps={steps}",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
        f"--trainer.logger.save_dir={log_dir}",
        "--trainer.log_every_n_steps=5",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_checkpointing=false",
        "--trainer.callbacks=[]",
    ])  # fmt: skip
    rows = list(csv.DictReader(next(log_dir.rglob("metrics.csv")).open()))
    train = [(int(r["step"]), float(r["train_loss"])) for r in rows if r.get("train_loss")]
    valid = [(int(r["step"]), float(r["val_loss"]), float(r["val_acc"])) for r in rows if r.get("val_loss")]

    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(*zip(*train), label="training loss (batch)", alpha=0.6)
    ax.plot([s for s, _, _ in valid], [v for _, v, _ in valid], "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(f"digits image classifier (93K parameters), {steps} steps on CPU; "
                 f"final validation accuracy {valid[-1][2]:.3f}", fontsize=9)  # fmt: skip
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["optical-flow", "piano-roll", "loss-curve"], nargs="+", default=None)
    parser.add_argument("--output_dir", default=str(IMAGES))
    parser.add_argument("--steps", type=int, default=400, help="training steps of the loss curve")
    parser.add_argument("--sam_model", default=None, help="a symbolic audio model folder for the piano roll")
    args = parser.parse_args(argv)

    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    makers = {
        "optical-flow": lambda p: optical_flow(p),
        "piano-roll": lambda p: piano_roll(p, args.sam_model),
        "loss-curve": lambda p: loss_curve(p, args.steps),
    }
    written = []
    for name in args.only or list(makers):
        path = output_dir / f"{name}.png"
        makers[name](path)
        print(f"wrote {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    main()
