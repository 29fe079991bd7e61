"""Preprocess a text dataset ahead of training (tokenize, chunk, optionally mask, cache on disk):

    python -m perceiver.scripts.text.preproc wikitext --tokenizer=bytes --max_seq_len=4096 --task=clm

The options are those of the data module (``--help``); training with the same options reuses the cache.
"""

from jsonargparse import ArgumentParser

from perceiver.data.text import (
    BookCorpusDataModule,
    BookCorpusOpenDataModule,
    Enwik8DataModule,
    ImdbDataModule,
    LocalTextDataModule,
    PydocTextDataModule,
    TextDataModule,
    WikipediaDataModule,
    WikiTextDataModule,
)

DATA_MODULES: dict[str, type[TextDataModule]] = {
    "bookcorpus": BookCorpusDataModule,
    "bookcorpusopen": BookCorpusOpenDataModule,
    "enwik8": Enwik8DataModule,
    "imdb": ImdbDataModule,
    "local": LocalTextDataModule,
    "pydoc": PydocTextDataModule,
    "wikipedia": WikipediaDataModule,
    "wikitext": WikiTextDataModule,
}


def preprocess(data_module: TextDataModule) -> TextDataModule:
    """Run ``prepare_data`` and report where the result is cached."""
    data_module.prepare_data()
    print(f"Preprocessed data in {data_module.preproc_dir}")
    return data_module


def parser() -> ArgumentParser:
    """One subcommand per data module, each with that module's constructor arguments as options."""
    root = ArgumentParser(description=__doc__)
    subcommands = root.add_subcommands(dest="dataset")
    for name, cls in DATA_MODULES.items():
        sub = ArgumentParser(description=(cls.__doc__ or "").split("\n")[0])
        sub.add_class_arguments(cls, None)
        subcommands.add_subcommand(name, sub)
    return root


def main(args: list[str] | None = None) -> TextDataModule:
    p = parser()
    config = p.parse_args(args)
    name = config.dataset
    kwargs = {k: v for k, v in config[name].as_dict().items() if k != "__path__"}
    return preprocess(DATA_MODULES[name](**kwargs))


if __name__ == "__main__":
    main()
