"""The forms a configuration value can take, each checked by its real grammar (pure, no Pulumi).

Every form is an `Annotated` type for the config model: `Quantity`, `DnsLabel`, `Host`, ... A
check raises ValueError with the problem and the fix; the config layer (problems.py) turns that into the one-line error
that names the key. `Form` carries the human name of a form, which the generated configuration reference
shows in its "form" column.

Grammars, from their sources:
- Kubernetes quantity: k8s.io/apimachinery/pkg/api/resource/quantity.go (`<signedNumber><suffix>`,
  suffix one of Ki Mi Gi Ti Pi Ei, m "" k M G T P E, or an exponent e<signedNumber>).
- DNS-1123 label / subdomain: k8s.io/apimachinery/pkg/util/validation (63 / 253 characters).
- Image reference: github.com/distribution/reference (domain[:port]/path[:tag][@digest]).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field


@dataclass(frozen=True)
class Form:
    """Metadata on an Annotated type: what the docs call this form."""

    name: str


def shown(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it in YAML: `true`, `3`, `null`, 'text', cut short if long."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def kind_of(value: Any) -> str:
    """`a list [1, 2]`, `a mapping {...}` or the value itself, for "expected X, got Y"."""
    if isinstance(value, list):
        return f"a list {shown(value)}"
    if isinstance(value, dict):
        return f"a mapping {shown(value)}"
    return shown(value)


# --- scalars that must keep their YAML type (strict: `true` is not a number) -------------------

def _text(value: Any) -> Any:
    """Text where text is expected; numbers are refused with a hint to quote them."""
    if isinstance(value, (bool, int, float)) or value is None:
        raise ValueError(f"expected text, got {shown(value)}; quote it in YAML")
    if isinstance(value, (list, dict)):
        raise ValueError(f"expected text, got {kind_of(value)}")
    return value


def _quantity_text(value: Any) -> Any:
    """A quantity may be written as a YAML number (`cpu: 1`, `cpu: 0.5`); it means the same text."""
    if isinstance(value, (bool, list, dict)) or value is None:
        raise ValueError(f"expected a Kubernetes quantity, got {kind_of(value)}; use e.g. 500m, 1, 512Mi or 10Gi")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return value


# --- Kubernetes quantity ------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|m|k|M|G|T|P|E|)$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6),
            "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}


def quantity_value(text: str) -> Decimal:
    """The number a Kubernetes quantity stands for (`512Mi` -> 536870912, `250m` -> 0.25)."""
    m = _QUANTITY.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity; use e.g. 500m, 1, 512Mi or 10Gi")
    number, suffix = Decimal(m["number"]), m["suffix"]
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    try:
        return number.scaleb(int(suffix[1:]))
    except (InvalidOperation, OverflowError):
        raise ValueError(f"{text!r} is out of range for a Kubernetes quantity") from None


def _non_negative_quantity(text: str) -> str:
    if quantity_value(text) < 0:
        raise ValueError(f"{text!r} is negative; use e.g. 500m, 1, 512Mi")
    return text


def _positive_quantity(text: str) -> str:
    if quantity_value(text) <= 0:
        raise ValueError(f"{text!r} is not above zero; use e.g. 10Gi")
    return text


# --- names --------------------------------------------------------------------------------------

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _dns_label(text: str) -> str:
    if not text:
        raise ValueError("is empty; use a DNS label such as msa (lower-case letters, digits and '-')")
    if not DNS_LABEL.fullmatch(text):
        raise ValueError(f"{text!r} is not a DNS label; use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
    return text


def _dns_subdomain(text: str) -> str:
    if not text:
        raise ValueError("is empty; use a DNS name such as cluster.local")
    if len(text) > 253 or not DNS_SUBDOMAIN.fullmatch(text) or any(len(label) > 63 for label in text.split(".")):
        raise ValueError(f"{text!r} is not a DNS subdomain; use lower-case DNS labels joined by dots, e.g. cluster.local")
    return text


def _storage_class(text: str) -> str:
    return _dns_subdomain(text) if text else text


def _service_name(text: str) -> str:
    _dns_label(text)
    if not text[0].isalpha():
        # A Service name is a DNS-1035 label: it must start with a letter.
        raise ValueError(f"{text!r} must start with a letter (it becomes the Service name and spring.application.name)")
    return text


# --- hosts, ports, paths ------------------------------------------------------------------------

_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def is_host(text: str) -> bool:
    """A host name or an IP address, nothing else (no user@, no :port, no shell characters)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", text):
        return False  # looks like an IPv4 address but is not one (999.1.1.1)
    return len(text) <= 253 and bool(_HOSTNAME.fullmatch(text))


