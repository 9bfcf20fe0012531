"""ffmpeg-0: split the input video into a video-only stream and 16 kHz mono wav.

A video without an audio track is not an error: ``has_audio`` is false, no wav is written,
and the orchestrator treats the whole video as one clip with an empty transcript.
"""

from __future__ import annotations

from pathlib import Path

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadInput
from functions.runtime.media import MAX_DURATION_S, MAX_INPUT_MB, ffmpeg_exe


def init(config: dict) -> None:
    ffmpeg_exe()


def handle(ctx: InvocationContext) -> dict:
    from functions.runtime.mediainfo import probe

    uri = ctx.input("video", str)
    name = Path(uri).name or "input"
    max_mb = float(ctx.cfg("max_input_mb", MAX_INPUT_MB, float))
    max_s = float(ctx.cfg("max_duration_s", MAX_DURATION_S, float))
    size_mb = ctx.input_size(uri) / 2**20
    if size_mb > max_mb:
        raise BadInput(f"{name}: {size_mb:.0f} MB is more than the limit of {max_mb:g} MB "
                       "(config max_input_mb)")
    src = ctx.fetch(uri, "input" + (Path(name).suffix or ".mp4"))
    try:
        info = probe(src)
    except ValueError as exc:
        raise BadInput(f"{name}: {exc}") from exc
    if info.duration_s and info.duration_s > max_s:
        raise BadInput(f"{name}: {info.duration_s:.0f} s long, more than the limit of "
                       f"{max_s:g} s (config max_duration_s)")
    if not info.has_video:
        raise BadInput(f"{name}: no video stream (audio-only or not a video)")
    if not info.duration_s or info.duration_s <= 0:
        raise BadInput(f"{name}: video has no duration (empty or truncated)")

    video = ctx.workdir / "video.mp4"
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src),
           "-map", "0:v:0", "-c", "copy", "-an", str(video)]
    wav = ctx.workdir / "audio.wav"
    if info.has_audio:
        cmd += ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(wav)]
    run = ctx.tool(cmd)
    if run.stderr.strip():  # decode errors while demuxing/decoding mean a damaged file
        first = run.stderr.strip().splitlines()[0]
        raise BadInput(f"{name}: damaged or truncated media ({first})")

    outputs = {
        "video": ctx.put_file(video, "video.mp4"),
        "audio": ctx.put_file(wav, "audio.wav") if info.has_audio else None,
        "info": {
            "duration_s": round(info.duration_s, 3),
            "has_audio": info.has_audio,
            "width": info.width,
            "height": info.height,
        },
    }
    return outputs
