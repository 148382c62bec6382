"""What pydantic reports, as one line that names the key (`msa:kafka.brokers: ...`) and says how to fix it."""

from __future__ import annotations

import difflib
import typing
from typing import Any, Iterable, Optional

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from ..errors import ConfigError
from .fields import KeyProblem
from .forms import kind_of, shown
from .model import SECRET_KEYS, StackConfig


def wire_name(name: str, field: Any) -> str:
    return field.alias or to_camel(name)


# Every top-level key (camelCase, as in the stack file), secrets included.
KNOWN_KEYS = sorted({wire_name(n, f) for n, f in StackConfig.model_fields.items()} | set(SECRET_KEYS))


def did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if not close:
        close = [k for k in known if k.lower() == key.lower()]
    return f"did you mean {close[0]}? " if close else ""


def key_path(loc: Iterable[Any]) -> str:
    """('services', 'gw', 'routes', 0, 'service') -> 'services.gw.routes[0].service' (pulumi --path style)."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for "the key of this mapping is wrong": the path already names it
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(path: str, sub: str) -> str:
    return f"{path}{sub}" if sub.startswith("[") else (f"{path}.{sub}" if path else sub)


# A misspelt key explains the "missing" error of the key it was meant to be: report it first.
_ERROR_RANK = {"extra_forbidden": 0, "missing": 2}


def to_config_error(exc: ValidationError) -> ConfigError:
    """The most telling pydantic error, as one line that names the key and says how to fix it."""
    errors = sorted(exc.errors(include_url=False), key=lambda e: _ERROR_RANK.get(e["type"], 1))
    err = errors[0]
    path = key_path(err["loc"])
    kind, given = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _model_at(err["loc"][:-1])
        known = sorted(wire_name(n, f) for n, f in parent.model_fields.items()) if parent else []
        return ConfigError(path, f"unknown key; {did_you_mean(str(err['loc'][-1]), known)}known keys here are: {', '.join(known)}")
    if kind == "missing":
        return ConfigError(path, "is required; set it in Pulumi.<stack>.yaml")
    if kind in ("value_error", "assertion_error"):
        problem = ctx.get("error")
        if isinstance(problem, KeyProblem):
            return ConfigError(_join(path, problem.key), str(problem))
        return ConfigError(path, str(problem))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        unquote = isinstance(given, str) and given.strip().lstrip("+-").isdigit()
        return ConfigError(path, f"expected a whole number, got {kind_of(given)}" + ("; write it without quotes" if unquote else ""))
    if kind in ("bool_parsing", "bool_type"):
        unquote = isinstance(given, str) and given.strip().lower() in ("true", "false")
        return ConfigError(path, f"expected true or false, got {kind_of(given)}" + ("; write it without quotes" if unquote else ""))
    if kind == "string_type":
        return ConfigError(path, f"expected text, got {kind_of(given)}" + ("" if isinstance(given, (list, dict)) else "; quote it in YAML"))
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return ConfigError(path, f"expected an object (a YAML mapping), got {kind_of(given)}")
    if kind == "literal_error":
        return ConfigError(path, f"{kind_of(given)} is not allowed; use {ctx['expected']}")
    if kind in ("greater_than_equal", "greater_than"):
        return ConfigError(path, f"{shown(given)} is too small; use at least {ctx.get('ge', ctx.get('gt'))}")
    if kind in ("less_than_equal", "less_than"):
        return ConfigError(path, f"{shown(given)} is too large; use at most {ctx.get('le', ctx.get('lt'))}")
    if kind == "list_type":
        return ConfigError(path, f"expected a list, got {kind_of(given)}")
    msg = err["msg"][0].lower() + err["msg"][1:]
    return ConfigError(path, f"{msg}, got {kind_of(given)}")


def _model_at(loc: Iterable[Any]) -> Optional[type[BaseModel]]:
    """The model class that validates the object at `loc`, to list its keys in an error."""
    annotation: Any = StackConfig
    parts = list(loc)
    while parts:
        model = model_in(annotation)
        fields = {wire_name(n, f): f for n, f in model.model_fields.items()} if model else {}
        field = fields.get(parts.pop(0))
        if field is None:
            return None
        annotation = field.annotation
        # Step over list indexes and dict keys (services.<name>, nodes[0]) to the element type.
        while typing.get_origin(annotation) in (list, dict) and parts:
            annotation = typing.get_args(annotation)[-1]
            parts.pop(0)
    return model_in(annotation)


def model_in(annotation: Any) -> Optional[type[BaseModel]]:
    """X for X or Optional[X], when X is a model."""
    for arg in (typing.get_args(annotation) or (annotation,)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
