"""Configs to and from plain dicts: what ``asdict`` writes into ``config.json`` files and Lightning hparams, read
back into the dataclasses (perceiver-io 0.11's saved configs included)."""

import dataclasses
import typing
from typing import Any

from perceiver.model.core.config import PerceiverIOConfig


def dataclass_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``asdict`` output: unknown keys are ignored, lists become tuples where the
    field is a tuple, nested dataclass fields are rebuilt."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value = data[field.name]
        hint = hints.get(field.name)
        if isinstance(value, list) and "tuple" in str(hint).lower():
            value = tuple(value)
        elif isinstance(value, dict) and dataclasses.is_dataclass(hint):
            value = dataclass_from_dict(hint, value)
        kwargs[field.name] = value
    return cls(**kwargs)


def perceiver_io_config_from_dict(data: dict[str, Any], encoder_cls: type, decoder_cls: type) -> PerceiverIOConfig:
    rest = {k: v for k, v in data.items() if k not in ("encoder", "decoder")}
    return dataclass_from_dict(PerceiverIOConfig, rest | {
        "encoder": dataclass_from_dict(encoder_cls, data["encoder"]),
        "decoder": dataclass_from_dict(decoder_cls, data["decoder"]),
    })  # fmt: skip
