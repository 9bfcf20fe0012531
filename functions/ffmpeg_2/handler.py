"""ffmpeg-2: compress a clip (libx264, CRF and preset configurable) and extract 16 kHz mono wav."""

from __future__ import annotations

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadInput
from functions.runtime.media import ffmpeg_exe


def init(config: dict) -> None:
    ffmpeg_exe()


def handle(ctx: InvocationContext) -> dict:
    from functions.runtime.mediainfo import probe

    index = int(ctx.cfg("clip_index", 0, int))
    src = ctx.fetch(ctx.input("clip"), "clip.mp4")
    try:
        has_audio = probe(src).has_audio
    except ValueError as exc:
        raise BadInput(f"clip {index}: {exc}") from exc
    crf = int(ctx.cfg("crf", 28, int))
    preset = ctx.cfg("preset", "veryfast", str)
    out = ctx.workdir / "compressed.mp4"
    wav = ctx.workdir / "audio.wav"
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src),
           "-map", "0:v:0", "-c:v", "libx264", "-crf", str(crf), "-preset", preset,
           "-pix_fmt", "yuv420p"]
    if has_audio:
        cmd += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "64k"]
    cmd += ["-movflags", "+faststart", str(out)]
    if has_audio:
        cmd += ["-map", "0:a:0", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(wav)]
    ctx.tool(cmd)
    prefix = f"clip-{index:03d}"
    return {
        "compressed": ctx.put_file(out, f"{prefix}/compressed.mp4"),
        "audio": ctx.put_file(wav, f"{prefix}/audio.wav") if has_audio else None,
        "compressed_bytes": out.stat().st_size,
        "source_bytes": src.stat().st_size,
    }
