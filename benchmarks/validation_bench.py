#!/usr/bin/env python3
"""What validation costs, as a share of a render (not a test).

    venv/bin/python benchmarks/validation_bench.py [--runs N]

Per stack, medians over N runs after one warm-up, in-process:
- read:      Pulumi.<stack>.yaml read like the CLI (duplicate keys, line/column errors)
- validate:  every msa:* key parsed and checked: types, grammars, cross-key rules, reserved names,
             the address plan (config.parse_stack_config + the secret checks)
- render:    the whole offline render (the program under the mock runtime, writing the files),
             which includes read and validate once
and validation's share of the render: (read + validate) / render.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import render  # noqa: E402
from msa import config  # noqa: E402


def median_ms(action, runs: int) -> float:
    action()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def validate(stack: str) -> None:
    """What config.load does with the stack's values: namespaces, secrets, every key and rule."""
    values, secret_keys = render.load_stack_config(ROOT, stack)
    config.validate(values, lambda k: values.get(f"{config.PROJECT}:{k}"), lambda k: k in secret_keys, ROOT, stack)


def measure(stack: str, runs: int) -> tuple[float, float, float]:
    read = median_ms(lambda: render.load_stack_config(ROOT, stack), runs)
    read_and_validate = median_ms(lambda: validate(stack), runs)
    with tempfile.TemporaryDirectory() as tmp:
        whole = median_ms(lambda: render.render(stack, Path(tmp) / stack), runs)
    return read, read_and_validate - read, whole


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"{'stack':6} {'read ms':>8} {'validate ms':>12} {'render ms':>10} {'validation share':>17}")
    for stack in ("dev", "prod"):
        read, check, whole = measure(stack, args.runs)
        print(f"{stack:6} {read:>8.2f} {check:>12.2f} {whole:>10.1f} {(read + check) / whole:>16.1%}")


if __name__ == "__main__":
    main()
