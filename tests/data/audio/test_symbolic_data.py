import json
import zipfile

import numpy as np
import pretty_midi
import pytest
import torch

from perceiver.data.audio import (
    PAD_TOKEN_ID,
    BachChoralesDataModule,
    GiantMidiPianoDataModule,
    MaestroV3DataModule,
    SymbolicAudioCollator,
    SymbolicAudioDataModule,
    SymbolicAudioDataset,
    encode_midi,
    write_bach_chorales,
)
from perceiver.data.audio.maestro_v3 import read_maestro_split
from perceiver.data.audio.symbolic import SEPARATOR, load_token_file, write_token_file
from perceiver.data.audio.utils import download_file, extract_file


def write_midi(path, pitches, step=0.25):
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(64, p, i * step, (i + 1) * step) for i, p in enumerate(pitches)]
    midi.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return encode_midi(midi)


@pytest.fixture
def midi_folder(tmp_path):
    d = tmp_path / "midi"
    encoded = {}
    for k in range(6):
        encoded[f"piece{k}.mid"] = write_midi(d / f"piece{k}.mid", list(range(40 + k, 60 + k)))
    (d / "broken.mid").write_bytes(b"garbage")
    (d / "notes.txt").write_text("not a midi file")
    return d, encoded


def test_dataset_random_windows_never_mix_pieces():
    tokens = np.array([1, 2, 3, 4, 5, SEPARATOR, 6, 7, SEPARATOR, 8, 9, 10, 11, 12, 13, 14], dtype=np.int16)
    ds = SymbolicAudioDataset(tokens, max_seq_len=5)
    assert len(ds) == len(tokens) // 6
    for _ in range(50):
        w = ds[0]
        assert SEPARATOR not in w.tolist()
        assert 2 <= len(w) <= 6
        # a contiguous run of one piece
        assert w.tolist() == list(range(w[0].item(), w[0].item() + len(w)))


def test_dataset_fixed_windows_and_min_seq_len():
    tokens = np.arange(1, 25, dtype=np.int16)
    ds = SymbolicAudioDataset(tokens, max_seq_len=7, random_windows=False)
    assert len(ds) == 3
    assert [ds[i].tolist() for i in range(3)] == [list(range(1, 9)), list(range(9, 17)), list(range(17, 25))]
    ds = SymbolicAudioDataset(tokens, max_seq_len=7, min_seq_len=3)
    lengths = {len(ds[0]) for _ in range(200)}
    assert lengths == {4, 5, 6, 7, 8}  # min_seq_len..max_seq_len inputs + 1 label


@pytest.mark.parametrize("side", ["left", "right"])
def test_collator_padding(side):
    labels, input_ids, pad_mask = SymbolicAudioCollator(max_seq_len=5, padding_side=side)(
        [torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([7, 8, 9])]
    )
    assert input_ids[0].tolist() == [1, 2, 3, 4, 5] and labels[0].tolist() == [2, 3, 4, 5, 6]
    assert not pad_mask[0].any()
    if side == "left":
        assert input_ids[1].tolist() == [388, 388, 388, 7, 8]
        assert labels[1].tolist() == [-100, -100, 7, 8, 9]
        assert pad_mask[1].tolist() == [True, True, True, False, False]
    else:
        assert input_ids[1].tolist() == [7, 8, 9, 388, 388]
        assert labels[1].tolist() == [8, 9, -100, -100, -100]
        assert pad_mask[1].tolist() == [False, False, False, True, True]


def test_data_module_preprocessing(midi_folder):
    d, encoded = midi_folder
    dm = SymbolicAudioDataModule(str(d), max_seq_len=16, batch_size=4, num_workers=0, preproc_workers=1)
    assert dm.vocab_size == 389 and dm.pad_token_id == PAD_TOKEN_ID
    with pytest.warns(UserWarning, match="broken.mid could not be read"):
        dm.prepare_data()
    train = np.asarray(load_token_file(dm.preproc_dir / "train.bin"))
    valid = np.asarray(load_token_file(dm.preproc_dir / "valid.bin"))
    assert train.dtype == np.int16
    pieces = [p.tolist() for p in np.split(train, np.flatnonzero(train == SEPARATOR))]
    pieces = [p[1:] if p and p[0] == SEPARATOR else p for p in pieces]
    pieces += [valid.tolist()]
    # every good file is in exactly one split, valid holds one (10 % of 7 files rounds to 1)
    assert sorted(map(tuple, pieces)) == sorted(tuple(v) for v in encoded.values())
    assert SEPARATOR not in valid.tolist()

    dm.setup("fit")
    labels, input_ids, pad_mask = next(iter(dm.train_dataloader()))
    assert input_ids.shape == labels.shape == pad_mask.shape == (4, 16)
    assert torch.equal(pad_mask, input_ids == PAD_TOKEN_ID)
    batch = next(iter(dm.val_dataloader()))
    assert batch[1].shape[1] == 16

    # a second prepare_data reuses the token files
    mtime = (dm.preproc_dir / "train.bin").stat().st_mtime_ns
    dm.prepare_data()
    assert (dm.preproc_dir / "train.bin").stat().st_mtime_ns == mtime


