"""run_experiment's three steps (prepare, run, process) remove their scratch folder on
every path: success, a failure in any step, KeyboardInterrupt (what SIGTERM becomes)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

import vsbench.build
import vsbench.corpus
import vsbench.platform.daemon
from vsbench.errors import VsbError
from vsbench.experiment import Experiment, ExperimentSpec, run_experiment

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """No build, a dummy video, a platform that records its stop; scratch folders in
    tmp_path/tmp so the test can see every one of them."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(vsbench.build, "ensure_built", lambda fns: {})
    monkeypatch.setattr(vsbench.build, "deploy_images", lambda fns, host: dict.fromkeys(fns))

    def video(name, out_dir, **kw):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / f"{name}.mp4").write_bytes(b"")
        return Path(out_dir) / f"{name}.mp4"

    monkeypatch.setattr(vsbench.corpus, "generate_preset", video)
    monkeypatch.setattr(vsbench.corpus, "cache_dir", lambda: tmp_path / "corpus")
    downs: list[Path] = []
    monkeypatch.setattr(vsbench.platform.daemon, "platform_up", lambda *a, **k: {})
    monkeypatch.setattr(vsbench.platform.daemon, "platform_down", downs.append)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["workloads"] = {"tiny": {"pattern": "steady", "rate": 1.0, "duration_s": 2}}
    spec = ExperimentSpec("warm", "tiny", 1, tmp_path / "out")
    return config, spec, scratch, downs


def _raise(exc):
    def f(*a, **k):
        raise exc
    return f


@pytest.mark.parametrize("exc", [RuntimeError("no platform"), KeyboardInterrupt()])
def test_platform_up_failing_leaves_no_scratch_folder(fake, monkeypatch, exc):
    config, spec, scratch, downs = fake
    monkeypatch.setattr(vsbench.platform.daemon, "platform_up", _raise(exc))
    with pytest.raises(type(exc)):
        run_experiment(config, spec)
    assert len(downs) == 1 and downs[0].name == "platform"  # stopped all the same
    assert list(scratch.iterdir()) == []
    assert not (spec.out_root / "raw").exists()


def test_prepare_failing_after_the_scratch_folder_leaves_none(fake, monkeypatch):
    config, spec, scratch, downs = fake
    monkeypatch.setattr(vsbench.corpus, "generate_preset", _raise(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, spec)
    assert list(scratch.iterdir()) == [] and downs == []


@pytest.mark.parametrize("exc", [None, VsbError("incomplete"), KeyboardInterrupt()])
def test_process_outcome_leaves_no_scratch_folder(fake, monkeypatch, exc):
    config, spec, scratch, downs = fake
    seen = {}

    def process(self):
        seen["video"] = self.video.is_file()  # the video (and its truth) is still there
        if exc is not None:
            raise exc
        return self.out

    monkeypatch.setattr(Experiment, "_send", lambda self: None)
    monkeypatch.setattr(Experiment, "process", process)
    if exc is None:
        out = run_experiment(config, spec)
        assert out.parts[-4:] == ("embedded", "warm", "tiny", "rep1")
    else:
        with pytest.raises(type(exc)):
            run_experiment(config, spec)
    assert seen == {"video": True} and len(downs) == 1
    assert list(scratch.iterdir()) == []


def test_the_steps_record_their_phases(fake, monkeypatch):
    config, spec, scratch, downs = fake
    monkeypatch.setattr(Experiment, "_send", lambda self: None)
    exp = Experiment(config, spec)
    try:
        exp.prepare()
        assert exp.work is not None and exp.work.parent == scratch
        exp.run()
    finally:
        exp.cleanup()
    assert list(exp.phases) == ["build", "corpus", "platform_up", "platform_down"]
    assert exp.work is None and list(scratch.iterdir()) == []
    assert len(exp.schedule) > 0


def test_the_corpus_cache_follows_the_generator_and_its_config(tmp_path, monkeypatch):
    monkeypatch.setenv("VSB_HOME", str(tmp_path))
    config = tmp_path / "corpus.yaml"
    config.write_text(vsbench.corpus.DEFAULT_CONFIG.read_text())
    a = vsbench.corpus.cache_dir(config)
    assert a.parent == tmp_path / "corpus" and a == vsbench.corpus.cache_dir(config)
    config.write_text(config.read_text() + "\n# changed\n")
    assert vsbench.corpus.cache_dir(config) != a
