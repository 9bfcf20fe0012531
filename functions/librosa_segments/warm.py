"""Warm numba's JIT cache (``NUMBA_CACHE_DIR``) for this function, at build time.

``python -m functions.librosa_segments.warm`` runs init() and one real segmentation, so the
machine code librosa's kernels need is compiled once into the cache (25–31 s here) and a
replica's cold start only loads it. Process builds and image builds both run this.
"""

from __future__ import annotations

import numpy as np

from .handler import init, speech_segments


def main() -> None:
    init({})
    sr = 16000
    t = np.arange(sr * 2) / sr
    y = np.where((t > 0.5) & (t < 1.5), np.sin(2 * np.pi * 220 * t), 0).astype(np.float32)
    print(speech_segments(y, sr))


if __name__ == "__main__":
    main()
