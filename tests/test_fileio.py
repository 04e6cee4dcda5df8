"""Atomic writes (whole files, the user's umask, nothing left behind) and YAML errors in one line."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

from rlte.errors import RlteError
from rlte.fileio import atomic_write, atomic_write_text, read_yaml


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """``os.umask``, the process's umask put back after the test."""
    previous = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(previous)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027], ids=lambda mask: f"umask{mask:03o}")
def test_written_files_get_the_users_umask(tmp_path, umask, mask):
    umask(mask)
    text, binary = tmp_path / "results.csv", tmp_path / "sub" / "checkpoint.pt"
    atomic_write_text(text, "a,b\n")
    atomic_write(binary, lambda handle: handle.write(b"\x00\x01"), binary=True)
    assert mode(text) == mode(binary) == 0o666 & ~mask
    text.chmod(0o600)  # a new version of a file is a new file: the umask again
    atomic_write_text(text, "a,b\n1,2\n")
    assert mode(text) == 0o666 & ~mask and text.read_text() == "a,b\n1,2\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_checkpoints_get_the_users_umask(tmp_path, umask):
    torch = pytest.importorskip("torch")
    from rlte.agents.common.checkpoints import atomic_torch_save

    umask(0o022)
    path = tmp_path / "checkpoint.pt"
    atomic_torch_save({"weights": torch.zeros(2)}, path)
    assert mode(path) == 0o644
    assert torch.load(path, weights_only=True)["weights"].shape == (2,)


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "report.md"
    atomic_write_text(path, "old\n")

    def fail(handle):
        handle.write("half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a: [1\n", r"^{path}:2: not valid YAML \(expected ',' or '\]', but got '<stream end>'\)$"),
        (b"\x00\x01 binary", r"^{path}: not valid YAML \(unacceptable character #x0000: .*\)$"),
        (b"\xff\xfe\x00 binary", r"^{path}: not a text file \(not UTF-8\)$"),
        (b"day: 2020-02-30\n", r"^{path}: not valid YAML \(day is out of range for month\)$"),
    ],
    ids=["unclosed", "nul", "not-utf8", "bad-date"],
)
def test_yaml_errors_are_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    with pytest.raises(RlteError) as error:
        read_yaml(path)
    assert "\n" not in str(error.value)
    assert re.match(message.format(path=re.escape(str(path))), str(error.value)), error.value


def test_yaml_is_read_as_utf8(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes("description: débit, 95 % délai\n".encode())
    assert read_yaml(path) == {"description": "débit, 95 % délai"}
    with pytest.raises(RlteError, match=r"none\.yaml: no such spec file$"):
        read_yaml(tmp_path / "none.yaml", missing="no such spec file")
