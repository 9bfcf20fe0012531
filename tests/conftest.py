"""Shared fixtures: an S3 server on loopback, the synthetic corpus, in-process stage calls."""

from __future__ import annotations

import os
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

    with S3Server(log_dir=tmp_path_factory.mktemp("s3")) as server:
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
             request_id: str = "test-req") -> tuple[dict, InvocationContext]:
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
