"""Scratch folders: removed by their run; swept by the next run when their run was killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from vsbench.scratch import OWNER_LOCK, PREFIX, UNLOCKED_MAX_AGE_S, Scratch, sweep_stale


def test_a_live_run_s_folder_is_kept_a_dead_one_swept(tmp_path):
    live = Scratch(tmp_path)
    (live.path / "platform").mkdir()
    # a run killed by SIGKILL: its process held the lock, then died without removing
    code = ("import time; from vsbench.scratch import Scratch; "
            f"s = Scratch({str(tmp_path)!r}); print(s.path, flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    dead = proc.stdout.readline().strip()
    assert sweep_stale(tmp_path) == []  # both owners alive
    proc.kill()
    proc.wait()
    assert [str(p) for p in sweep_stale(tmp_path)] == [dead]
    assert live.path.is_dir()
    live.remove()
    assert not live.path.exists() and sweep_stale(tmp_path) == []


def test_folders_without_an_owner_lock_are_swept_only_when_old(tmp_path):
    young, old = tmp_path / f"{PREFIX}young", tmp_path / f"{PREFIX}old"
    young.mkdir()
    old.mkdir()
    past = time.time() - UNLOCKED_MAX_AGE_S - 60
    os.utime(old, (past, past))
    other = tmp_path / "not-ours"
    other.mkdir()
    os.utime(other, (past, past))
    assert sweep_stale(tmp_path) == [old]
    assert young.is_dir() and other.is_dir() and not (young / OWNER_LOCK).exists()
