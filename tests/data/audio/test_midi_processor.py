import glob
import io
import os
import warnings

import music21
import numpy as np
import pretty_midi
import pytest
import torch

from perceiver.data.audio import (
    PAD_TOKEN_ID,
    VOCAB_SIZE,
    chorale_to_midi,
    decode_midi,
    encode_midi,
    encode_midi_file,
    encode_midi_files,
    load_midi,
)
from perceiver.data.audio.midi_processor import NOTE_OFF_OFFSET, TIME_SHIFT_OFFSET, VELOCITY_OFFSET

MUSIC21_MIDI = sorted(glob.glob(os.path.join(os.path.dirname(music21.__file__), "**", "*.mid"), recursive=True))


def ts(steps: int) -> int:
    """Id of a single time shift of ``steps`` 10 ms steps (1..100)."""
    return TIME_SHIFT_OFFSET + steps - 1


def on(p: int) -> int:
    return p


def off(p: int) -> int:
    return NOTE_OFF_OFFSET + p


def vel(b: int) -> int:
    return VELOCITY_OFFSET + b


def make_midi(notes, pedal=(), drum_notes=()) -> pretty_midi.PrettyMIDI:
    """notes: (pitch, velocity, start, end); pedal: (time, value) of control 64."""
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for p, v, s, e in notes]
    inst.control_changes = [pretty_midi.ControlChange(number=64, value=v, time=t) for t, v in pedal]
    midi.instruments.append(inst)
    if drum_notes:
        drums = pretty_midi.Instrument(program=0, is_drum=True)
        drums.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for p, v, s, e in drum_notes]
        midi.instruments.append(drums)
    return midi


def note_tuples(midi: pretty_midi.PrettyMIDI):
    return sorted((n.pitch, n.velocity, round(n.start, 2), round(n.end, 2)) for n in midi.instruments[0].notes)


def test_vocabulary_layout():
    assert (NOTE_OFF_OFFSET, TIME_SHIFT_OFFSET, VELOCITY_OFFSET, PAD_TOKEN_ID, VOCAB_SIZE) == (128, 256, 356, 388, 389)


def test_single_note_events():
    ids = encode_midi(make_midi([(60, 64, 0.0, 0.5)]))
    assert ids == [vel(16), on(60), ts(50), off(60)]


def test_leading_silence_and_quantization():
    # 0.124 s rounds to 12 steps, 0.346 s to 35 steps
    ids = encode_midi(make_midi([(62, 100, 0.124, 0.346)]))
    assert ids == [ts(12), vel(25), on(62), ts(23), off(62)]


def test_time_shift_over_one_second_is_repeated():
    # gap of 3.75 s between the end of the first note and the start of the second one
    ids = encode_midi(make_midi([(60, 64, 0.0, 0.25), (64, 64, 4.0, 4.5)]))
    assert ids == [vel(16), on(60), ts(25), off(60), ts(100), ts(100), ts(100), ts(75), on(64), ts(50), off(64)]
    # an exact multiple of one second needs no remainder shift
    ids = encode_midi(make_midi([(60, 64, 0.0, 2.0)]))
    assert ids == [vel(16), on(60), ts(100), ts(100), off(60)]
    assert note_tuples(decode_midi(ids)) == [(60, 64, 0.0, 2.0)]


def test_velocity_bins():
    notes = [(60, 127, 0.0, 0.1), (61, 124, 0.1, 0.2), (62, 5, 0.2, 0.3), (63, 3, 0.3, 0.4)]
    ids = encode_midi(make_midi(notes))
    velocity_ids = [i for i in ids if VELOCITY_OFFSET <= i < PAD_TOKEN_ID]
    # 127 and 124 share bin 31 (one velocity event), 5 -> bin 1, 3 -> bin 0
    assert velocity_ids == [vel(31), vel(1), vel(0)]
    # bins decode to bin * 4, bin 0 to velocity 1 (velocity 0 is a note-off in MIDI)
    assert [n[1] for n in note_tuples(decode_midi(ids))] == [124, 124, 4, 1]


def test_sustain_pedal_extends_note_end():
    # released at 0.5 while the pedal is down (0.2 .. 1.5): sounds until 1.5
    midi = make_midi([(60, 64, 0.0, 0.5), (72, 64, 1.6, 1.8)], pedal=[(0.2, 127), (1.5, 0)])
    assert note_tuples(decode_midi(encode_midi(midi))) == [(60, 64, 0.0, 1.5), (72, 64, 1.6, 1.8)]


