"""Generate text with a Perceiver AR causal language model (the ``text-generation`` pipeline).

python examples/inference/text_generation.py                     # krasserm/perceiver-ar-clm-base (WikiText)
python examples/inference/text_generation.py --model out/demo/hf # the model that `make demo` exports
python examples/inference/text_generation.py --tiny              # offline: a small random model
"""

import argparse
import tempfile

from transformers import pipeline

from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
from perceiver.model.text.clm import (
    CausalLanguageModelConfig,
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
)


def tiny_model() -> str:
    config = CausalLanguageModelConfig(max_seq_len=128, max_latents=32, num_channels=64, num_heads=4,
                                       num_self_attention_layers=2)  # fmt: skip
    path = tempfile.mkdtemp(prefix="tiny-clm-")
    PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(config)).save_pretrained(path)
    perceiver_bytes_tokenizer(padding_side="left").save_pretrained(path)  # generation pads on the left
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="krasserm/perceiver-ar-clm-base", help="hub id or folder")
    parser.add_argument("--tiny", action="store_true", help="a small random model (offline)")
    parser.add_argument("--prompt", default="A man was reading a book on a sunny day")
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--num_latents", type=int, default=1, help="latent positions at the start of generation")
    args = parser.parse_args(argv)

    generator = pipeline("text-generation", model=tiny_model() if args.tiny else args.model)
    common = dict(max_new_tokens=args.max_new_tokens, num_latents=args.num_latents, return_full_text=False)
    results = {
        "greedy": generator(args.prompt, do_sample=False, **common),
        "top-p sampling": generator(args.prompt, do_sample=True, top_p=0.9, temperature=0.8, **common),
        "beam search": generator(args.prompt, do_sample=False, num_beams=2, **common),
    }
    print(f"prompt: {args.prompt!r}")
    for name, result in results.items():
        print(f"{name}: {result[0]['generated_text']!r}")
    return results


if __name__ == "__main__":
    main()
