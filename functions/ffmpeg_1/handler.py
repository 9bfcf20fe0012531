"""ffmpeg-1: cut one clip per speech segment.

``cut: accurate`` (default) re-encodes so the clip starts exactly at the segment start;
``cut: keyframe`` copies streams (fast, but the clip starts at the keyframe before).
"""

from __future__ import annotations

from pathlib import Path

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadEnvelope
from functions.runtime.media import ffmpeg_exe


def init(config: dict) -> None:
    ffmpeg_exe()


def cut_command(src: Path, dest: Path, start_s: float, end_s: float, mode: str) -> list[str]:
    dur = max(0.01, end_s - start_s)
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-ss", f"{start_s:.3f}",
           "-i", str(src), "-t", f"{dur:.3f}"]
    if mode == "keyframe":
        cmd += ["-c", "copy", "-avoid_negative_ts", "make_zero"]
    elif mode == "accurate":
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k"]
    else:
        raise BadEnvelope(f"config 'cut' must be 'accurate' or 'keyframe', got {mode!r}")
    return cmd + ["-movflags", "+faststart", str(dest)]


def handle(ctx: InvocationContext) -> dict:
    segments = ctx.input("segments")
    if isinstance(segments, str):
        segments = ctx.fetch_json(segments)
    if not isinstance(segments, list):
        raise BadEnvelope("input 'segments' must be a list or the URI of a JSON list")
    mode = ctx.cfg("cut", "accurate", str)
    video = ctx.input("video", str)
    src = ctx.fetch(video, "source" + (Path(video).suffix or ".mp4"))
    clips = []
    for i, seg in enumerate(segments):
        try:
            start, end = float(seg["start_s"]), float(seg["end_s"])
        except (TypeError, KeyError, ValueError):
            raise BadEnvelope(f"segment {i} must be an object with numbers start_s and end_s, "
                              f"got {seg!r:.80}") from None
        dest = ctx.workdir / f"clip-{i:03d}.mp4"
        ctx.tool(cut_command(src, dest, start, end, mode))
        uri = ctx.put_file(dest, f"clip-{i:03d}.mp4")
        clips.append({"index": i, "start_s": start, "end_s": end, "uri": uri})
    return {"clips": clips, "count": len(clips)}