def test_sustain_pedal_restrike_and_release_after_pedal():
    midi = make_midi(
        [(60, 64, 0.0, 0.3), (60, 64, 0.8, 0.9), (67, 64, 0.0, 2.0)],
        pedal=[(0.1, 100), (1.2, 20)],
    )
    # the first C ends where it is struck again, the second one at the pedal release;
    # the G is released after the pedal went up and keeps its end
    assert note_tuples(decode_midi(encode_midi(midi))) == [(60, 64, 0.0, 0.8), (60, 64, 0.8, 1.2), (67, 64, 0.0, 2.0)]


def test_pedal_values_below_64_are_up():
    midi = make_midi([(60, 64, 0.0, 0.5)], pedal=[(0.1, 63), (1.0, 0)])
    assert note_tuples(decode_midi(encode_midi(midi))) == [(60, 64, 0.0, 0.5)]


def test_overlapping_notes_of_same_pitch():
    midi = make_midi([(60, 64, 0.0, 1.0), (60, 80, 0.5, 1.5)])
    ids = encode_midi(midi)
    assert ids == [vel(16), on(60), ts(50), off(60), vel(20), on(60), ts(100), off(60)]
    assert note_tuples(decode_midi(ids)) == [(60, 64, 0.0, 0.5), (60, 80, 0.5, 1.5)]


def test_same_pitch_in_two_voices_and_drums_ignored():
    midi = make_midi([(60, 64, 0.0, 1.0)], drum_notes=[(36, 100, 0.0, 0.1)])
    other = pretty_midi.Instrument(program=0)
    other.notes = [pretty_midi.Note(velocity=64, pitch=60, start=0.0, end=0.5)]
    midi.instruments.append(other)
    # unison notes starting together become one note (the longest)
    assert note_tuples(decode_midi(encode_midi(midi))) == [(60, 64, 0.0, 1.0)]


def test_decode_policies():
    # note-on of a sounding pitch ends it; stray note-off ignored; dangling note ends at the last time; pads skipped
    ids = [PAD_TOKEN_ID, off(50), on(60), ts(10), on(60), ts(20), PAD_TOKEN_ID, on(62), ts(5)]
    assert note_tuples(decode_midi(ids)) == [(60, 64, 0.0, 0.1), (60, 64, 0.1, 0.35), (62, 64, 0.3, 0.35)]
    # zero-length notes are dropped
    assert decode_midi([on(60), off(60)]).instruments[0].notes == []


@pytest.mark.parametrize("ids_type", [list, tuple, np.asarray, torch.tensor])
def test_decode_accepts_sequences_and_arrays(ids_type):
    ids = encode_midi(make_midi([(60, 64, 0.0, 0.5), (64, 90, 0.25, 0.75)]))
    assert encode_midi(decode_midi(ids_type(ids))) == ids


def test_decode_writes_file(tmp_path):
    ids = encode_midi(make_midi([(60, 64, 0.0, 0.5)]))
    path = tmp_path / "out.mid"
    decode_midi(ids, file_path=path)
    assert encode_midi(pretty_midi.PrettyMIDI(str(path))) == ids


@pytest.mark.parametrize("bad", [[0, 389], [-1], [1000]])
def test_decode_rejects_ids_outside_vocabulary(bad):
    with pytest.raises(ValueError, match=r"token id -?\d+ out of vocabulary range \[0..389\)"):
        decode_midi(bad)


