"""MIDI <-> token ids with the performance-event vocabulary of Music Transformer and Perceiver AR.

Vocabulary (389 ids):

- ``0..127``: note-on of pitch ``p``
- ``128..255``: note-off of pitch ``p``
- ``256..355``: time shift of ``k + 1`` steps of 10 ms (10 ms .. 1 s); longer gaps are repeated shifts
- ``356..387``: velocity bin ``v // 4`` for the note-ons that follow
- ``388``: padding (never produced by ``encode_midi``, skipped by ``decode_midi``)

Encoding merges the notes of all non-drum instruments. The sustain pedal (control 64, value >= 64 = down) of an
instrument extends the end of each of its notes released while the pedal is down, up to the pedal release or the
next onset of the same pitch. Notes of the same pitch never overlap in the token stream: a note ends where the
next one of its pitch starts, which keeps ``encode -> decode -> encode`` stable.
"""

import bisect
import io
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pretty_midi

NUM_PITCHES = 128
NUM_TIME_SHIFTS = 100
NUM_VELOCITY_BINS = 32
STEPS_PER_SECOND = 100  # one time-shift step is 10 ms

NOTE_ON_OFFSET = 0
NOTE_OFF_OFFSET = NOTE_ON_OFFSET + NUM_PITCHES  # 128
TIME_SHIFT_OFFSET = NOTE_OFF_OFFSET + NUM_PITCHES  # 256
VELOCITY_OFFSET = TIME_SHIFT_OFFSET + NUM_TIME_SHIFTS  # 356
PAD_TOKEN_ID = VELOCITY_OFFSET + NUM_VELOCITY_BINS  # 388
VOCAB_SIZE = PAD_TOKEN_ID + 1  # 389

SUSTAIN_PEDAL_CONTROL = 64


@dataclass
class _Note:
    """A note on the 10 ms grid (integer steps)."""

    pitch: int
    velocity: int
    start: int
    end: int


def velocity_bin(velocity: int) -> int:
    """The velocity bin (0..31) of a MIDI velocity (0..127)."""
    return min(max(int(velocity), 0), 127) // 4


def bin_velocity(bin_index: int) -> int:
    """The MIDI velocity that a velocity bin decodes to (at least 1: velocity 0 would mean note-off in MIDI)."""
    return max(bin_index * 4, 1)


def _to_steps(seconds: float) -> int:
    return int(round(seconds * STEPS_PER_SECOND))


def _pedal_intervals(control_changes: Iterable[pretty_midi.ControlChange]) -> list[tuple[float, float]]:
    """``(down, up)`` times of the sustain pedal; a pedal still down at the end lasts forever."""
    intervals = []
    down_at = None
    for cc in sorted((c for c in control_changes if c.number == SUSTAIN_PEDAL_CONTROL), key=lambda c: c.time):
        if cc.value >= 64 and down_at is None:
            down_at = cc.time
        elif cc.value < 64 and down_at is not None:
            intervals.append((down_at, cc.time))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, float("inf")))
    return intervals


def _apply_sustain(notes: list[pretty_midi.Note], intervals: list[tuple[float, float]]) -> list[tuple]:
    """``(pitch, velocity, start, end)`` in seconds with the pedal applied to the ends of ``notes``."""
    result = [(n.pitch, n.velocity, n.start, n.end) for n in notes]
    if not intervals:
        return result
    downs = [down for down, _ in intervals]  # sorted and disjoint
    onsets: dict[int, list[float]] = {}
    for n in notes:
        onsets.setdefault(n.pitch, []).append(n.start)
    for starts in onsets.values():
        starts.sort()
    extended = []
    for pitch, velocity, start, end in result:
        k = bisect.bisect_right(downs, end) - 1  # the last pedal-down at or before the release
        if k >= 0 and end < intervals[k][1]:
            # Re-striking the key stops the held sound; a pedal held to the end keeps the original end.
            starts = onsets[pitch]
            i = bisect.bisect_right(starts, start)
            new_end = min(intervals[k][1], starts[i] if i < len(starts) else float("inf"))
            if new_end != float("inf"):
                end = max(end, new_end)
        extended.append((pitch, velocity, start, end))
    return extended


def _collect_notes(midi: pretty_midi.PrettyMIDI) -> list[_Note]:
    """Notes of all non-drum instruments on the 10 ms grid, sustain applied, same-pitch overlaps removed."""
    by_pitch: dict[int, list[_Note]] = {}
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        for pitch, velocity, start, end in _apply_sustain(
            instrument.notes, _pedal_intervals(instrument.control_changes)
        ):
            note = _Note(pitch, velocity, _to_steps(max(start, 0.0)), _to_steps(max(end, 0.0)))
            by_pitch.setdefault(pitch, []).append(note)

    notes = []
    for pitch_notes in by_pitch.values():
        # Of notes starting together keep the longest; a note ends at the next onset of its pitch; at least 1 step.
        pitch_notes.sort(key=lambda n: (n.start, -n.end))
        unique = [n for i, n in enumerate(pitch_notes) if i == 0 or n.start != pitch_notes[i - 1].start]
        for i, note in enumerate(unique):
            note.end = max(note.end, note.start + 1)
            if i + 1 < len(unique):
                note.end = min(note.end, unique[i + 1].start)
        notes.extend(unique)
    return notes


