"""The building blocks of the config model: its strict base class, the field types forms.py does not
hold (addresses, uids, NodePorts) and KeyProblem, how a rule of an object blames one of its keys."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .forms import Form, shown


class KeyProblem(ValueError):
    """A rule of an object that blames one of its keys (pydantic alone would blame the object)."""

    def __init__(self, key: str, problem: str):
        self.key = key
        super().__init__(problem)


def _ipv4_network(value: Any) -> Any:
    if isinstance(value, ipaddress.IPv4Network):
        return value
    try:
        return ipaddress.IPv4Network(value if isinstance(value, str) else "", strict=True)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IPv4 network in CIDR form with host bits zero; use e.g. 10.96.0.0/12") from None


def _ipv4_address(value: Any) -> Any:
    if isinstance(value, ipaddress.IPv4Address):
        return value
    try:
        return ipaddress.IPv4Address(value if isinstance(value, str) else "")
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IPv4 address; use e.g. 10.96.0.50") from None


def exact_int(value: Any) -> Any:
    # A Literal of numbers would take `true` as 1 and 3.0 as 3.
    if isinstance(value, (bool, float)):
        raise ValueError(f"expected a whole number, got {shown(value)}")
    return value


NodePort = Annotated[int, Form("port in cluster.nodePortRange")]
# A numeric, non-root uid: the kubelet can only enforce runAsNonRoot on a number.
Uid = Annotated[int, Field(ge=1, le=2147483647), Form("uid 1-2147483647")]
# Pod Security "restricted" and checkov (CKV_K8S_40) want uids above the host's range.
DEFAULT_UID = 10001
Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_ipv4_network), Form("IPv4 CIDR")]
Ipv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(_ipv4_address), Form("IPv4 address")]


class StrictModel(BaseModel):
    """Strict, immutable, camelCase on the wire: unknown keys (typos) are errors, not ignored.
    A field's docstring is its description in the configuration reference."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, populate_by_name=True,
        use_attribute_docstrings=True,
    )
