"""The raw text Pulumi passes for every `msa:*` key, parsed into a validated StackConfig or one ConfigError."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Annotated, Any, Mapping

from pydantic import ValidationError

from ..errors import ConfigError
from .checks import check_stack
from .model import SECRET_KEYS, StackConfig
from .problems import KNOWN_KEYS, did_you_mean, model_in, to_config_error, wire_name


def parse_stack_config(raw: Mapping[str, str], project_dir: Path) -> StackConfig:
    """Parse `{key-without-msa-prefix: raw text}` into a validated StackConfig, or raise ConfigError."""
    fields = {wire_name(n, f): f for n, f in StackConfig.model_fields.items()}
    data: dict[str, Any] = {}
    for key, text in raw.items():
        if key in SECRET_KEYS:
            continue
        if key not in fields:
            if "." in key and key.split(".")[0] in fields:
                # `pulumi config set msa:kafka.brokers 3` without --path makes a key with a dot in its name.
                raise ConfigError(key, f"is a key with a dot in its name; set nested values with: pulumi config set --path msa:{key} <value> (and remove this one)")
            raise ConfigError(key, f"unknown key; {did_you_mean(key, KNOWN_KEYS)}known keys are {', '.join('msa:' + k for k in KNOWN_KEYS)}")
        annotation = fields[key].annotation
        if text == "":
            default = fields[key].get_default()
            hint = f" for the default {default}" if isinstance(default, str) else ""
            raise ConfigError(key, f"is empty; give it a value or remove the line{hint}")
        if _is_text(annotation):
            data[key] = text
            continue
        try:
            # The CLI passes objects and lists as JSON, and a top-level scalar as text: `true`, `3`.
            data[key] = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError:
            if model_in(annotation) or typing.get_origin(annotation) is dict:
                raise ConfigError(key, "expected an object (a YAML mapping in Pulumi.<stack>.yaml), got plain text") from None
            data[key] = text
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise to_config_error(exc) from None
    check_stack(cfg, project_dir)
    return cfg


def _is_text(annotation: Any) -> bool:
    """A top-level key whose value is text as the CLI passes it (no JSON decoding)."""
    if annotation is str:
        return True
    if typing.get_origin(annotation) is Annotated:
        return typing.get_args(annotation)[0] is str
    return False
