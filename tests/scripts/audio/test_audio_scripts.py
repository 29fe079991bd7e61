import json
from pathlib import Path

import pretty_midi
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from perceiver.data.audio import PAD_TOKEN_ID, BachChoralesDataModule, SymbolicAudioDataModule, encode_midi
from perceiver.data.audio.symbolic import load_token_file
from perceiver.model.audio.symbolic import LitSymbolicAudioModel, convert_checkpoint
from perceiver.scripts.audio import preproc, symbolic


def write_folder(d, num_files=5):
    for k in range(num_files):
        midi = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=0)
        inst.notes = [pretty_midi.Note(70, 48 + (i * 5 + k) % 24, i * 0.2, i * 0.2 + 0.3) for i in range(40)]
        midi.instruments.append(inst)
        midi.write(str(d / f"p{k}.mid"))
    return d


def test_preproc_folder(tmp_path, capsys):
    write_folder(tmp_path)
    dm = preproc.main(["folder", f"--dataset_dir={tmp_path}", "--max_seq_len=16", "--preproc_workers=1"])
    assert isinstance(dm, SymbolicAudioDataModule)
    assert (tmp_path / "preproc" / "train.bin").exists() and (tmp_path / "preproc" / "valid.bin").exists()
    assert "train and" in capsys.readouterr().out


def test_preproc_arguments(tmp_path):
    with pytest.raises(ValueError, match="dataset 'folder' needs --dataset_dir"):
        preproc.main(["folder", "--max_seq_len=16"])
    with pytest.raises(ValueError, match="--dataset_uri is not used by dataset 'bach-chorales'"):
        preproc.main(["bach-chorales", "--max_seq_len=16", "--dataset_uri=file:///x.zip"])
    with pytest.raises(SystemExit):
        preproc.main(["unknown", "--max_seq_len=16"])
    dm = preproc.create_data_module(
        preproc.parser().parse_args(["bach-chorales", "--max_seq_len=16", f"--dataset_dir={tmp_path}"])
    )
    assert isinstance(dm, BachChoralesDataModule) and dm.dataset_dir == tmp_path


def test_cli_defaults_and_links(tmp_path):
    write_folder(tmp_path)
    cli = symbolic.main(
        [f"--data.dataset_dir={tmp_path}", "--data.max_seq_len=24", "--model.max_latents=8"],
        run=False,
    )
    assert isinstance(cli.model, LitSymbolicAudioModel)
    config = cli.model.backend_config
    assert (config.vocab_size, config.max_seq_len, config.max_latents) == (389, 24, 8)
    # reference script defaults
    assert (config.num_self_attention_layers, config.output_norm, config.output_bias, config.abs_pos_emb) == (
        12,
        True,
        False,
        False,
    )


@pytest.mark.slow
def test_fit_checkpoint_and_convert(tmp_path):
    (tmp_path / "midi").mkdir()
    data_dir = write_folder(tmp_path / "midi")
    symbolic.main(
        [
            "fit",
            "--data=SymbolicAudioDataModule",
            f"--data.dataset_dir={data_dir}",
            "--data.max_seq_len=24",
            "--data.batch_size=4",
            "--data.num_workers=0",
            "--data.preproc_workers=1",
            "--model.max_latents=8",
            "--model.num_channels=16",
            "--model.num_heads=2",
            "--model.num_self_attention_layers=1",
            "--optimizer=AdamW",
            "--optimizer.lr=1e-3",
            "--lr_scheduler.warmup_steps=1",
            "--trainer.max_steps=3",
            "--trainer.accelerator=cpu",
            "--trainer.devices=1",
            "--trainer.enable_progress_bar=false",
            "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
            f"--trainer.logger.save_dir={tmp_path}",
            f"--trainer.default_root_dir={tmp_path}",
        ]
    )
    ckpts = sorted(tmp_path.rglob("last.ckpt"))
    assert len(ckpts) == 1
    ckpt = ckpts[0]
    lit = LitSymbolicAudioModel.load_from_checkpoint(ckpt).eval()
    hf_dir = tmp_path / "hf"
    convert_checkpoint(hf_dir, ckpt)
    assert json.loads((hf_dir / "config.json").read_text())["model_type"] == "perceiver-ar-symbolic-audio-model"
    hf = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
    x = torch.tensor([encode_midi(pretty_midi.PrettyMIDI(str(data_dir / "p0.mid")))[:24]])
    with torch.no_grad():
        torch.testing.assert_close(hf(x, prefix_len=16).logits, lit.model(x, prefix_len=16).logits, atol=0, rtol=0)
    assert load_token_file(data_dir / "preproc" / "train.bin").max() < PAD_TOKEN_ID


EXAMPLES = sorted((Path(__file__).parents[3] / "examples" / "training" / "audio").glob("*.yaml"))


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: p.name)
def test_example_configs_parse(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        symbolic.main(["fit", f"--config={config}", "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    expected = yaml.safe_load(config.read_text())
    assert printed["data"]["class_path"] == expected["data"]["class_path"]
    assert printed["model"]["max_latents"] == expected["model"]["max_latents"]
    assert printed["trainer"]["max_steps"] == expected["trainer"]["max_steps"]
    assert printed["lr_scheduler"]["warmup_steps"] == expected["lr_scheduler"]["warmup_steps"]