def _host(text: str) -> str:
    if "@" in text:
        raise ValueError(f"{text!r} is not a host name or address; put the user in `user:` and only the host here")
    if text.count(":") == 1 and is_host(text.split(":")[0]):
        raise ValueError(f"{text!r} is not a host name or address; put the port in `port:` and only the host here")
    if not is_host(text):
        raise ValueError(f"{text!r} is not a host name or address; use e.g. 172.10.40.174 or node1.example.com")
    return text


_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


def _user_name(text: str) -> str:
    if not _USER_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not a login name; use letters, digits and _ . - (at most 32), e.g. root or deploy")
    return text


def _registry_host(text: str) -> str:
    if "://" in text:
        raise ValueError(f"{text!r} has a scheme; write the host[:port] as in image names (the scheme is harbor.scheme), e.g. msa.harbor.com")
    host, _, port = text.partition(":")
    if not is_host(host) or (port and not (port.isdigit() and 1 <= int(port) <= 65535)):
        raise ValueError(f"{text!r} is not a registry host[:port] with a port 1-65535; use e.g. msa.harbor.com or 10.0.0.5:8080")
    return text


def _port_range(text: str) -> str:
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if not m or not (1 <= int(m[1]) < int(m[2]) <= 65535):
        raise ValueError(f"{text!r} is not a port range; use the API server's --service-node-port-range, e.g. 30000-32767")
    return text


