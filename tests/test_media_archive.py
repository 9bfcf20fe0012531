import io
import tarfile

import pytest

from functions.runtime.errors import BadInput
from functions.runtime.media import safe_extract, write_tar


def _tar_with(tmp_path, name: str, kind=tarfile.REGTYPE, linkname: str = ""):
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        data = b"pwned"
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/tmp/abs-escape.txt"])
def test_safe_extract_refuses_escaping_members(tmp_path, name):
    archive = _tar_with(tmp_path, name)
    target = tmp_path / "out"
    with pytest.raises(BadInput, match="escapes the target folder"):
        safe_extract(archive, target)
    assert not (tmp_path / "escape.txt").exists()
    assert list(target.iterdir()) == []


def test_safe_extract_refuses_links(tmp_path):
    archive = _tar_with(tmp_path, "link", kind=tarfile.SYMTYPE, linkname="/etc/passwd")
    with pytest.raises(BadInput, match="link or device"):
        safe_extract(archive, tmp_path / "out")


def test_round_trip(tmp_path):
    files = []
    for i in range(3):
        p = tmp_path / f"frame-{i}.jpg"
        p.write_bytes(bytes([i]) * 10)
        files.append(p)
    archive = write_tar(files, tmp_path / "frames.tar")
    out = safe_extract(archive, tmp_path / "x")
    assert sorted(p.name for p in out) == ["frame-0.jpg", "frame-1.jpg", "frame-2.jpg"]
    assert (tmp_path / "x" / "frame-2.jpg").read_bytes() == bytes([2]) * 10


def test_not_a_tar(tmp_path):
    bad = tmp_path / "x.tar"
    bad.write_bytes(b"not a tar at all" * 10)
    with pytest.raises(BadInput, match="not a tar"):
        safe_extract(bad, tmp_path / "out")
