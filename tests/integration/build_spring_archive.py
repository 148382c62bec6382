#!/usr/bin/env python3
"""Build the Spring test apps' class-data sharing archives once per jar (spring_archive.py says why),
before the test run.

    venv/bin/python tests/integration/build_spring_archive.py      # nothing to do for a jar that has one

For each app jar: extract it into its cache folder, start it once from there up to the refreshed context
with `-XX:ArchiveClassesAtExit` (the JVM options the tests run it with), and rename the archive into place
last, so a half-written one is never used. A jar whose training fails keeps no archive and the tests run
that app from its fat jar; the script then exits 1 so .ci/run shows why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from integration.jvm_archive import QUIET_CDS  # noqa: E402
from integration.spring_apps import JARS, JVM_OPTS, jar_path  # noqa: E402
from integration.spring_archive import ARCHIVE, archive_folder  # noqa: E402


# What an app needs to start alone (the stack gives the config server the native profile and the config-repo).
TRAINING_PROPERTIES = {"config-server": lambda tmp: {"spring.profiles.active": "native",
                                                    "spring.cloud.config.server.native.search-locations": f"file:{tmp}/"}}


def prune(folder: Path) -> None:
    """Remove the archives of this jar's earlier builds (another key): ~100 MiB each, never used again."""
    stem = folder.name.rsplit("-", 1)[0]
    for old in folder.parent.glob(f"{stem}-*"):
        if old != folder and old.name.rsplit("-", 1)[0] == stem:
            shutil.rmtree(old, ignore_errors=True)


def build(app: str, jar: Path) -> str:
    folder = archive_folder(jar)
    prune(folder)
    if (folder / ARCHIVE).is_file():
        return f"{jar.name}: exists"
    start = time.monotonic()
    shutil.rmtree(folder, ignore_errors=True)        # what a failed or interrupted build left
    folder.mkdir(parents=True)
    subprocess.run(["java", "-Djarmode=tools", "-jar", str(jar), "extract", "--destination", str(folder / "app")],
                   check=True, capture_output=True, text=True, timeout=300)
    partial = folder / f"{ARCHIVE}.{uuid.uuid4().hex}.tmp"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRING_", "JAVA_TOOL_OPTIONS", "EUREKA_"))}
    with tempfile.TemporaryDirectory(prefix="msa-spring-archive-") as tmp:
        trained = subprocess.run(
            ["java", *JVM_OPTS, f"-XX:ArchiveClassesAtExit={partial}", *QUIET_CDS,
             "-Dspring.context.exit=onRefresh", "-Dserver.port=0", "-Dserver.address=127.0.0.1", "-Dspring.main.banner-mode=off",
             # Alone, without a config server: a client app's start must not insist on one (the tests' runs do).
             "-Dspring.cloud.config.import-check.enabled=false", f"-Djava.io.tmpdir={tmp}",
             *(f"-D{k}={v}" for k, v in TRAINING_PROPERTIES.get(app, lambda _: {})(tmp).items()),
             "-jar", str(folder / "app" / jar.name)],
            cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    if trained.returncode != 0 or not partial.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"{jar.name}: the training start exited {trained.returncode}:\n{trained.stdout[-3000:]}")
    partial.rename(folder / ARCHIVE)
    return f"{jar.name}: {(folder / ARCHIVE).stat().st_size >> 20} MiB in {time.monotonic() - start:.0f} s"


def main() -> int:
    failed = 0
    done = []
    for app in JARS:
        jar = jar_path(app)
        if not jar.is_file():
            print(f"{jar}: missing (mvn -f tests/jvm/pom.xml package)", file=sys.stderr)
            failed += 1
            continue
        try:
            done.append(build(app, jar))
        except (RuntimeError, subprocess.SubprocessError) as error:
            print(error, file=sys.stderr)
            failed += 1
    print(f"Spring archives in {archive_folder(jar_path(next(iter(JARS)))).parent}: " + "; ".join(done))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