def _time_shift_ids(steps: int) -> list[int]:
    ids = [TIME_SHIFT_OFFSET + NUM_TIME_SHIFTS - 1] * (steps // NUM_TIME_SHIFTS)
    if steps % NUM_TIME_SHIFTS:
        ids.append(TIME_SHIFT_OFFSET + steps % NUM_TIME_SHIFTS - 1)
    return ids


def encode_midi(midi: pretty_midi.PrettyMIDI) -> list[int]:
    """Token ids of the notes of ``midi`` (empty for a file without notes).

    :param midi: a ``pretty_midi.PrettyMIDI`` object.
    """
    if not isinstance(midi, pretty_midi.PrettyMIDI):
        raise TypeError(f"midi must be a pretty_midi.PrettyMIDI, got {type(midi).__name__}")

    # (time, kind, pitch, velocity): at equal times note-offs (kind 0) come before note-ons (kind 1).
    events = []
    for note in _collect_notes(midi):
        events.append((note.start, 1, note.pitch, note.velocity))
        events.append((note.end, 0, note.pitch, note.velocity))
    events.sort(key=lambda e: (e[0], e[1], e[2]))

    ids: list[int] = []
    time = 0
    current_bin = None
    for event_time, kind, pitch, velocity in events:
        ids.extend(_time_shift_ids(event_time - time))
        time = event_time
        if kind == 1:
            vbin = velocity_bin(velocity)
            if vbin != current_bin:
                ids.append(VELOCITY_OFFSET + vbin)
                current_bin = vbin
            ids.append(NOTE_ON_OFFSET + pitch)
        else:
            ids.append(NOTE_OFF_OFFSET + pitch)
    return ids


def _as_id_list(ids: Sequence[int] | np.ndarray) -> list[int]:
    if hasattr(ids, "tolist"):  # numpy arrays and torch tensors
        if getattr(ids, "ndim", 1) != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {tuple(ids.shape)}")
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise TypeError(f"ids must be a sequence of ints, got {type(ids).__name__}")
    out = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"ids must contain ints, got {type(i).__name__} ({i!r})")
        if not 0 <= i < VOCAB_SIZE:
            raise ValueError(f"token id {i} out of vocabulary range [0..{VOCAB_SIZE})")
        out.append(int(i))
    return out


def decode_midi(
    ids: Sequence[int] | np.ndarray, file_path: str | os.PathLike | None = None, program: int = 0
) -> pretty_midi.PrettyMIDI:
    """A one-instrument ``PrettyMIDI`` from token ids, also written to ``file_path`` if given.

    Pad ids are skipped. A note-on of a sounding pitch ends the sounding note first; a note-off of a silent pitch
    is ignored; notes still sounding at the end stop there; notes of zero length are dropped.
    """
    id_list = _as_id_list(ids)
    if not 0 <= program < 128:
        raise ValueError(f"program must be in [0..128), got {program}")

    instrument = pretty_midi.Instrument(program=program)
    sounding: dict[int, tuple[int, int]] = {}  # pitch -> (start step, velocity)
    time = 0
    velocity = bin_velocity(NUM_VELOCITY_BINS // 2)

    def close(pitch: int, end: int) -> None:
        start, vel = sounding.pop(pitch)
        if end > start:
            instrument.notes.append(
                pretty_midi.Note(velocity=vel, pitch=pitch, start=start / STEPS_PER_SECOND, end=end / STEPS_PER_SECOND)
            )

    for i in id_list:
        if i < NOTE_OFF_OFFSET:
            if i in sounding:
                close(i, time)
            sounding[i] = (time, velocity)
        elif i < TIME_SHIFT_OFFSET:
            pitch = i - NOTE_OFF_OFFSET
            if pitch in sounding:
                close(pitch, time)
        elif i < VELOCITY_OFFSET:
            time += i - TIME_SHIFT_OFFSET + 1
        elif i < PAD_TOKEN_ID:
            velocity = bin_velocity(i - VELOCITY_OFFSET)
    for pitch in list(sounding):
        close(pitch, time)

    instrument.notes.sort(key=lambda n: (n.start, n.pitch))
    midi = pretty_midi.PrettyMIDI()
    midi.instruments.append(instrument)
    if file_path is not None:
        midi.write(str(file_path))
    return midi


def load_midi(source: str | os.PathLike | bytes) -> pretty_midi.PrettyMIDI:
    """Read a MIDI file (path or bytes); a missing, empty or corrupt file raises ``ValueError``."""
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"MIDI file {name} does not exist")
        source = path.read_bytes()
    if len(source) == 0:
        raise ValueError(f"MIDI file {name} is empty")
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(source))
    except Exception as e:  # mido/pretty_midi raise many types (OSError, EOFError, KeySignatureError, ...)
        raise ValueError(f"MIDI file {name} could not be read: {type(e).__name__}: {e}") from e


def encode_midi_file(path: str | os.PathLike) -> np.ndarray:
    """Token ids of a MIDI file as an ``int16`` array; a file without notes raises ``ValueError``."""
    ids = encode_midi(load_midi(path))
    if not ids:
        raise ValueError(f"MIDI file {path} contains no notes")
    return np.asarray(ids, dtype=np.int16)


def _encode_or_none(path: str | os.PathLike) -> tuple[np.ndarray | None, str | None]:
    try:
        return encode_midi_file(path), None
    except ValueError as e:
        return None, str(e)


def encode_midi_files(files: Sequence[str | os.PathLike], num_workers: int = 1) -> list[np.ndarray]:
    """Encode MIDI files in ``num_workers`` processes; broken or empty files are skipped with a warning.

    :return: ``int16`` token arrays of the files that could be encoded, in the order of ``files``.
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive int, got {num_workers!r}")
    files = [str(f) for f in files]
    if num_workers == 1 or len(files) < 2:
        results = [_encode_or_none(f) for f in files]
    else:
        with Pool(min(num_workers, len(files))) as pool:
            results = pool.map(_encode_or_none, files, chunksize=max(1, len(files) // (4 * num_workers)))
    encoded = []
    for ids, error in results:
        if ids is None:
            warnings.warn(f"skipping MIDI file: {error}", stacklevel=2)
        else:
            encoded.append(ids)
    return encoded
