"""The configuration reference (docs/configuration.md), generated from the config model so the two cannot drift.

    venv/bin/python -m msa.config.docs                 # print the table
    python3 tasks.py docs                               # rewrite it in docs/configuration.md between the markers

Every key of `StackConfig` becomes one row: its path as `pulumi config set --path` spells it, its
default (the default of the object that holds it, so `kafka.resources.cpu` shows the broker's
own default), its form (from the field's type) and its docstring. tests/config/test_config_docs.py fails
when docs/configuration.md and the model differ.
"""

from __future__ import annotations

import ipaddress
import sys
import typing
from pathlib import Path
from typing import Any, Iterator, Literal, Optional

from annotated_types import Ge, Le
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .model import SECRET_KEYS, StackConfig
from .problems import model_in, wire_name
from .forms import Form
from .sizes import SERVICE_HEAP, Floor

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
BEGIN = "<!-- config-table: generated from msa/config/model.py by `python3 tasks.py docs`; edit the model, not this table -->"
END = "<!-- end config-table -->"

SECRET_ROWS = {
    "harborPassword": "Harbor password, set with `pulumi config set --secret msa:harborPassword`.",
    "sshPrivateKey": "SSH key for `cluster.nodes` and `push: relay`: `pulumi config set --secret msa:sshPrivateKey < ~/.ssh/id_ed25519`.",
    "kafkaUiPassword": "kafka-ui login password (`kafka.ui.login`), set with `pulumi config set --secret msa:kafkaUiPassword`.",
    "kafkaAuthSecret": "Seed of every Kafka and ZooKeeper password (HMAC-derived per user; the cluster sees only the derived ones); `init-stack` generates it. Changing it changes every password.",
    "kafkaTlsCa": "`kafka.tls`: the team's CA, its PEM certificate followed by its unencrypted private key (`cat ca.crt ca.key | pulumi config set --secret msa:kafkaTlsCa`); the stack signs the brokers' certificate with it, clients trust its certificate ([Security](security.md)).",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(value: Any) -> str:
    if isinstance(value, BaseModel):
        return ""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if value == "":
        return '`""`'
    if isinstance(value, (list, dict)) and not value:
        return f"`{value!r}`"
    return f"`{value}`"


def _form(annotation: Any, field: Optional[FieldInfo] = None) -> str:
    metadata = list(field.metadata) if field else []
    forms = [m for m in metadata if isinstance(m, Form)]
    if forms:
        return forms[-1].name  # the outermost: Annotated[Text, Form("a key of msa:services")] names it best
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        forms = [m for m in extra if isinstance(m, Form)]
        if forms:
            return forms[0].name
        return _form(base, None) if not metadata else _form(base, field)
    if origin is typing.Union:
        return " or ".join(_form(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is Literal:
        return " | ".join(f"`{v}`" for v in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return "list of objects" if model_in(item) else f"list of {_form(item)}"
    if origin is dict:
        _, value = typing.get_args(annotation)
        return "map of objects" if model_in(value) else f"map of {_form(value)}"
    if annotation is bool:
        return "true/false"
    if annotation is int:
        low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
        high = next((m.le for m in metadata if isinstance(m, Le)), None)
        return f"whole number {low}-{high}" if low is not None and high is not None else "whole number"
    if annotation is str:
        return "text"
    if annotation is ipaddress.IPv4Network:
        return "IPv4 CIDR"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def rows(model: type[BaseModel] = StackConfig, prefix: str = "", defaults: Any = None) -> Iterator[tuple[str, str, str, str]]:
    """(key, default, form, meaning) for every key below `model`, depth first, in model order."""
    for name, field in model.model_fields.items():
        key = prefix + wire_name(name, field)
        annotation = field.annotation
        if field.is_required():
            default = "required"
        elif defaults is not None:
            default = _default(getattr(defaults, name))
        else:
            default = _default(field.get_default(call_default_factory=True))
        origin = typing.get_origin(annotation)
        if origin is list and model_in(typing.get_args(annotation)[0]):
            yield key + "[]", default, "list of objects", field.description or ""
            yield from rows(model_in(typing.get_args(annotation)[0]), key + "[].", None)
        elif origin is dict and model_in(typing.get_args(annotation)[1]):
            yield key + ".<name>", default, "map of objects", field.description or ""
            yield from rows(model_in(typing.get_args(annotation)[1]), key + ".<name>.", None)
        elif model_in(annotation):
            value = getattr(defaults, name) if defaults is not None else field.get_default(call_default_factory=True)
            form = next((m.name for m in field.metadata if isinstance(m, Form)), "object")
            yield key, default or ("none" if value is None else ""), form, field.description or ""
            yield from rows(model_in(annotation), key + ".", value if isinstance(value, BaseModel) else None)
        else:
            yield key, default, _form(annotation, field) + _floor_text(field), field.description or ""


def _floor(field: FieldInfo) -> Optional[Floor]:
    return next((m for m in field.metadata if isinstance(m, Floor)), None)


def _floor_text(field: FieldInfo) -> str:
    floor = _floor(field)
    return f", {floor.shown}" if floor else ""


def floors(model: type[BaseModel] = StackConfig, prefix: str = "") -> Iterator[tuple[str, Floor]]:
    """(key, floor) for every size or quantity key below `model` (sizes that cannot be meant are refused)."""
    for name, field in model.model_fields.items():
        key = prefix + wire_name(name, field)
        annotation = field.annotation
        origin = typing.get_origin(annotation)
        if origin is dict and model_in(typing.get_args(annotation)[1]):
            yield from floors(model_in(typing.get_args(annotation)[1]), key + ".<name>.")
        elif origin is list and model_in(typing.get_args(annotation)[0]):
            yield from floors(model_in(typing.get_args(annotation)[0]), key + "[].")
        elif model_in(annotation):
            yield from floors(model_in(annotation), key + ".")
        elif _floor(field):
            yield key, _floor(field)


def table() -> str:
    lines = ["| key | default | form | meaning |", "|---|---|---|---|"]
    for key, default, form, meaning in rows():
        lines.append(f"| `{key}` | {_cell(default)} | {_cell(form)} | {_cell(meaning)} |")
    for key in SECRET_KEYS:
        lines.append(f"| `{key}` | none | secret | {_cell(SECRET_ROWS[key])} |")
    lines += ["", "Sizes that cannot be meant are refused with the likely fix (`storageSize: 10` is 10 bytes: "
              "\"did you mean 10Gi?\"). The floor of each size key, and why:", "",
              "| key | accepted | why |", "|---|---|---|"]
    for key, floor in floors():
        lines.append(f"| `{key}` | {floor.shown} | {_cell(floor.why)} |")
    lines.append(f"| `services.<name>.javaOpts` (`-Xmx`) | {SERVICE_HEAP.shown} | {_cell(SERVICE_HEAP.why)} |")
    return "\n".join(lines)


def undocumented() -> list[str]:
    """Keys whose field has no docstring (a new key must say what it means)."""
    return [key for key, _, _, meaning in rows() if not meaning.strip()]


def with_table(readme: str) -> str:
    """The reference page's text with the generated table between the markers."""
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"docs/configuration.md lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        missing = undocumented()
        if missing:
            print(f"error: these keys have no docstring in msa/config/model.py: {', '.join(missing)}", file=sys.stderr)
            return 2
        text = REFERENCE.read_text()
        updated = with_table(text)
        if updated != text:
            REFERENCE.write_text(updated)
            print("docs/configuration.md: configuration table updated")
        else:
            print("docs/configuration.md: configuration table already up to date")
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
