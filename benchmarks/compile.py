"""``compile=True`` on the Lightning modules: train step and eval forward of the compiled backend against eager.

Two modules, each built twice from the same seed (eager and ``compile=True``, the latter compiled in place by
``configure_model`` as a trainer does): the causal language model (Perceiver AR, 512 tokens of which 128 latents,
256 channels, 8 heads, 4 self-attention layers, batch 4) and the Fourier image classifier (32 x 32 x 3 images,
64 frequency bands, 128 latents x 256 channels, 4 self-attention layers, batch 8). A train step is the module's
``step`` (forward and loss), backward and AdamW. Compile time (first call) is reported apart; the outputs of the
compiled and the eager module are compared on one batch.

    python -m benchmarks.compile [--reps 5] [--threads N]
"""

import argparse
import copy
import json
import time

import torch

from benchmarks.common import interleaved_medians, machine, print_table, save_results
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.text.clm.lightning import LitCausalLanguageModel
from perceiver.model.vision.image_classifier import ImageEncoderConfig
from perceiver.model.vision.image_classifier.lightning import LitImageClassifier

CLM = dict(vocab_size=262, max_seq_len=512, max_latents=128, num_channels=256, num_heads=8, num_self_attention_layers=4,
           cross_attention_dropout=0.0)  # fmt: skip


def clm_case(batch_size: int = 4):
    module = LitCausalLanguageModel(**CLM)
    x = torch.randint(0, CLM["vocab_size"], (batch_size, CLM["max_seq_len"] + 1))
    batch = (x[:, 1:], x[:, :-1], None)
    return module, (lambda m: m.step(batch)), (lambda m: m(batch[1], prefix_len=384).logits)


def vision_case(batch_size: int = 8):
    encoder = ImageEncoderConfig(
        image_shape=(32, 32, 3), num_frequency_bands=64, num_cross_attention_heads=1, num_self_attention_heads=8,
        num_self_attention_layers_per_block=4,
    )  # fmt: skip
    decoder = ClassificationDecoderConfig(num_classes=10, num_output_query_channels=256, num_cross_attention_heads=1)
    module = LitImageClassifier(encoder, decoder, num_latents=128, num_latent_channels=256)
    batch = {"image": torch.randn(batch_size, 32, 32, 3), "label": torch.randint(0, 10, (batch_size,))}

    def loss(m):
        logits, y = m.step(batch)
        return torch.nn.functional.cross_entropy(logits, y)

    return module, loss, (lambda m: m(batch["image"]))


def measure(name: str, case, reps: int) -> tuple[list[dict], dict]:
    torch.manual_seed(0)
    eager, loss_fn, forward_fn = case()
    compiled = copy.deepcopy(eager)
    compiled.hparams.compile = True
    compiled.configure_model()

    def train_fn(module):
        optimizer = torch.optim.AdamW(module.parameters(), lr=1e-5)

        def fn():
            optimizer.zero_grad()
            loss_fn(module).backward()
            optimizer.step()

        return fn

    def eval_fn(module):
        def fn():
            with torch.no_grad():
                forward_fn(module)

        return fn

    with torch.no_grad():
        start = time.perf_counter()
        actual = forward_fn(compiled.eval())
        compile_eval = time.perf_counter() - start
        max_diff = (actual - forward_fn(eager.eval())).abs().max().item()
    eval_times = interleaved_medians({"eager": eval_fn(eager), "compiled": eval_fn(compiled)}, reps=reps, warmup=1)
    eager.train(), compiled.train()
    start = time.perf_counter()
    train_fn(compiled)()
    compile_train = time.perf_counter() - start
    train_times = interleaved_medians({"eager": train_fn(eager), "compiled": train_fn(compiled)}, reps=reps, warmup=1)
    rows = [
        {"model": name, "measure": measure, "eager s": times["eager"], "compiled s": times["compiled"],
         "speed-up": times["eager"] / times["compiled"]}
        for measure, times in (("eval forward", eval_times), ("train step", train_times))
    ]  # fmt: skip
    summary = {
        f"{name}_eval_speedup": eval_times["eager"] / eval_times["compiled"],
        f"{name}_train_speedup": train_times["eager"] / train_times["compiled"],
        f"{name}_compile_seconds": compile_eval + compile_train,
        f"{name}_max_eval_diff": max_diff,
    }
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows, summary = [], {}
    for name, case in (("clm", clm_case), ("image classifier", vision_case)):
        case_rows, case_summary = measure(name, case, args.reps)
        rows += case_rows
        summary |= {key.replace(" ", "_"): value for key, value in case_summary.items()}
    print(f"machine: {json.dumps(machine())}")
    print_table("compile=True on the Lightning modules (compiled backend vs eager)", rows)
    print("\n" + "\n".join(f"{k}: {v:.3g}" for k, v in summary.items()))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    path = save_results("compile", {"clm": CLM, "rows": rows, "summary": summary})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
