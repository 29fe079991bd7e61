"""The ``symbolic-audio-generation`` pipeline: continue a MIDI prompt with a symbolic audio model."""

import enum
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pretty_midi
import torch
from transformers import Pipeline

from perceiver.data.audio import PAD_TOKEN_ID, decode_midi, encode_midi


class ReturnType(enum.Enum):
    TENSORS = 0
    AUDIO = 1


def default_sound_font() -> Path:
    """The General MIDI sound font that ships with pretty_midi."""
    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def render_wav(midi: pretty_midi.PrettyMIDI, sf2_path: str | os.PathLike | None = None, sample_rate: int = 44100):
    """WAV bytes of ``midi`` rendered by the ``fluidsynth`` command (which must be on ``PATH``)."""
    executable = shutil.which("fluidsynth")
    if executable is None:
        raise RuntimeError(
            "rendering MIDI to WAV needs the fluidsynth command on PATH (e.g. apt-get install fluidsynth); "
            "use render=False to get a PrettyMIDI"
        )
    sf2 = Path(sf2_path) if sf2_path is not None else default_sound_font()
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        midi.write(str(mid))
        cmd = [executable, "-ni", "-F", str(wav), "-r", str(sample_rate), str(sf2), str(mid)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not wav.exists():
            raise RuntimeError(f"fluidsynth failed (exit code {result.returncode}): {result.stderr.strip()}")
        return wav.read_bytes()


class SymbolicAudioPipeline(Pipeline):
    """Continue ``PrettyMIDI`` prompts (one or a list).

    :param max_prompt_length: keep only the first ``max_prompt_length`` prompt tokens.
    :param return_full_audio: include the prompt in the output (default ``True``).
    :param return_type: ``ReturnType.AUDIO`` (default): ``{"generated_audio_midi": PrettyMIDI}``, or with
        ``render=True`` ``{"generated_audio_wav": bytes}``; ``ReturnType.TENSORS``: ``{"generated_token_ids": [...]}``.
    :param render: render the MIDI to WAV with fluidsynth; ``sf2_path`` picks the sound font (default: the one
        that ships with pretty_midi).

    All other keyword arguments go to ``generate`` (``max_new_tokens``, ``num_latents``, ``do_sample``, ``top_k``,
    ``top_p``, ``temperature``, ``num_beams``, ``penalty_alpha``, ``use_cache``, ...). With
    ``num_return_sequences > 1`` a prompt gives a list of outputs.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, list | tuple) and len(inputs) == 0:
            return []  # transformers' Pipeline would index the first input
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(
        self,
        max_prompt_length: int | None = None,
        return_full_audio: bool | None = None,
        return_type: ReturnType | None = None,
        render: bool | None = None,
        sf2_path: str | os.PathLike | None = None,
        **generate_kwargs: Any,
    ):
        preprocess_params, postprocess_params = {}, {}
        if max_prompt_length is not None:
            if isinstance(max_prompt_length, bool) or not isinstance(max_prompt_length, int) or max_prompt_length < 1:
                raise ValueError(f"max_prompt_length must be a positive int, got {max_prompt_length!r}")
            preprocess_params["max_prompt_length"] = max_prompt_length
        if return_full_audio is not None:
            postprocess_params["return_full_audio"] = bool(return_full_audio)
        if return_type is not None:
            if not isinstance(return_type, ReturnType):
                raise TypeError(f"return_type must be a ReturnType (TENSORS or AUDIO), got {return_type!r}")
            postprocess_params["return_type"] = return_type
        if render:
            if shutil.which("fluidsynth") is None:
                raise RuntimeError(
                    "render=True needs the fluidsynth command on PATH (e.g. apt-get install fluidsynth); "
                    "use render=False to get a PrettyMIDI"
                )
            postprocess_params["render"] = True
        if sf2_path is not None:
            if not Path(sf2_path).is_file():
                raise ValueError(f"sf2_path {str(sf2_path)!r} is not a file")
            postprocess_params["sf2_path"] = sf2_path
        return preprocess_params, generate_kwargs, postprocess_params

    def preprocess(self, prompt: pretty_midi.PrettyMIDI, max_prompt_length: int | None = None) -> dict[str, Any]:
        if not isinstance(prompt, pretty_midi.PrettyMIDI):
            raise TypeError(f"prompt must be a pretty_midi.PrettyMIDI, got {type(prompt).__name__}")
        ids = encode_midi(prompt)
        if not ids:
            raise ValueError("prompt contains no notes")
        if max_prompt_length is not None:
            ids = ids[:max_prompt_length]
        return {"input_ids": torch.tensor([ids], dtype=torch.long)}

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        input_ids = model_inputs["input_ids"]
        generate_kwargs.setdefault("pad_token_id", PAD_TOKEN_ID)
        output = self.model.generate(input_ids=input_ids, **generate_kwargs)
        sequences = output if isinstance(output, torch.Tensor) else output.sequences
        return {"sequences": sequences, "prompt_length": input_ids.shape[1]}

    def postprocess(
        self,
        model_outputs: dict[str, Any],
        return_type: ReturnType = ReturnType.AUDIO,
        return_full_audio: bool = True,
        render: bool = False,
        sf2_path: str | os.PathLike | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        results = []
        for sequence in model_outputs["sequences"]:
            ids = sequence.tolist() if return_full_audio else sequence[model_outputs["prompt_length"] :].tolist()
            if return_type == ReturnType.TENSORS:
                results.append({"generated_token_ids": ids})
                continue
            midi = decode_midi(ids)
            if render:
                results.append({"generated_audio_wav": render_wav(midi, sf2_path)})
            else:
                results.append({"generated_audio_midi": midi})
        return results[0] if len(results) == 1 else results
