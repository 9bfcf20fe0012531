"""Function images: fingerprints, pinned packages, real builds with podman, clear errors.

The build tests need podman and the base image (`vsbench setup --containers`, which .ci/run
runs); without them they skip and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vsbench.images import build as images

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """A private copy of functions/ that the image build reads instead of the real one."""
    shutil.copytree(REPO / "functions", tmp_path / "functions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(images, "REPO", tmp_path)
    monkeypatch.setattr(images, "image_records_dir", lambda: tmp_path / "records")
    return tmp_path


def test_pins_are_the_host_versions_and_layers_split_runtime_from_function():
    from importlib import metadata

    runtime, own = images.image_pins("object-detector")
    assert runtime["boto3"] == metadata.version("boto3")
    assert own["onnxruntime"] == metadata.version("onnxruntime")
    assert "boto3" not in own and "botocore" in runtime  # the closure, not just direct deps
    assert images.image_pins("search")[1] == {}


def test_fingerprint_follows_only_the_functions_own_code(repo_copy):
    before = {fn: images.image_fingerprint(fn, "base1") for fn in ("ffmpeg-0", "ffmpeg-1")}
    handler = repo_copy / "functions" / "ffmpeg_0" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert images.image_fingerprint("ffmpeg-0", "base1") != before["ffmpeg-0"]
    assert images.image_fingerprint("ffmpeg-1", "base1") == before["ffmpeg-1"]
    # the shared runtime and the base are in every image
    assert images.image_fingerprint("ffmpeg-1", "base2") != before["ffmpeg-1"]
    runtime = repo_copy / "functions" / "runtime" / "envelope.py"
    runtime.write_text(runtime.read_text() + "\n# changed\n")
    assert images.image_fingerprint("ffmpeg-1", "base1") != before["ffmpeg-1"]


def test_containerfile_env_matches_the_process_replica_env():
    """Images bake in what process replicas get from vsbench.paths.function_env."""
    from vsbench.paths import function_env

    text = images.CONTAINERFILE.read_text()
    for key, value in function_env().items():
        if key == "NUMBA_CACHE_DIR":
            continue  # a path inside the image
        assert f"{key}={value}" in text, key


@pytest.mark.slow
def test_second_build_is_a_no_op_and_a_changed_handler_rebuilds_only_its_image(repo_copy,
                                                                               podman):
    engine = podman
    first = {fn: images.build_image(fn, engine) for fn in ("noop", "search")}
    again = {fn: images.build_image(fn, engine) for fn in ("noop", "search")}
    assert all(not rec.built for rec in again.values())
    assert {fn: r.tag for fn, r in again.items()} == {fn: r.tag for fn, r in first.items()}
    handler = repo_copy / "functions" / "noop" / "handler.py"
    handler.write_text(handler.read_text() + "\nCHANGED = True\n")
    try:
        noop = images.build_image("noop", engine)
        search = images.build_image("search", engine)
        assert noop.built and noop.tag != first["noop"].tag
        assert not search.built and search.tag == first["search"].tag
        # the new image runs the changed code, and shares every layer below the code with
        # the first one (base, venv, packages)
        out = subprocess.run([engine.exe, "run", "--rm", "--network", "none", "--entrypoint",
                              "python", noop.tag, "-c",
                              "import functions.noop.handler as h; print(h.CHANGED)"],
                             capture_output=True, text=True, timeout=120)
        assert out.stdout.strip() == "True", out.stderr
        assert noop.size_mb > 0 and len(noop.layers) >= 8
    finally:
        if not first["noop"].tag == images.image_tag("noop", noop.fingerprint):
            engine.remove_image(images.image_tag("noop", noop.fingerprint))


@pytest.mark.slow
def test_image_carries_its_function_and_its_verified_model(podman):
    engine = podman
    rec = images.build_image("object-detector", engine)
    out = subprocess.run(
        [engine.exe, "run", "--rm", "--network", "none", "--entrypoint", "python", rec.tag,
         "-c", "import os; from functions.models import ensure_model; "
               "print(os.environ['VSB_FUNCTION'], ensure_model('fastestdet', download=False))"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["object-detector",
                                  "/opt/vsbench/models/fastestdet/FastestDet.onnx"]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vsbench.cli", *args], capture_output=True,
                          text=True, timeout=600, env=env or dict(os.environ), cwd=REPO)


def test_missing_engine_is_one_clear_line(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no podman, no docker
    proc = _cli("build", "--images", "noop", env=env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "podman is not installed" in proc.stderr and "vsbench setup --containers" in proc.stderr


def test_unknown_function_and_missing_base_are_one_clear_line():
    proc = _cli("build", "--images", "nope")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "unknown function 'nope'" in proc.stderr
    if shutil.which("podman"):
        proc = _cli("build", "--images", "noop", "--base", "localhost/vsbench/no-such-base:1")
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1
        assert "base image localhost/vsbench/no-such-base:1 is not in podman's store" in proc.stderr


@pytest.mark.slow
def test_a_failed_build_step_is_one_clear_line(tmp_path, monkeypatch, podman):
    engine = podman
    broken = tmp_path / "Containerfile"
    broken.write_text(images.CONTAINERFILE.read_text().replace(
        "RUN python3 -m venv /opt/venv", "RUN python3 -m venv /opt/venv && false"))
    monkeypatch.setattr(images, "CONTAINERFILE", broken)
    monkeypatch.setattr(images, "image_records_dir", lambda: tmp_path / "records")
    from vsbench.errors import VsbError

    with pytest.raises(VsbError) as err:
        images.build_image("noop", engine)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("podman build failed (image of noop)")
    assert 'STEP "RUN python3 -m venv /opt/venv && false"' in msg and "exit status 1" in msg