def test_data_module_train_valid_folders(tmp_path):
    a = write_midi(tmp_path / "train" / "a.mid", [60, 62])
    b = write_midi(tmp_path / "valid" / "sub" / "b.midi", [64, 65, 67])
    dm = SymbolicAudioDataModule(str(tmp_path), max_seq_len=8, preproc_workers=1)
    train, valid = dm.source_files()
    assert [p.name for p in train] == ["a.mid"] and [p.name for p in valid] == ["b.midi"]
    dm.prepare_data()
    assert load_token_file(dm.preproc_dir / "train.bin").tolist() == a
    assert load_token_file(dm.preproc_dir / "valid.bin").tolist() == b


def test_data_module_errors(tmp_path):
    (tmp_path / "readme.txt").write_text("no midi here")
    dm = SymbolicAudioDataModule(str(tmp_path), max_seq_len=8, preproc_workers=1)
    with pytest.raises(ValueError, match=r"no MIDI files \(\*.mid, \*.midi\) found"):
        dm.prepare_data()
    with pytest.raises(ValueError, match="is not a directory"):
        SymbolicAudioDataModule(str(tmp_path / "missing"), max_seq_len=8).prepare_data()
    write_midi(tmp_path / "one.mid", [60])
    with pytest.raises(ValueError, match="only 1 MIDI file"):
        dm.prepare_data()
    (tmp_path / "two.mid").write_bytes(b"")
    (tmp_path / "three.mid").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="skipping MIDI file"):
        with pytest.raises(ValueError, match="could be encoded"):
            SymbolicAudioDataModule(str(tmp_path), max_seq_len=8, preproc_workers=1, valid_fraction=0.5).prepare_data()
    with pytest.raises(ValueError, match="run prepare_data"):
        SymbolicAudioDataModule(str(tmp_path / "x"), max_seq_len=8).setup()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_seq_len": 0}, "max_seq_len must be a positive int, got 0"),
        ({"max_seq_len": 8, "min_seq_len": 8}, r"min_seq_len must be in \(0..max_seq_len=8\), got 8"),
        ({"max_seq_len": 8, "min_seq_len": 0}, "min_seq_len"),
        ({"max_seq_len": 8, "padding_side": "middle"}, "padding_side must be 'left' or 'right', got 'middle'"),
        ({"max_seq_len": 8, "valid_fraction": 1.0}, "valid_fraction"),
        ({"max_seq_len": 8, "batch_size": 0}, "batch_size"),
    ],
)
def test_data_module_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        SymbolicAudioDataModule(str(tmp_path), **kwargs)


def test_maestro_split_from_metadata(tmp_path):
    root = tmp_path / "maestro-v3.0.0"
    tokens = {}
    for name, pitches in [("2004/a.midi", [60]), ("2004/b.midi", [62]), ("2006/c.midi", [64]), ("2006/d.midi", [65])]:
        tokens[name] = write_midi(root / name, pitches)
    meta = {
        "midi_filename": {"0": "2004/a.midi", "1": "2004/b.midi", "2": "2006/c.midi", "3": "2006/d.midi"},
        "split": {"0": "train", "1": "validation", "2": "test", "3": "train"},
    }
    (root / "maestro-v3.0.0.json").write_text(json.dumps(meta))
    assert read_maestro_split(root / "maestro-v3.0.0.json")["2006/c.midi"] == "test"
    dm = MaestroV3DataModule(max_seq_len=8, dataset_dir=str(tmp_path), preproc_workers=1)
    train, valid = dm.source_files()
    assert [p.name for p in train] == ["a.midi", "d.midi"] and [p.name for p in valid] == ["b.midi"]
    dm.prepare_data()  # metadata present: nothing is downloaded
    assert load_token_file(dm.preproc_dir / "valid.bin").tolist() == tokens["2004/b.midi"]


