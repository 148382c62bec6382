"""The broker properties of the Kafka the stack runs, so `msa:kafka.overrides` is checked against them.

    venv/bin/python -m msa.config.kafka_names            # is the committed list the jars' list? (exit 1 if not)
    python3 tasks.py kafka-properties                     # regenerate it from tests/jvm/kafka/target/lib

`kafka-broker-properties.json` is generated, not written: tests/jvm/kafka/BrokerProperties.java prints
KafkaConfig.configDef() (name, type, range) from the Kafka jars Maven fetched for the tests, the same
Kafka (3.9.x) that cp-kafka 7.9 ships. tests/config/test_kafka_names.py regenerates it and fails on drift.

Why refuse a name Kafka does not know: the broker only logs "isn't a known config" and runs on
without the setting, so a typo (`log.retention.hour`) silently keeps the default.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

DATA = Path(__file__).with_name("kafka-broker-properties.json")
PROJECT = Path(__file__).resolve().parents[2]
GENERATOR = PROJECT / "tests" / "jvm" / "kafka" / "BrokerProperties.java"
JARS = PROJECT / "tests" / "jvm" / "kafka" / "target" / "lib"

# Names the broker hands to its plugins rather than parsing them itself, so they are not in
# KafkaConfig's definition: per-listener security settings (`listener.name.<listener>.<property>`),
# the remote storage plugins' default prefixes, JmxReporter's filters, and the authorizer's
# (AclAuthorizer/StandardAuthorizer) own settings.
PLUGIN_PREFIXES = ("listener.name.", "rsm.config.", "rlmm.config.", "metrics.jmx.")
PLUGIN_PROPERTIES = ("super.users", "allow.everyone.if.no.acl.found")
CONFLUENT_PREFIX = "confluent."

WHOLE_NUMBER_TYPES = ("INT", "LONG", "SHORT")


@lru_cache(maxsize=1)
def committed() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def kafka_version() -> str:
    return committed()["kafka"]


def properties() -> dict[str, dict[str, Any]]:
    return committed()["properties"]


def override_problem(key: str, value: Any, confluent_server: bool) -> Optional[str]:
    """Why `key: value` cannot be a broker property of the committed Kafka, or None."""
    version = kafka_version()
    if key.startswith(CONFLUENT_PREFIX):
        if confluent_server:
            return None  # Confluent Server's own properties are not in Apache Kafka's definition
        return (f"is a Confluent Server property; cp-kafka runs Apache Kafka {version}, which ignores it: "
                "use a cp-server image in msa:kafka.image or remove it")
    if key.startswith(PLUGIN_PREFIXES) or key in PLUGIN_PROPERTIES:
        return None
    known = properties().get(key)
    if known is None:
        close = difflib.get_close_matches(key, list(properties()), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see the broker configuration of Apache Kafka's documentation for the names"
        return f"is not a broker property of Kafka {version}; {hint}"
    kind = known["type"]
    if kind == "PASSWORD":
        return (f"is a password (type PASSWORD in Kafka {version}); overrides are plain text in the stack file and in "
                "the rendered objects, so a password does not belong here: remove it")
    number = _number(value, kind)
    if kind in WHOLE_NUMBER_TYPES + ("DOUBLE",) and number is None:
        wanted = "a number" if kind == "DOUBLE" else "a whole number"
        return f"{_shown(value)} is not {wanted} (Kafka {version} reads {key} as {kind}); use e.g. {_example(known)}"
    if kind == "BOOLEAN" and not (isinstance(value, bool) or str(value).lower() in ("true", "false")):
        return f"{_shown(value)} is not true or false (Kafka {version} reads {key} as BOOLEAN); use true or false"
    if number is not None:
        low, high = known.get("min"), known.get("max")
        if low is not None and number < low:
            return f"{_shown(value)} is below what Kafka {version} accepts for {key} (at least {low}); use at least {low}"
        if high is not None and number > high:
            return f"{_shown(value)} is above what Kafka {version} accepts for {key} (at most {high}); use at most {high}"
    return None


def _number(value: Any, kind: str) -> Optional[float]:
    if kind not in WHOLE_NUMBER_TYPES + ("DOUBLE",) or isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        return int(text) if kind in WHOLE_NUMBER_TYPES else float(text)
    except ValueError:
        return None


def _example(known: dict[str, Any]) -> str:
    low = known.get("min")
    return str(low if low is not None and low > 0 else 1)


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


# --- generating the list from the jars --------------------------------------------------------------

def _range(text: str) -> dict[str, int]:
    """ConfigDef.Range prints as [min,...], [...,max] or [min,...,max]."""
    parts = text.strip("[]").split(",")
    bounds = {}
    if parts[0] != "...":
        bounds["min"] = _whole(parts[0])
    if parts[-1] != "...":
        bounds["max"] = _whole(parts[-1])
    return bounds


def _whole(text: str) -> Any:
    number = float(text)
    return int(number) if number.is_integer() else number


def from_jars(jars: Path = JARS) -> dict[str, Any]:
    """KafkaConfig.configDef() of the jars in `jars`, as the committed JSON holds it."""
    if not jars.is_dir():
        raise FileNotFoundError(f"{jars} does not exist; build it: mvn -B -q -f tests/jvm/pom.xml package -DskipTests")
    printed = subprocess.run(
        ["java", "-Xmx128m", "-cp", f"{jars}{os.sep}*", str(GENERATOR)],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.splitlines()
    header, rows = printed[0].split("\t"), printed[1:]
    assert header[0] == "kafka", header
    props = {}
    for row in rows:
        name, kind, bounds = row.split("\t")
        props[name] = {"type": kind, **(_range(bounds) if bounds else {})}
    return {"kafka": header[1], "generator": "python3 tasks.py kafka-properties", "properties": props}


def as_text(data: dict[str, Any]) -> str:
    """One property per line, so a Kafka upgrade shows as a readable diff."""
    lines = [f'  "{name}": {json.dumps(spec)}' for name, spec in data["properties"].items()]
    return ("{\n"
            f'"kafka": {json.dumps(data["kafka"])},\n'
            f'"generator": {json.dumps(data["generator"])},\n'
            '"properties": {\n' + ",\n".join(lines) + "\n}\n}\n")


def main(argv: list[str]) -> int:
    generated = as_text(from_jars())
    if argv == ["--write"]:
        DATA.write_text(generated)
        print(f"{DATA.relative_to(PROJECT)}: Kafka {json.loads(generated)['kafka']}, {len(json.loads(generated)['properties'])} broker properties")
        return 0
    if generated != DATA.read_text():
        print(f"{DATA.relative_to(PROJECT)} differs from the jars in {JARS.relative_to(PROJECT)}: run python3 tasks.py kafka-properties",
              file=sys.stderr)
        return 1
    print(f"{DATA.relative_to(PROJECT)} is the jars' list")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
