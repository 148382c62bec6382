"""Class-data sharing (AppCDS) for the Spring test apps, when an archive was built for their jars.

A Spring Boot app spends most of its start loading classes, and from an executable ("fat") jar each class
is read from a jar nested in the jar. Each app here runs instead from its extracted form (Spring Boot's
`java -Djarmode=tools -jar app.jar extract`: the app's classes in one jar, its libraries in lib/ beside it)
with a dynamic AppCDS archive trained on it: one start up to the refreshed context
(`-Dspring.context.exit=onRefresh`, `-XX:ArchiveClassesAtExit`). Measured on the Eureka server, CPU to a
refreshed context: fat jar 7.6 s, extracted 4.9 s, extracted with the archive 3.2 s.

Built once per jar before the tests (`build_spring_archive.py`; .ci/run runs it beside the Kafka
archive), never during a test. It lives outside the repo (~/.cache/msa-ci/spring-archive/<jar>-<key>/),
keyed by the jar's bytes and the java binary: the JVM maps an archive only for the class path it was
trained on, so the apps run from the extracted jars in that folder. The Maven build is reproducible
(project.build.outputTimestamp), so every clean clone finds the same folder. No archive for a jar (not
built, or its training failed): that app runs from its fat jar, as before.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from integration.jvm_archive import CI_CACHE, java_identity, mapping_flags

CACHE = CI_CACHE / "spring-archive"
ARCHIVE = "app.jsa"


@functools.cache
def _key(jar: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256(f"{':'.join(java_identity())}\n".encode())
    with open(jar, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:24]


def archive_folder(jar: Path) -> Path:
    """<jar stem>-<key>/: app/<jar name> + app/lib/ (the extracted jar) and app.jsa (the archive)."""
    st = jar.stat()
    return CACHE / f"{jar.stem}-{_key(jar, st.st_size, st.st_mtime_ns)}"


def launch_args(jar: Path) -> list[str]:
    """What follows the JVM options on an app's command line: the archive and the extracted jar when there
    is an archive for this jar, else `-jar <fat jar>`."""
    if os.environ.get("MSA_JVM_ARCHIVE") != "off" and jar.is_file():
        folder = archive_folder(jar)
        if (folder / ARCHIVE).is_file():
            return [*mapping_flags(folder / ARCHIVE), "-jar", str(folder / "app" / jar.name)]
    return ["-jar", str(jar)]