def test_decode_rejects_bad_types():
    with pytest.raises(TypeError, match="ids must be a sequence of ints"):
        decode_midi("abc")
    with pytest.raises(TypeError, match="ids must contain ints"):
        decode_midi([1.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        decode_midi(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="program"):
        decode_midi([60], program=128)


def test_encode_rejects_non_midi():
    with pytest.raises(TypeError, match="midi must be a pretty_midi.PrettyMIDI, got str"):
        encode_midi("song.mid")


def test_empty_midi_encodes_to_nothing():
    assert encode_midi(pretty_midi.PrettyMIDI()) == []


@pytest.mark.parametrize("path", MUSIC21_MIDI, ids=os.path.basename)
def test_round_trip_music21_midi_files(path):
    ids = encode_midi(load_midi(path))
    assert len(ids) > 0 and all(0 <= i < PAD_TOKEN_ID for i in ids)
    decoded = decode_midi(ids)
    assert encode_midi(decoded) == ids
    # decoding and encoding again is a fixed point of the MIDI too
    assert note_tuples(decode_midi(encode_midi(decoded))) == note_tuples(decoded)


@pytest.mark.parametrize("name", ["bach/bwv66.6", "bach/bwv1.6", "bach/bwv269"])
def test_round_trip_bach_chorales(name):
    midi = pretty_midi.PrettyMIDI(io.BytesIO(chorale_to_midi(name)))
    ids = encode_midi(midi)
    assert encode_midi(decode_midi(ids)) == ids
    # four voices merged into one instrument: every source note onset appears (unisons merge)
    source_onsets = {(n.pitch, round(n.start, 2)) for inst in midi.instruments for n in inst.notes}
    decoded_onsets = {(n.pitch, round(n.start, 2)) for n in decode_midi(ids).instruments[0].notes}
    assert decoded_onsets == source_onsets


def test_load_midi_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_midi(tmp_path / "missing.mid")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.mid is empty"):
        load_midi(empty)
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd this is not a midi file")
    with pytest.raises(ValueError, match="corrupt.mid could not be read"):
        load_midi(corrupt)
    with pytest.raises(ValueError, match="could not be read"):
        load_midi(b"\x00\x01garbage")


def test_encode_midi_file_without_notes(tmp_path):
    path = tmp_path / "silent.mid"
    pretty_midi.PrettyMIDI().write(str(path))
    with pytest.raises(ValueError, match="silent.mid contains no notes"):
        encode_midi_file(path)


def test_encode_midi_files_skips_broken_files(tmp_path):
    good = []
    for k in range(3):
        path = tmp_path / f"good{k}.mid"
        make_midi([(60 + k, 64, 0.0, 0.5 + k)]).write(str(path))
        good.append(path)
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"not midi")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    files = [good[0], corrupt, good[1], empty, good[2]]

    with pytest.warns(UserWarning, match="skipping MIDI file") as record:
        serial = encode_midi_files(files, num_workers=1)
    assert len(record) == 2
    assert [a.tolist() for a in serial] == [encode_midi(pretty_midi.PrettyMIDI(str(p))) for p in good]
    assert all(a.dtype == np.int16 for a in serial)

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        parallel = encode_midi_files(files, num_workers=2)
    assert [a.tolist() for a in parallel] == [a.tolist() for a in serial]


def test_encode_midi_files_rejects_bad_num_workers():
    with pytest.raises(ValueError, match="num_workers must be a positive int, got 0"):
        encode_midi_files([], num_workers=0)


@pytest.mark.slow
def test_round_trip_all_bach_chorales(tmp_path):
    """Every chorale that music21 converts (a few raise on malformed repeats) round-trips exactly."""
    from perceiver.data.audio import write_bach_chorales

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, valid = write_bach_chorales(tmp_path, num_workers=2)
    assert len(train) + len(valid) > 400  # of 410 scores
    for path in train + valid:
        ids = encode_midi(load_midi(path))
        assert ids and encode_midi(decode_midi(ids)) == ids, path.name


def naive_sustain(notes, intervals):
    """Reference of the pedal rule, written the slow, obvious way."""
    out = []
    for n in notes:
        end = n.end
        for down, up in intervals:
            if down <= n.end < up:
                later = [m.start for m in notes if m.pitch == n.pitch and m.start > n.start]
                new_end = min([up] + later)
                if new_end != float("inf"):
                    end = max(end, new_end)
        out.append((n.pitch, n.velocity, n.start, end))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_sustain_matches_naive_rule_on_random_performances(seed):
    from perceiver.data.audio.midi_processor import _apply_sustain, _pedal_intervals

    rng = np.random.default_rng(seed)
    notes = []
    for _ in range(200):
        start = float(rng.uniform(0, 30))
        notes.append(pretty_midi.Note(64, int(rng.integers(60, 66)), start, start + float(rng.uniform(0.05, 2))))
    times = np.sort(rng.uniform(0, 32, size=40))
    pedal = [pretty_midi.ControlChange(64, int(rng.choice([0, 30, 64, 127])), float(t)) for t in times]
    intervals = _pedal_intervals(pedal)
    assert intervals and all(a < b for a, b in intervals)
    assert _apply_sustain(notes, intervals) == naive_sustain(notes, intervals)
