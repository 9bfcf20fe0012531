"""``vsbench process`` as a user runs it: real command, real exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vsbench.corpus import load_truth, write_bad_inputs


def _vsbench(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "vsbench.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("bad,reason", [
    ("empty", "empty"),
    ("text", "not a video"),
    ("truncated", "truncated"),
    ("truncated_nomoov", "not a video"),
    ("audio_only", "no video stream"),
])
def test_bad_input_one_clear_line(tmp_path, bad, reason):
    path = write_bad_inputs(tmp_path)[bad]
    proc = _vsbench("process", str(path))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(path) in lines[0] and reason in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_missing_file(tmp_path):
    proc = _vsbench("process", str(tmp_path / "nope.mp4"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"vsbench process: error: {tmp_path / 'nope.mp4'}: no such " \
                                  "file; give the path of a video file"


@pytest.mark.slow
def test_process_prints_result_json(corpus_dir, tmp_path):
    video = corpus_dir / "short.mp4"
    out = tmp_path / "result.json"
    proc = _vsbench("process", str(video), "--query", "cup", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == result
    truth = load_truth(video)
    cup = next(s["index"] for s in truth["scenes"] if "cup" in s["labels"])
    assert result["status"] == "ok" and result["matches"][0]["clip"] == cup
    assert set(result) >= {"request_id", "status", "video", "clips", "matches", "timings"}
    assert set(result["clips"][0]) >= {"index", "start_s", "end_s", "transcript", "frames"}


def test_limits_odd_names_and_bad_config_are_one_clear_line(corpus_dir, tmp_path):
    odd = tmp_path / "my vidéo (1); $(touch x) 'n'.mp4"  # spaces, unicode, shell syntax
    odd.write_bytes((corpus_dir / "short.mp4").read_bytes())
    cases = [
        (["process", str(odd), "--max-duration-s", "1"], [str(odd), "more than the limit of 1 s",
                                                          "--max-duration-s"]),
        (["process", str(odd), "--max-mb", "0.001"], [str(odd), "MB is more than the limit",
                                                      "--max-mb"]),
        (["process", str(tmp_path)], [str(tmp_path), "not a regular file"]),
        (["process", str(odd), "--config", "{max_parallel_clips: 2"], ["--config is not JSON"]),
        (["process", str(odd), "--config", "[1, 2]"], ["--config must be a JSON object"]),
        (["process", str(odd), "--config", '{"stages": 5}'], ["'stages' must be an object"]),
    ]
    for args, words in cases:
        proc = _vsbench(*args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode != 0 and len(lines) == 1, (args, proc.stderr)
        assert all(w in lines[0] for w in words), (words, lines[0])
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "x").exists() and odd.exists()  # nothing ran, nothing was lost
