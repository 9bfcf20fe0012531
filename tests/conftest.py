"""Shared fixtures: an S3 server on loopback, the synthetic corpus, in-process stage calls."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"

# Set before any librosa import: reuse the JIT cache `vsbench setup` warmed.
from vsbench.paths import numba_cache_dir  # noqa: E402

os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
if "VSB_MODELS_DIR" not in os.environ and SHARED_MODELS.is_dir():
    os.environ["VSB_MODELS_DIR"] = str(SHARED_MODELS)


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    from vsbench.platform.s3server import S3Server

    with S3Server(tmp_path_factory.mktemp("s3")) as server:  # SeaweedFS, the default
        yield server


@pytest.fixture(scope="session")
def store(s3):
    from functions.runtime.claimcheck import ClaimCheckStore

    return ClaimCheckStore(s3.settings())


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """The corpus presets used by tests, generated once per session."""
    from vsbench.corpus import build_corpus

    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, presets=["short", "silent", "sample"])
    return out


_initialised: set[str] = set()


@pytest.fixture
def run_stage(store, tmp_path):
    """Call a function's handler in this process, as its replica would."""
    from functions.registry import load_handler
    from functions.runtime.context import InvocationContext
    from functions.runtime.envelope import Envelope
    from functions.runtime.telemetry import InvocationMeter

    def _run(function: str, inputs: dict, config: dict | None = None,
             request_id: str = "stage-test") -> tuple[dict, InvocationContext]:
        mod = load_handler(function)
        if function not in _initialised and hasattr(mod, "init"):
            mod.init({})
            _initialised.add(function)
        workdir = tmp_path / f"work-{function}"
        workdir.mkdir(exist_ok=True)
        ctx = InvocationContext(Envelope(request_id, function, inputs, config or {}), function,
                                store, workdir, InvocationMeter(), "test-replica")
        return mod.handle(ctx), ctx

    return _run


def wait_for(pred, timeout=15.0, what="condition"):
    """Poll ``pred`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _missing(reason: str, require: str = "VSB_REQUIRE_CONTAINERS",
             what: str = "container") -> None:
    """Skip, naming what is missing; in CI (``require`` set, e.g. VSB_REQUIRE_CONTAINERS=1)
    fail instead."""
    if os.environ.get(require):
        pytest.fail(f"{what} test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def podman():
    """podman with the base image (`vsbench setup --containers`), or skip saying what's missing."""
    from vsbench.errors import VsbError
    from vsbench.images import find_engine
    from vsbench.images.base import DEFAULT_BASE

    try:
        engine = find_engine("podman")
    except VsbError as exc:
        _missing(str(exc))
    if not engine.image_exists(DEFAULT_BASE):
        _missing(f"base image {DEFAULT_BASE} missing: run vsbench setup --containers")
    return engine


@pytest.fixture(scope="session")
def function_images(podman):
    """Every function's current image (`vsbench build --images`), or skip/fail."""
    from functions.registry import ALL_FUNCTIONS
    from vsbench.errors import VsbError
    from vsbench.images import image_for

    try:
        tags = {fn: image_for(fn) for fn in ALL_FUNCTIONS}
    except VsbError as exc:
        _missing(str(exc))
    absent = [t for t in tags.values() if not podman.image_exists(t)]
    if absent:
        _missing(f"images {absent} are not in podman's store: run vsbench build --images")
    return tags


def _cluster_missing(reason: str) -> None:
    _missing(reason, "VSB_REQUIRE_CLUSTER", "Kubernetes")


@pytest.fixture(scope="session")
def local_cluster():
    """The local cluster's kubeconfig: the one `vsbench cluster up` started, else one this
    session starts (root, binaries built by `vsbench setup --cluster`) and stops again."""
    from vsbench.cluster.build import binaries_present
    from vsbench.cluster.local import (
        cluster_status,
        cluster_up,
        kubeconfig_path,
        missing_host_tools,
    )
    from vsbench.cluster.teardown import cluster_down

    if cluster_status()["up"]:
        yield kubeconfig_path()
        return
    if os.geteuid() != 0:
        _cluster_missing("the local cluster needs root")
    if missing_host_tools() or not binaries_present():
        _cluster_missing("local cluster not set up: run vsbench setup --cluster")
    cluster_up(log=lambda *_: None)
    try:
        yield kubeconfig_path()
    finally:
        cluster_down(log=lambda *_: None)