def test_giantmidi_download_and_extract_from_file_uri(tmp_path):
    src = tmp_path / "src"
    write_midi(src / "giantmidi" / "train" / "x.mid", [60, 61])
    write_midi(src / "giantmidi" / "valid" / "y.mid", [70])
    archive = tmp_path / "giantmidi-piano.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src.rglob("*.mid"):
            zf.write(p, p.relative_to(src).as_posix())
    dm = GiantMidiPianoDataModule(
        max_seq_len=8, dataset_uri=archive.as_uri(), dataset_dir=str(tmp_path / "data"), preproc_workers=1
    )
    dm.prepare_data()
    assert (tmp_path / "data" / "train" / "x.mid").exists()  # nested top-level folder flattened
    assert not (tmp_path / "data" / "giantmidi-piano.zip").exists()
    assert load_token_file(dm.preproc_dir / "valid.bin").tolist() == encode_midi(
        pretty_midi.PrettyMIDI(str(src / "giantmidi" / "valid" / "y.mid"))
    )


@pytest.mark.parametrize("data_module", [MaestroV3DataModule, GiantMidiPianoDataModule, BachChoralesDataModule])
def test_named_data_modules_take_the_arguments_of_the_base(data_module, tmp_path):
    dm = data_module(16, 4, "right", 2, dataset_dir=str(tmp_path), preproc_workers=1)
    assert (dm.max_seq_len, dm.min_seq_len, dm.padding_side, dm.batch_size) == (16, 4, "right", 2)
    assert dm.dataset_dir == tmp_path and dm.hparams["min_seq_len"] == 4 and dm.hparams["dataset_dir"] == str(tmp_path)
    with pytest.raises(ValueError, match=r"min_seq_len must be in \(0..max_seq_len=16\), got 16"):
        data_module(16, 16, dataset_dir=str(tmp_path))


def test_written_token_files_need_no_download(tmp_path):
    dm = GiantMidiPianoDataModule(
        max_seq_len=8, dataset_uri=(tmp_path / "missing.zip").as_uri(), dataset_dir=str(tmp_path), preproc_workers=1
    )
    dm.preproc_dir.mkdir(parents=True)
    for split in ("train", "valid"):
        write_token_file(dm.preproc_dir / f"{split}.bin", [np.arange(10, dtype=np.int16)])
    dm.prepare_data()  # no OSError: the archive is not fetched
    with pytest.raises(OSError, match="could not download"):
        GiantMidiPianoDataModule(
            max_seq_len=8, dataset_uri=dm.dataset_uri, dataset_dir=str(tmp_path / "new")
        ).prepare_data()


def test_download_and_extract_errors(tmp_path):
    with pytest.raises(OSError, match="could not download"):
        download_file((tmp_path / "missing.zip").as_uri(), tmp_path / "out.zip")
    assert not (tmp_path / "out.zip.part").exists()
    not_zip = tmp_path / "a.zip"
    not_zip.write_bytes(b"plain")
    with pytest.raises(ValueError, match="is not a zip file"):
        extract_file(not_zip, tmp_path / "x")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(ValueError, match="outside"):
        extract_file(evil, tmp_path / "y")


def test_bach_chorales_data_module(tmp_path):
    dm = BachChoralesDataModule(
        max_seq_len=32, dataset_dir=str(tmp_path), max_chorales=3, preproc_workers=1, batch_size=2, num_workers=0
    )
    dm.prepare_data()
    assert len(list((tmp_path / "train").glob("*.mid"))) == 2 and len(list((tmp_path / "valid").glob("*.mid"))) == 1
    assert (tmp_path / ".converted").exists()
    dm.setup()
    labels, input_ids, pad_mask = next(iter(dm.train_dataloader()))
    assert input_ids.shape == (2, 32)
    assert torch.equal(pad_mask, input_ids == PAD_TOKEN_ID)
    assert (input_ids[~pad_mask] < PAD_TOKEN_ID).all() and (~pad_mask).sum() > 0


def test_write_bach_chorales_split_and_errors(tmp_path):
    with pytest.raises(ValueError, match="max_chorales must be at least 2"):
        write_bach_chorales(tmp_path, max_chorales=1)


def test_chorale_names_and_file_names(tmp_path):
    from perceiver.data.audio import chorale_names

    names = chorale_names()
    assert len(names) > 400 and len(set(names)) == len(names)
    assert "bach/bwv66.6" in names and not any("riemenschneider" in n for n in names)
    train, valid = write_bach_chorales(tmp_path, max_chorales=4)
    # dotted BWV numbers keep their full name (bwv1.6 and bwv10.7 must not both become bwv1 / bwv10)
    assert sorted(p.name for p in train + valid) == sorted(n.split("/")[1] + ".mid" for n in names[:4])
