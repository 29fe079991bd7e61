"""Download (where needed) and tokenize a MIDI dataset into memory-mapped token files before training:

``python -m perceiver.scripts.audio.preproc {maestro-v3,giantmidi,bach-chorales,folder} --max_seq_len=2048``
"""

import argparse
import os

from perceiver.data.audio import (
    BachChoralesDataModule,
    GiantMidiPianoDataModule,
    MaestroV3DataModule,
    SymbolicAudioDataModule,
)

DATASETS = {
    "maestro-v3": MaestroV3DataModule,
    "giantmidi": GiantMidiPianoDataModule,
    "bach-chorales": BachChoralesDataModule,
    "folder": SymbolicAudioDataModule,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m perceiver.scripts.audio.preproc", description=__doc__)
    p.add_argument("dataset", choices=sorted(DATASETS), help="dataset to preprocess")
    p.add_argument("--max_seq_len", type=int, required=True, help="training sequence length")
    p.add_argument("--dataset_dir", help="where the MIDI files and token files are (required for 'folder')")
    p.add_argument("--dataset_uri", help="archive URL (maestro-v3, giantmidi)")
    p.add_argument("--preproc_workers", type=int, default=os.cpu_count(), help="encoding processes")
    return p


def create_data_module(args: argparse.Namespace) -> SymbolicAudioDataModule:
    kwargs = {"max_seq_len": args.max_seq_len, "preproc_workers": args.preproc_workers}
    if args.dataset == "folder":
        if args.dataset_dir is None:
            raise ValueError("dataset 'folder' needs --dataset_dir")
        return SymbolicAudioDataModule(args.dataset_dir, **kwargs)
    if args.dataset_dir is not None:
        kwargs["dataset_dir"] = args.dataset_dir
    if args.dataset_uri is not None:
        if args.dataset not in ("maestro-v3", "giantmidi"):
            raise ValueError(f"--dataset_uri is not used by dataset {args.dataset!r}")
        kwargs["dataset_uri"] = args.dataset_uri
    return DATASETS[args.dataset](**kwargs)


def main(argv: list[str] | None = None) -> SymbolicAudioDataModule:
    args = parser().parse_args(argv)
    data_module = create_data_module(args)
    data_module.prepare_data()
    data_module.setup()
    print(
        f"{args.dataset}: {len(data_module.ds_train.tokens)} train and {len(data_module.ds_valid.tokens)} valid "
        f"tokens in {data_module.preproc_dir}"
    )
    return data_module


if __name__ == "__main__":
    main()
