#!/usr/bin/env python3
"""What mirroring a third-party image into Harbor costs (not a test; needs root, docker-registry, skopeo, umoci).

    venv/bin/python benchmarks/mirror_bench.py [--layer-mb N] [--runs N]

Two docker-registry instances on loopback (the upstream source, and "Harbor" with htpasswd auth), an
image whose layer holds N MB of random bytes (incompressible, like a JVM image's jars), and the very
script the stack renders for it. Prints the first copy's wall time and uploads, then the median wall
time of the re-runs and their uploads (0 blobs, 0 manifests expected) and requests to each registry.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from integration.harness import REGISTRY_NAME, Registry, build_oci_layout  # noqa: E402
from msa.config import StackConfig  # noqa: E402
from msa.images.mirror import mirror_script  # noqa: E402
from msa.mirror_plan import mirror_plans  # noqa: E402

USER, PASSWORD = "robot", "bench-Pa55word"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layer-mb", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msa-mirror-bench.") as tmp:
        work = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

            hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))
        upstream, harbor = Registry(work / "upstream"), Registry(work / "harbor", htpasswd=f"{USER}:{hashed}\n")
        try:
            layout = build_oci_layout(work / "image", "bench")
            bundle = work / "bundle"
            subprocess.run(["umoci", "unpack", "--image", f"{layout}:1.0", str(bundle)], check=True, capture_output=True)
            (bundle / "rootfs" / "payload.bin").write_bytes(os.urandom(args.layer_mb * 2**20))
            subprocess.run(["umoci", "repack", "--image", f"{layout}:1.0", str(bundle)], check=True, capture_output=True)
            subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:1.0",
                            f"docker://{upstream.address}/confluentinc/cp-kafka:7.9.1"], check=True)
            (work / "hosts").write_text(f"127.0.0.1 localhost\n127.0.0.1 {REGISTRY_NAME}\n")
            (work / "registries.conf").write_text(f'[[registry]]\nlocation = "{upstream.address}"\ninsecure = true\n')
            cfg = StackConfig.model_validate({
                "harbor": {"host": f"{REGISTRY_NAME}:{harbor.port}", "scheme": "http", "username": USER},
                "kafka": {"image": f"{upstream.address}/confluentinc/cp-kafka:7.9.1", "ui": {"enabled": False}},
                "services": {},
            })
            script = mirror_script(mirror_plans(cfg, work)["kafka"], cfg.harbor, work)
            inner = (f"mount --bind {work / 'hosts'} /etc/hosts && mount --bind {work / 'registries.conf'} /etc/containers/registries.conf "
                     "&& exec \"$@\"")
            command = ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", inner, "bash", "/bin/bash", "-c", script]
            env = {**os.environ, "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD}

            def run() -> tuple[float, dict, int, int]:
                h, u = len(harbor.requests()), len(upstream.requests())
                started = time.monotonic()
                subprocess.run(command, env=env, cwd=work, check=True, capture_output=True)
                return time.monotonic() - started, harbor.uploads(h), len(harbor.requests()) - h, len(upstream.requests()) - u

            first = run()
            again = [run() for _ in range(args.runs)]
            print(f"image: one {args.layer_mb} MiB layer (random) + busybox, linux/amd64, over loopback")
            print(f"first run (copy):   {first[0]:6.2f} s   uploads {first[1]}   requests: harbor {first[2]}, upstream {first[3]}")
            print(f"re-runs (no-op):    {statistics.median(r[0] for r in again):6.2f} s median of {args.runs}   "
                  f"uploads {again[-1][1]}   requests: harbor {again[-1][2]}, upstream {again[-1][3]}")
        finally:
            upstream.stop()
            harbor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
