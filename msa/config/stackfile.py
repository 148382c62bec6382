"""`Pulumi.yaml` and `Pulumi.<stack>.yaml` as the Pulumi CLI reads and checks them (pure, no Pulumi).

The CLI decrypts every `secure:` value of the stack before the program starts; one value it cannot
decrypt fails every preview and up with `validating stack config: bad value` (passphrase/KMS) or a
base64 error (Pulumi Cloud), naming no key. So a value that is not ciphertext must never be committed.

Ciphertext forms (pulumi/pulumi sdk/go/common/resource/config/crypt.go and the secrets managers):
- passphrase and cloud KMS (`secretsprovider: awskms://…`, `gcpkms://…`, `azurekeyvault://…`,
  `hashivault://…`): `v1:<base64 12-byte nonce>:<base64 AES-256-GCM ciphertext>`; the file also holds
  `encryptionsalt: v1:…` (passphrase) or `secretsprovider` + `encryptedkey` (KMS).
- Pulumi Cloud (the default with `pulumi login`): base64 of the service's ciphertext, no prefix.

Reading the files (render.py and the tests; under `pulumi up` the CLI reads them itself and hands the
program PULUMI_CONFIG), the way the CLI does:
- its YAML parser (go-yaml v3) refuses a mapping with the same key twice ("already defined at line N");
- a top-level config value reaches the program as text (`brokers: 3` -> "3", an empty value -> ""),
  an object or list as JSON with its numbers and booleans kept; timestamps are not special;
- every problem is one `StackFileError` line naming the file, and line:column where known.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16


def secure_values(config: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(key path, value) of every `{secure: value}` in a stack file's `config:` (nested ones too:
    `pulumi config set --path --secret` puts them inside objects)."""
    if isinstance(config, dict):
        if set(config) == {"secure"}:
            yield path, config["secure"]
            return
        for key, value in config.items():
            yield from secure_values(value, f"{path}.{key}" if path else str(key))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from secure_values(value, f"{path}[{i}]")


def _b64(text: str) -> Optional[bytes]:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def ciphertext_problem(value: Any, stack_file: dict) -> Optional[str]:
    """Why the CLI could not decrypt `value` with the stack's secrets provider; None when it is ciphertext."""
    if not isinstance(value, str) or not value:
        return "is empty or not a string"
    symmetric = bool(stack_file.get("encryptionsalt") or stack_file.get("encryptedkey"))
    if value.startswith("v1:"):
        parts = value.split(":")
        nonce, sealed = (_b64(parts[1]), _b64(parts[2])) if len(parts) == 3 else (None, None)
        if nonce is None or sealed is None or len(nonce) != GCM_NONCE_BYTES or len(sealed) < GCM_TAG_BYTES:
            return "is not v1:<base64 nonce>:<base64 ciphertext>, so no passphrase or KMS key decrypts it"
        if not symmetric:
            return "is passphrase/KMS ciphertext but the file has no encryptionsalt or encryptedkey to decrypt it with"
        return None
    if symmetric:
        return "is not v1:... ciphertext, which is what this stack's passphrase/KMS secrets provider writes"
    if _b64(value) is None or len(_b64(value) or b"") < GCM_TAG_BYTES:
        return "is not base64 ciphertext of the Pulumi Cloud secrets provider"
    return None


def stack_file_problems(stack_file: dict) -> list[str]:
    """One line per undecryptable `secure:` value: `<key>: <problem>`."""
    problems = []
    for key, value in secure_values(stack_file.get("config") or {}):
        problem = ciphertext_problem(value, stack_file)
        if problem is not None:
            nested = "--path " if any(c in key.partition(":")[2] for c in ".[") else ""
            problems.append(f"{key}: secure value {problem}; set it again with: pulumi config set {nested}--secret '{key}'")
    return problems


# --- reading Pulumi.yaml and Pulumi.<stack>.yaml ----------------------------------------------------