def _gateway_path(text: str) -> str:
    if not text.startswith("/") or any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not a gateway Path predicate; use e.g. /user-service/**")
    return text


def _absolute_path(text: str) -> str:
    if not text.startswith("/") or "\0" in text or "\n" in text:
        raise ValueError(f"{text!r} is not an absolute path on the nodes; use e.g. /etc/containerd/certs.d")
    if ".." in text.split("/"):
        raise ValueError(f"{text!r} contains '..'; write the path without it")
    return text


def _folder(text: str) -> str:
    if not text.strip() or "\0" in text or "\n" in text:
        raise ValueError(f"{text!r} is not a folder; use a path relative to the project, e.g. config-repo or ../user-service")
    return text


# --- images -------------------------------------------------------------------------------------

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
IMAGE_PATH = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
IMAGE_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?/)?"
    rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)


def _image_reference(text: str) -> str:
    if not text:
        raise ValueError("is empty; use a full image reference such as confluentinc/cp-kafka:7.9.1")
    if not IMAGE_REFERENCE.fullmatch(text) or len(text.split("@")[0].rsplit(":", 1)[0]) > 255:
        raise ValueError(f"{text!r} is not an image reference; use [registry/]repository[:tag][@sha256:digest], e.g. confluentinc/cp-kafka:7.9.1")
    return text


def _image_digest(text: str) -> str:
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", text):
        raise ValueError(f"{text!r} is not an image digest; use sha256:<64 lower-case hex digits> as `docker buildx imagetools inspect` or Harbor shows it")
    return text


def _image_path(text: str) -> str:
    if not IMAGE_PATH.fullmatch(text):
        raise ValueError(f"{text!r} is not an image name; use lower-case letters, digits and - . _ / (e.g. usersservice)")
    return text


def _image_tag(text: str) -> str:
    if text == "latest":
        raise ValueError("'latest' is not allowed: it never triggers a rollout and differs per node; use a version such as \"1.0\"")
    if not IMAGE_TAG.fullmatch(text):
        raise ValueError(f"{text!r} is not an image tag; use letters, digits and _ . - (at most 128), e.g. \"1.0\"")
    return text


def _tag_text(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        raise ValueError(f"expected text, got {kind_of(value)}; quote the tag in YAML, e.g. tag: \"1.0\"")
    if isinstance(value, (bool, int, float)) or value is None:
        # YAML reads 1.0 as a number and 1.10 as 1.1: the tag must be quoted to mean what it says.
        raise ValueError(f"{shown(value)} is not text; quote the tag in YAML, e.g. tag: \"1.0\"")
    return value


# --- JVM ----------------------------------------------------------------------------------------

_JVM_SIZE = re.compile(r"^([0-9]+)([kKmMgG]?)$")


def jvm_size_bytes(text: str) -> int:
    m = _JVM_SIZE.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not a JVM heap size; use e.g. 512m or 1g")
    return int(m[1]) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m[2].lower()]


def _jvm_size(text: str) -> str:
    if not text[-1:].isalpha():
        raise ValueError(f"{text!r} has no unit; use e.g. 512m or 1g")
    if jvm_size_bytes(text) <= 0:
        raise ValueError(f"{text!r} is not above zero; use e.g. 512m")
    return text


def _kafka_property_value(value: Any) -> Any:
    if value is None or isinstance(value, (float, list, dict)):
        raise ValueError(f"{kind_of(value)} is not a valid property value; use a whole number, true/false or text")
    return value


SSH_KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)


def _ssh_host_key(text: str) -> str:
    """`<type> <base64>` as pulumi-command's hostKey wants it (golang.org/x/crypto/ssh
    ParseAuthorizedKey), from that form or a line of `ssh-keyscan` output (`<host> <type> <base64>`).
    The blob must decode and name the same key type, so a truncated paste fails here, not at the
    first SSH handshake."""
    fields = text.split()
    if len(fields) >= 3 and fields[0] not in SSH_KEY_TYPES and fields[1] in SSH_KEY_TYPES:
        fields = fields[1:]  # an ssh-keyscan line: drop the host name
    if len(fields) < 2 or fields[0] not in SSH_KEY_TYPES:
        raise ValueError("is not an SSH host key; paste the line `ssh-keyscan -t ed25519 <host>` prints (ssh-ed25519 AAAA...)")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except binascii.Error:
        raise ValueError(f"the {fields[0]} key is not valid base64 (cut short?); paste the whole ssh-keyscan line") from None
    size = int.from_bytes(blob[:4], "big")
    if blob[4:4 + size].decode(errors="replace") != fields[0]:
        raise ValueError(f"the key data is not a {fields[0]} key (cut short?); paste the whole ssh-keyscan line")
    return f"{fields[0]} {fields[1]}"


# --- the forms, as types for the config model -------------------------------------------------

Text = Annotated[str, BeforeValidator(_text), Form("text")]
Quantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_non_negative_quantity), Form("Kubernetes quantity")]
Size = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_positive_quantity), Form("Kubernetes quantity > 0")]
DnsLabel = Annotated[str, BeforeValidator(_text), AfterValidator(_dns_label), Form("DNS-1123 label")]
StorageClassName = Annotated[str, BeforeValidator(_text), AfterValidator(_storage_class), Form("\"\" or DNS-1123 subdomain")]
DnsSubdomain = Annotated[str, BeforeValidator(_text), AfterValidator(_dns_subdomain), Form("DNS-1123 subdomain")]
ServiceName = Annotated[str, AfterValidator(_service_name), Form("DNS-1035 label")]
Host = Annotated[str, BeforeValidator(_text), AfterValidator(_host), Form("host name or IP address")]
UserName = Annotated[str, BeforeValidator(_text), AfterValidator(_user_name), Form("login name")]
RegistryHost = Annotated[str, BeforeValidator(_text), AfterValidator(_registry_host), Form("host[:port]")]
Port = Annotated[int, Field(ge=1, le=65535), Form("port 1-65535")]
PortRange = Annotated[str, BeforeValidator(_text), AfterValidator(_port_range), Form("low-high")]
GatewayPath = Annotated[str, BeforeValidator(_text), AfterValidator(_gateway_path), Form("Path predicate (/x/**)")]
AbsolutePath = Annotated[str, BeforeValidator(_text), AfterValidator(_absolute_path), Form("absolute path")]
Folder = Annotated[str, BeforeValidator(_text), AfterValidator(_folder), Form("folder (relative to the project)")]
ImageReference = Annotated[str, BeforeValidator(_text), AfterValidator(_image_reference), Form("image reference")]
ImagePath = Annotated[str, BeforeValidator(_text), AfterValidator(_image_path), Form("repository path")]
ImageDigest = Annotated[str, BeforeValidator(_text), AfterValidator(_image_digest), Form("sha256:<hex> digest")]
ImageTag = Annotated[str, BeforeValidator(_tag_text), AfterValidator(_image_tag), Form("image tag (quoted)")]
SshHostKey = Annotated[str, BeforeValidator(_text), AfterValidator(_ssh_host_key), Form("SSH host key (ssh-keyscan line)")]
JvmSize = Annotated[str, BeforeValidator(_text), AfterValidator(_jvm_size), Form("JVM size (512m, 1g)")]
KafkaPropertyValue = Annotated[object, BeforeValidator(_kafka_property_value), Form("number, true/false or text")]
