"""Text data: ``TextDataModule`` and its sources (local files, the bundled CPython documentation corpus, named hub
datasets), collators returning ``(labels, input_ids, pad_mask)`` and tokenizer helpers."""

from perceiver.data.text.bookcorpus import BookCorpusDataModule, BookCorpusOpenDataModule
from perceiver.data.text.c4 import C4Collator, C4DataModule
from perceiver.data.text.collator import (
    Collator,
    DefaultCollator,
    RandomTruncateCollator,
    TokenMaskingCollator,
    WordMaskingCollator,
)
from perceiver.data.text.common import Task, TextDataModule
from perceiver.data.text.dataset import CLMDataset, RandomShiftDataset
from perceiver.data.text.enwik8 import Enwik8DataModule
from perceiver.data.text.imdb import ImdbDataModule
from perceiver.data.text.local import LocalTextDataModule, PydocTextDataModule
from perceiver.data.text.preprocessor import TextPreprocessor
from perceiver.data.text.wikipedia import WikipediaDataModule
from perceiver.data.text.wikitext import WikiTextDataModule

__all__ = [
    "BookCorpusDataModule",
    "BookCorpusOpenDataModule",
    "C4Collator",
    "C4DataModule",
    "CLMDataset",
    "Collator",
    "DefaultCollator",
    "Enwik8DataModule",
    "ImdbDataModule",
    "LocalTextDataModule",
    "PydocTextDataModule",
    "RandomShiftDataset",
    "RandomTruncateCollator",
    "Task",
    "TextDataModule",
    "TextPreprocessor",
    "TokenMaskingCollator",
    "WikiTextDataModule",
    "WikipediaDataModule",
    "WordMaskingCollator",
]
