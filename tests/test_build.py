import json

import pytest

from vsbench import build


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VSB_HOME", str(tmp_path / "home"))
    return tmp_path


def test_build_records_a_fingerprint_and_reuses_it(home):
    rec = build.build_function("search")
    assert rec.image == f"vsbench/search:{rec.fingerprint[:12]}"
    assert "bytecode compiled" in rec.steps
    saved = json.loads((home / "home" / "builds" / "search.json").read_text())
    assert saved["fingerprint"] == rec.fingerprint and "boto3" in saved["packages"]
    assert build.current_build("search").fingerprint == rec.fingerprint


def test_fingerprint_follows_the_code(home, monkeypatch):
    extra = home / "extra.py"
    extra.write_text("x = 1\n")
    real_sources = build._sources
    monkeypatch.setattr(build, "_sources", lambda fn: [*real_sources(fn), extra])
    rec = build.build_function("search")
    extra.write_text("x = 2\n")
    assert build.current_build("search") is None  # stale: the code changed
    assert build.fingerprint("search")[0] != rec.fingerprint


def test_detector_fingerprint_includes_model_hash(home):
    _, _, models = build.fingerprint("object-detector")
    sha = "31cb14c017fce347cb4c846ec62fdf00d76bb3beecdf4be21e7116ac67feb880"
    assert models == {"fastestdet": sha}
