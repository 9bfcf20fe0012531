"""Tiny media probe and audio decoder built on imageio-ffmpeg's `ffmpeg` binary.

imageio-ffmpeg ships `ffmpeg` but no `ffprobe`, so `probe()` parses the stream
summary that `ffmpeg -i FILE` prints on stderr. That text is meant for humans,
so the parsing is deliberately loose: only fields we rely on are extracted and
anything unparsable becomes None rather than an error.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only for decode_audio: probe() stays stdlib-only for function images
    import numpy as np

__all__ = ["MediaInfo", "ffmpeg_exe", "probe", "decode_audio"]


@dataclass(frozen=True)
class MediaInfo:
    """What `ffmpeg -i` tells about a media file (first video/audio stream)."""

    duration_s: float | None  # container duration; None when ffmpeg says N/A
    has_video: bool           # cover art ("attached pic") does not count
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    format_name: str | None = None


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise RuntimeError("ffmpeg comes from the 'imageio-ffmpeg' package; install it") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


_DURATION = re.compile(r"Duration:\s*(N/A|(\d+):(\d+):(\d+(?:\.\d+)?))")
_INPUT = re.compile(r"^Input #0, (.+?), from ", re.M)
_STREAM = re.compile(
    r"^\s*Stream #0:\d+\S*: (Video|Audio|Subtitle|Data|Attachment): (\S+)(.*)$", re.M)
# ", 640x480" / ", 640x480 [SAR"; the lookbehind keeps "0x31637661" (a codec tag) out.
_SIZE = re.compile(r"(?<=, )(\d{1,5})x(\d{1,5})(?=[\s,\[]|$)")
_FPS = re.compile(r"([\d.]+)(k?) fps")
_TBR = re.compile(r"([\d.]+)(k?) tbr")
_HZ = re.compile(r"(\d+) Hz")


def _num(value: str, kilo: str) -> float:
    return float(value) * (1000.0 if kilo else 1.0)


def _error_summary(text: str) -> str:
    """The distinct error messages of an ffmpeg run, without "[in#0 @ 0x..]" prefixes."""
    msgs: list[str] = []
    for line in text.splitlines():
        msg = re.sub(r"^\[[^\]]*\]\s*", "", line.strip())
        msg = re.sub(r"^Error opening input( files?)?: ", "", msg)
        low = msg.lower()
        if (not msg or msg in msgs or "output file" in low or "misdetection possible" in low
                or low.startswith("error opening input file")):
            continue
        msgs.append(msg)
    return "; ".join(msgs[:3]) or "no output from ffmpeg"


def probe(path: str | os.PathLike, timeout_s: float = 30.0) -> MediaInfo:
    """Describe a media file via `ffmpeg -i`.

    Raises FileNotFoundError if `path` does not exist and ValueError if ffmpeg
    cannot open it as media (empty file, text, missing moov atom, ...) or it
    has neither an audio nor a video stream. Note a truncated MP4 whose moov
    atom sits at the front (faststart) still probes fine: the header is whole,
    only the sample data is missing; decoding it is what fails.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such media file: {p}")
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(p)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=timeout_s, check=False,
    )
    # ffmpeg always exits 1 here ("At least one output file must be specified").
    text = proc.stderr.decode("utf-8", errors="replace")
    fmt = _INPUT.search(text)
    if fmt is None:
        raise ValueError(f"{p}: not a readable media file ({_error_summary(text)})")

    duration = None
    m = _DURATION.search(text)
    if m and m.group(1) != "N/A":
        duration = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))

    info: dict = {"has_video": False, "has_audio": False}
    for kind, codec, rest in _STREAM.findall(text):
        codec = codec.rstrip(",")
        if kind == "Video" and not info["has_video"] and "(attached pic)" not in rest:
            info.update(has_video=True, video_codec=codec)
            if size := _SIZE.search(rest):
                info.update(width=int(size.group(1)), height=int(size.group(2)))
            rate = _FPS.search(rest) or _TBR.search(rest)
            if rate:
                info["fps"] = _num(rate.group(1), rate.group(2))
        elif kind == "Audio" and not info["has_audio"]:
            info.update(has_audio=True, audio_codec=codec)
            if hz := _HZ.search(rest):
                info["sample_rate"] = int(hz.group(1))
    if not (info["has_video"] or info["has_audio"]):
        raise ValueError(f"{p}: no audio or video stream ({fmt.group(1)})")
    return MediaInfo(duration_s=duration, format_name=fmt.group(1), **info)


def decode_audio(path: str | os.PathLike, sample_rate: int = 16000,
                 timeout_s: float = 120.0) -> np.ndarray:
    """Decode the first audio stream to mono float32 in [-1, 1] at `sample_rate`.

    Raises ValueError if the file has no audio stream or ffmpeg cannot decode it.
    """
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such media file: {p}")
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(p),
         "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False,
    )
    if proc.returncode != 0:
        text = proc.stderr.decode("utf-8", errors="replace")
        if "matches no streams" in text:
            raise ValueError(f"{p}: has no audio stream")
        raise ValueError(f"{p}: cannot decode audio ({_error_summary(text)})")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
