"""Read `Pulumi.yaml` and `Pulumi.<stack>.yaml` the way the Pulumi CLI reads them (pure, no Pulumi).

Only render.py and the tests need this: under `pulumi up` the CLI reads the files itself and hands
the program the result as PULUMI_CONFIG. What the CLI does, and so what this does:
- its YAML parser (go-yaml v3) refuses a mapping with the same key twice ("already defined at line N");
- a top-level config value reaches the program as the text written in the file (`brokers: 3` -> "3",
  an empty value -> ""), an object or list as JSON with its numbers and booleans kept;
- timestamps are not special (`2024-01-01` stays text);
- `{secure: ...}` is a secret; render.py never decrypts it and passes a placeholder.
Every problem is one `StackFileError` line that names the file, and the line and column where known.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


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

