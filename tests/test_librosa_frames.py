"""librosa's frame levels a block at a time: the same figures and intervals as librosa's own
functions, on signals longer than one block."""

from __future__ import annotations

import numpy as np
import pytest

librosa = pytest.importorskip("librosa")
from functions.librosa_segments import handler  # noqa: E402


def speechlike(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Bursts of tone and noise between quiet gaps, with a noise floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = 0.002 * rng.standard_normal(n)
    t = 0
    while t < n:
        length = int(rng.uniform(0.3, 3.0) * sr)
        end = min(n, t + length)
        k = np.arange(end - t)
        y[t:end] += rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * rng.uniform(100, 900) * k / sr)
        t = end + int(rng.uniform(0.1, 1.5) * sr)
    return y.astype(np.float32)


@pytest.mark.parametrize("frame_length, hop_length", [(2048, 512), (320, 160), (7, 3)])
def test_frame_rms_is_librosas_rms(frame_length, hop_length, monkeypatch):
    monkeypatch.setattr(handler, "BLOCK_FRAMES", 1000)  # many blocks, one short at the end
    y = speechlike(40.0)
    ours = handler.frame_rms(y, frame_length, hop_length)
    theirs = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length,
                                 center=True)[0]
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("top_db", [20.0, 30.0])
def test_split_finds_librosas_intervals(seed, top_db, monkeypatch):
    monkeypatch.setattr(handler, "BLOCK_FRAMES", 256)
    y = speechlike(60.0, seed=seed)
    ours = handler.split(y, top_db)
    theirs = librosa.effects.split(y, top_db=top_db)
    assert len(theirs) > 5  # the signal has real gaps
    np.testing.assert_array_equal(ours, theirs)
    # loud from its first or to its last sample: the edges librosa adds
    loud = np.concatenate([0.4 * np.ones(8000, dtype=np.float32), y, 0.4 * np.ones(8000,
                                                                                 dtype=np.float32)])
    np.testing.assert_array_equal(handler.split(loud, top_db),
                                  librosa.effects.split(loud, top_db=top_db))
