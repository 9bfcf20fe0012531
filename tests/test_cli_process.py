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