class StackFileError(Exception):
    """A stack or project file cannot be read; the text names the file (and line:column)."""


class _CliLikeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser where present: 5x faster
    """SafeLoader that refuses duplicate keys and leaves timestamps as text, like go-yaml v3."""


_CliLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mapping_without_duplicates(loader: _CliLikeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, (dict, list)):
            raise StackFileError(f"{line}:{key_node.start_mark.column + 1}: a mapping key must be a plain value")
        if key in seen:
            raise StackFileError(
                f"{line}:{key_node.start_mark.column + 1}: duplicate key {key!r} (first at line {seen[key]}); "
                "the Pulumi CLI refuses a key written twice: keep one"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_CliLikeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _load(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise StackFileError(f"{path.name}: cannot be read ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_CliLikeLoader)
    except StackFileError as exc:
        raise StackFileError(f"{path.name}:{exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise StackFileError(f"{path.name}{where}: {problem}; the file is not valid YAML") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})") from None


def load_document(path: Path) -> Any:
    """A Pulumi YAML file parsed the way the CLI parses it (a key written twice is refused, no timestamps)."""
    return _load(path)


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", dict: "a mapping"}.get(type(value), f"{json.dumps(value, default=str)}")


def _json(value: Any) -> str:
    # YAML keys may be numbers or booleans; JSON object keys are text, as the CLI writes them.
    def keys_as_text(v: Any) -> Any:
        if isinstance(v, dict):
            return {_scalar_text(k): keys_as_text(x) for k, x in v.items()}
        if isinstance(v, list):
            return [keys_as_text(x) for x in v]
        return v
    return json.dumps(keys_as_text(value), default=str)


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_text(value: Any) -> str:
    """How the Pulumi CLI hands a stack-file value to a program: objects as JSON, scalars as text."""
    if isinstance(value, (dict, list)):
        return _json(value)
    return _scalar_text(value)


def project_file(project_dir: Path) -> dict:
    """Pulumi.yaml as a mapping; every problem is blamed on Pulumi.yaml."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise StackFileError(f"Pulumi.yaml not found in {project_dir}; run render.py from the project folder (the one with Pulumi.yaml)")
    project = _load(path)
    if not isinstance(project, dict):
        raise StackFileError(f"Pulumi.yaml: expected a mapping with name, runtime and config, got {_kind(project)}")
    if not isinstance(project.get("name", ""), str) or not project.get("name"):
        raise StackFileError("Pulumi.yaml: name: the project needs a name (msa)")
    if not isinstance(project.get("config") or {}, dict):
        raise StackFileError(f"Pulumi.yaml: config: expected a mapping of key declarations, got {_kind(project['config'])}")
    return project


def stack_names(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def read_stack_config(project_dir: Path, stack: str, secret_placeholder: str) -> tuple[dict[str, str], list[str]]:
    """`Pulumi.<stack>.yaml` plus the project's declared defaults, as (config texts, secret keys)."""
    project = project_file(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackFileError(f"{path.name} not found; stacks here: {', '.join(stack_names(project_dir)) or 'none'}")
    document = _load(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise StackFileError(f"{path.name}: expected a mapping with a `config:` key, got {_kind(document)}")
    values = document.get("config")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise StackFileError(f"{path.name}: config: expected a mapping of `msa:<key>: value`, got {_kind(values)}")
    # The CLI would fail on these before the program runs, naming no key: say which one, here.
    problems = stack_file_problems(document)
    if problems:
        raise StackFileError(f"{path.name}: {problems[0]}")

    name = project["name"]
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, decl in (project.get("config") or {}).items():
        if isinstance(decl, dict) and "default" in decl:
            config[f"{name}:{key}"] = config_text(decl["default"])
    for key, value in values.items():
        key = _scalar_text(key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = secret_placeholder
            secret_keys.append(key)
        else:
            config[key] = config_text(value)
    return config, secret_keys

