"""Tests for functions.models: registry, sha256 checks, download via a local HTTP server.

The only network traffic is to a throwaway http.server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `pytest` works from any folder without an install
    sys.path.insert(0, str(ROOT))

from functions import models  # noqa: E402
from functions.models import COCO80, ModelError, ModelFile, ModelSpec  # noqa: E402

SHARED_MODELS = ROOT.parent / "shared" / "models"


def _find_shared_models() -> Path | None:
    for cand in (os.environ.get(models.ENV_MODELS_DIR), SHARED_MODELS):
        if cand and (Path(cand) / "fastestdet" / "FastestDet.onnx").is_file():
            return Path(cand)
    return None


@pytest.fixture
def shared_models(monkeypatch) -> Path:
    found = _find_shared_models()
    if found is None:
        pytest.skip(f"FastestDet not found via ${models.ENV_MODELS_DIR} or at {SHARED_MODELS}")
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(found))
    return found


# --- registry and paths -----------------------------------------------------------


def test_coco80_matches_shared_coco_names(shared_models):
    names_file = shared_models / "fastestdet" / "coco.names"
    if not names_file.is_file():
        pytest.skip(f"{names_file} not present")
    shipped = [ln.strip() for ln in names_file.read_text().splitlines() if ln.strip()]
    assert list(COCO80) == shipped


def test_coco80_is_darknet_order():
    assert len(COCO80) == 80 and len(set(COCO80)) == 80
    for name in ("motorbike", "sofa", "tvmonitor", "aeroplane", "diningtable", "pottedplant"):
        assert name in COCO80
    assert (
        COCO80[0] == "person"
        and COCO80[15] == "cat"
        and COCO80[41] == "cup"
        and COCO80[3] == "motorbike"
    )


def test_registry_entries_are_well_formed():
    for name, spec in models.REGISTRY.items():
        assert spec.name == name and spec.files
        for f in spec.files:
            if f.sha256 is not None:
                assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0
                assert f.url and "/raw/" in f.url  # pinned blob URL
    fd = models.REGISTRY["fastestdet"].files[0]
    assert "97df0a850c4949dcd7d9abf9c539679eee6b6a90" in fd.url
    assert (
        models.REGISTRY["yolov4-tiny"].optional
        and models.REGISTRY["yolov4-tiny"].files[0].sha256 is None
    )


def test_models_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path / "m"))
    assert models.models_dir() == tmp_path / "m"
    monkeypatch.delenv(models.ENV_MODELS_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.models_dir() == tmp_path / "xdg" / "vsbench" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.models_dir() == tmp_path / "home" / ".cache" / "vsbench" / "models"


def test_model_path_and_unknown_name(monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    assert models.model_path("fastestdet") == tmp_path / "fastestdet" / "FastestDet.onnx"
    with pytest.raises(ModelError, match="unknown model 'nope'.*fastestdet"):
        models.model_path("nope")


# --- verification of present files ------------------------------------------------


def test_shared_fastestdet_verifies(shared_models):
    path = models.ensure_model("fastestdet", download=False)
    assert path == shared_models / "fastestdet" / "FastestDet.onnx"
    assert path.stat().st_size == models.REGISTRY["fastestdet"].files[0].size


def test_tampered_copy_is_rejected(shared_models, monkeypatch, tmp_path):
    dest = tmp_path / "fastestdet" / "FastestDet.onnx"
    dest.parent.mkdir()
    shutil.copyfile(shared_models / "fastestdet" / "FastestDet.onnx", dest)
    with open(dest, "r+b") as f:  # flip one byte in the middle
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0xFF]))
    actual = hashlib.sha256(dest.read_bytes()).hexdigest()
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    with pytest.raises(ModelError) as exc:
        models.ensure_model("fastestdet")  # download=True, but a present file is never replaced
    msg = str(exc.value)
    assert (
        str(dest) in msg and models.REGISTRY["fastestdet"].files[0].sha256 in msg and actual in msg
    )
    assert "Delete it" in msg


def test_verify_all_reports_without_raising(shared_models, monkeypatch, tmp_path):
    ok = models.verify_all()
    assert set(ok) == {"fastestdet"} and isinstance(ok["fastestdet"], Path)
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    bad = models.verify_all(include_optional=True)
    assert set(bad) == {"fastestdet", "yolov4-tiny"}
    assert all(isinstance(v, ModelError) for v in bad.values())


def test_missing_without_download(monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    with pytest.raises(ModelError, match="missing and downloading is off"):
        models.ensure_model("fastestdet", download=False)


# --- unpinned model (yolov4-tiny) ------------------------------------------------


def test_unpinned_model_is_never_downloaded(monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    monkeypatch.delenv(models.ENV_TRUST_UNVERIFIED, raising=False)
    with pytest.raises(ModelError, match="no pinned sha256.*yolov4-tiny.onnx") as exc:
        models.ensure_model("yolov4-tiny", trust_unverified=True)
    assert models.ENV_MODELS_DIR in str(exc.value)


def test_unpinned_present_file_needs_trust(monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    monkeypatch.delenv(models.ENV_TRUST_UNVERIFIED, raising=False)
    dest = tmp_path / "yolov4-tiny" / "yolov4-tiny.onnx"
    dest.parent.mkdir()
    dest.write_bytes(b"user supplied")
    with pytest.raises(ModelError, match="no pinned sha256") as exc:
        models.ensure_model("yolov4-tiny")
    assert hashlib.sha256(b"user supplied").hexdigest() in str(exc.value)  # so the user can pin it
    assert models.ensure_model("yolov4-tiny", trust_unverified=True) == dest
    monkeypatch.setenv(models.ENV_TRUST_UNVERIFIED, "1")
    assert models.ensure_model("yolov4-tiny") == dest


# --- downloads from a local server -------------------------------------------------

PAYLOAD = b"not really an onnx model\n" * 1000


class _Server:
    """A quiet http.server on 127.0.0.1 serving one folder, counting GETs."""

    def __init__(self, root: Path):
        root_str = str(root)
        counter = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=root_str, **kw)

            def do_GET(self):
                counter.gets += 1
                super().do_GET()

            def log_message(self, *a):  # keep pytest output clean
                pass

        self.gets = 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "toy.onnx").write_bytes(PAYLOAD)
    srv = _Server(root)
    yield srv
    srv.close()


def _register_toy(monkeypatch, url: str, sha: str | None = None) -> None:
    spec = ModelSpec(
        name="toy",
        kind="fastestdet",
        licence="test",
        files=(
            ModelFile("toy.onnx", url, sha or hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD)),
        ),
    )
    monkeypatch.setitem(models.REGISTRY, "toy", spec)


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")] if folder.exists() else []


def test_download_verifies_and_renames(server, monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path / "models"))
    _register_toy(monkeypatch, f"{server.url}/toy.onnx")
    path = models.ensure_model("toy")
    assert path == tmp_path / "models" / "toy" / "toy.onnx"
    assert path.read_bytes() == PAYLOAD and server.gets == 1
    assert _leftovers(path.parent) == []
    assert (
        models.ensure_model("toy") == path and server.gets == 1
    )  # present: verified, not re-fetched


def test_download_with_wrong_hash_is_discarded(server, monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path / "models"))
    _register_toy(monkeypatch, f"{server.url}/toy.onnx", sha="0" * 64)
    with pytest.raises(ModelError, match="expected 0{64}.*discarded") as exc:
        models.ensure_model("toy")
    assert hashlib.sha256(PAYLOAD).hexdigest() in str(exc.value)
    folder = tmp_path / "models" / "toy"
    assert not (folder / "toy.onnx").exists() and _leftovers(folder) == []


def test_download_http_error_names_url(server, monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path / "models"))
    url = f"{server.url}/missing.onnx"
    _register_toy(monkeypatch, url)
    with pytest.raises(ModelError) as exc:
        models.ensure_model("toy")
    assert url in str(exc.value) and models.ENV_MODELS_DIR in str(exc.value)
    assert _leftovers(tmp_path / "models" / "toy") == []


def test_download_connection_refused(monkeypatch, tmp_path):
    with socket.socket() as s:  # grab a free port, then close it so nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path / "models"))
    url = f"http://127.0.0.1:{port}/toy.onnx"
    _register_toy(monkeypatch, url)
    with pytest.raises(ModelError, match="could not download model toy") as exc:
        models.ensure_model("toy", timeout=5)
    assert url in str(exc.value) and models.ENV_MODELS_DIR in str(exc.value)
