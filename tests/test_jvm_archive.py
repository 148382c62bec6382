"""The tests' JVM class-data sharing archive (integration/jvm_archive.py): found by jar set, never by path, and
a missing or switched-off archive leaves the JVMs' flags and class path as they were."""

import os
import shutil

import pytest

from integration import jvm_archive


@pytest.fixture
def jars(tmp_path, monkeypatch):
    monkeypatch.setattr(jvm_archive, "CACHE", tmp_path / "cache")
    monkeypatch.delenv("MSA_JVM_ARCHIVE", raising=False)
    lib = tmp_path / "clone-a" / "lib"
    lib.mkdir(parents=True)
    for name in ("kafka_2.13-3.9.1.jar", "zookeeper-3.8.4.jar"):
        (lib / name).write_bytes(name.encode())
    return lib


def _archive_for(lib):
    folder = jvm_archive.archive_dir(lib)
    shutil.copytree(lib, folder / "lib", copy_function=shutil.copy2)
    (folder / "archive.jsa").write_bytes(b"archive")
    return folder


def test_no_archive_no_flags_and_the_jars_where_they_are(jars):
    assert jvm_archive.archive_flags(jars) == ""
    assert jvm_archive.archived_lib(jars) == jars


def test_a_clone_elsewhere_with_the_same_jars_finds_the_archive_and_runs_from_its_copy(jars, tmp_path):
    folder = _archive_for(jars)
    other = tmp_path / "clone-b" / "lib"
    shutil.copytree(jars, other, copy_function=shutil.copy2)
    assert jvm_archive.archive_key(other) == jvm_archive.archive_key(jars)
    assert jvm_archive.archived_lib(other) == folder / "lib"
    flags = jvm_archive.archive_flags(other)
    assert f"-XX:SharedArchiveFile={folder / 'archive.jsa'}" in flags
    assert "-Xshare:auto" in flags and "-Xlog:cds=off" in flags   # a JVM that cannot map it starts without, silently


def test_a_changed_jar_is_another_key_so_a_stale_archive_is_not_used(jars):
    _archive_for(jars)
    jar = jars / "zookeeper-3.8.4.jar"
    jar.write_bytes(b"a newer build of it")
    os.utime(jar, (1, 1))
    assert jvm_archive.archive_flags(jars) == ""
    assert jvm_archive.archived_lib(jars) == jars


def test_switched_off(jars, monkeypatch):
    _archive_for(jars)
    monkeypatch.setenv("MSA_JVM_ARCHIVE", "off")
    assert jvm_archive.archive_flags(jars) == "" and jvm_archive.archived_lib(jars) == jars


# --- the Spring apps' archives (integration/spring_archive.py): found by the jar's bytes -----------------

@pytest.fixture
def spring_jar(tmp_path, monkeypatch):
    from integration import spring_archive

    monkeypatch.setattr(spring_archive, "CACHE", tmp_path / "cache")
    monkeypatch.delenv("MSA_JVM_ARCHIVE", raising=False)
    jar = tmp_path / "clone-a" / "target" / "spring-client.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"an executable jar")
    return jar


def test_a_spring_app_without_an_archive_runs_from_its_fat_jar(spring_jar):
    from integration.spring_archive import launch_args

    assert launch_args(spring_jar) == ["-jar", str(spring_jar)]


def test_a_clone_elsewhere_with_the_same_jar_runs_the_app_extracted_with_its_archive(spring_jar, tmp_path, monkeypatch):
    from integration.spring_archive import ARCHIVE, archive_folder, launch_args

    folder = archive_folder(spring_jar)
    (folder / "app").mkdir(parents=True)
    (folder / ARCHIVE).write_bytes(b"archive")
    other = tmp_path / "clone-b" / "target" / "spring-client.jar"
    other.parent.mkdir(parents=True)
    shutil.copy(spring_jar, other)                                  # a rebuild: same bytes, new mtime and path
    args = launch_args(other)
    assert args[-2:] == ["-jar", str(folder / "app" / "spring-client.jar")]
    assert f"-XX:SharedArchiveFile={folder / ARCHIVE}" in args and "-Xshare:auto" in args and "-Xlog:cds=off" in args
    monkeypatch.setenv("MSA_JVM_ARCHIVE", "off")
    assert launch_args(other) == ["-jar", str(other)]


def test_a_changed_spring_jar_is_another_key_so_its_stale_archive_is_not_used(spring_jar):
    from integration.spring_archive import ARCHIVE, archive_folder, launch_args

    folder = archive_folder(spring_jar)
    folder.mkdir(parents=True)
    (folder / ARCHIVE).write_bytes(b"archive")
    spring_jar.write_bytes(b"the app changed")
    assert launch_args(spring_jar) == ["-jar", str(spring_jar)]
