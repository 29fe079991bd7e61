from perceiver.data.audio.bach_chorales import (
    BachChoralesDataModule,
    chorale_names,
    chorale_to_midi,
    write_bach_chorales,
)
from perceiver.data.audio.giantmidi_piano import GiantMidiPianoDataModule
from perceiver.data.audio.maestro_v3 import MaestroV3DataModule
from perceiver.data.audio.midi_processor import (
    PAD_TOKEN_ID,
    VOCAB_SIZE,
    decode_midi,
    encode_midi,
    encode_midi_file,
    encode_midi_files,
    load_midi,
)
from perceiver.data.audio.symbolic import (
    SymbolicAudioCollator,
    SymbolicAudioDataModule,
    SymbolicAudioDataset,
    find_midi_files,
)

__all__ = [
    "PAD_TOKEN_ID",
    "VOCAB_SIZE",
    "BachChoralesDataModule",
    "GiantMidiPianoDataModule",
    "MaestroV3DataModule",
    "SymbolicAudioCollator",
    "SymbolicAudioDataModule",
    "SymbolicAudioDataset",
    "chorale_names",
    "chorale_to_midi",
    "decode_midi",
    "encode_midi",
    "encode_midi_file",
    "encode_midi_files",
    "find_midi_files",
    "load_midi",
    "write_bach_chorales",
]
