"""The class-data sharing (AppCDS) archive the test servers' and tools' JVMs map at start, when one exists.

Every Kafka, ZooKeeper and Kafka-tool JVM of the tests runs `java -cp tests/jvm/kafka/target/lib/* <main>`.
Most of a tool JVM's CPU (and a good share of a server start's) goes to loading and verifying the same few
thousand classes from those jars; a static archive of them, mapped instead, cuts that work. The archive is
built ONCE, before the tests, by `build_jvm_archive.py` (.ci/run runs it after Maven), never recorded
during a test run: a JVM recording an archive at exit once hung past its bound on a loaded machine.

It lives outside the repo (~/.cache/msa-ci/jvm-archive/<key>/), keyed by the java binary and every jar's
name, size and modification time (Maven's copy keeps the repository's mtimes, so a clean clone finds it):
the JVM itself refuses an archive whose class path changed, and a new jar set means a new key, so a stale
archive is simply not found. No archive, or one the JVM cannot map:
the JVMs start as before (`-Xshare:auto`, the cds log silenced so no warning reaches a tool's output).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "jvm" / "kafka" / "target" / "lib"
CI_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "msa-ci"
CACHE = CI_CACHE / "jvm-archive"
# The cds log silenced: a JVM that cannot map an archive starts without it and writes no warning into a
# tool's output (which the tests read).
QUIET_CDS = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")


def java_identity() -> tuple[str, str]:
    """The java binary an archive is made for: its resolved path and mtime ("-" when there is none)."""
    java = Path(shutil.which("java") or "java").resolve()
    return str(java), str(java.stat().st_mtime_ns) if java.exists() else "-"


def mapping_flags(archive: Path) -> list[str]:
    """The JVM flags that map `archive` when the JVM can, and start it without otherwise."""
    return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto", *QUIET_CDS]


def archive_key(lib: Path = LIB) -> str:
    """A digest of what the archive depends on: the java binary and every jar's name, size and mtime (what the
    JVM checks), not the folder's path: a clone elsewhere with the same jars finds the same archive."""
    parts = list(java_identity())
    for jar in sorted(lib.glob("*.jar")):
        st = jar.stat()
        parts.append(f"{jar.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def archive_dir(lib: Path = LIB) -> Path:
    """<key>/archive.jsa and <key>/lib, a copy of the jars: the JVM maps an archive only for the class path
    (folder path included) it was dumped with, so the JVMs run from this copy, the same at every clone's path."""
    return CACHE / archive_key(lib)


def _usable(lib: Path) -> Path | None:
    if os.environ.get("MSA_JVM_ARCHIVE") == "off" or not lib.is_dir():
        return None
    folder = archive_dir(lib)
    return folder if (folder / "archive.jsa").is_file() and (folder / "lib").is_dir() else None


def archived_lib(lib: Path = LIB) -> Path:
    """The jar folder the JVMs run from: the archive's copy of `lib` when there is an archive, else `lib`."""
    folder = _usable(lib)
    return folder / "lib" if folder else lib


def archive_flags(lib: Path = LIB) -> str:
    """The JVM flags that map the archive, or "" when none was built for this jar set."""
    folder = _usable(lib)
    if not folder:
        return ""
    return " ".join(mapping_flags(folder / "archive.jsa"))
