"""ffmpeg-3: sample frames from a clip at ``fps`` (default 1), at least one per clip.

Frame times are reported in seconds of the original video (clip start + offset in clip).
Frames travel as one tar (``frames.tar``) with an index of their times.
"""

from __future__ import annotations

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadEnvelope, StageError
from functions.runtime.media import ffmpeg_exe, write_tar


def init(config: dict) -> None:
    ffmpeg_exe()


def handle(ctx: InvocationContext) -> dict:
    index = int(ctx.cfg("clip_index", 0, int))
    clip_start = float(ctx.cfg("clip_start_s", 0.0, float))
    fps = float(ctx.cfg("fps", 1.0, float))
    if fps <= 0:
        raise BadEnvelope(f"config 'fps' must be > 0, got {fps}")
    src = ctx.fetch(ctx.input("clip"), "clip.mp4")
    frames_dir = ctx.workdir / "frames"
    frames_dir.mkdir()
    # fps filter: output frame k carries time k/fps (the input frame nearest to it).
    try:
        ctx.tool([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), "-an",
                  "-vf", f"fps={fps}", "-q:v", "3", str(frames_dir / "frame-%05d.jpg")])
    except StageError:
        # ffmpeg fails when the fps filter emits nothing (a clip shorter than one frame
        # interval); the first-frame fallback below still fails on a really broken clip.
        for f in frames_dir.glob("frame-*.jpg"):
            f.unlink()
    files = sorted(frames_dir.glob("frame-*.jpg"))
    offsets = [k / fps for k in range(len(files))]
    if not files:  # a clip shorter than one frame interval: take its first frame
        first = frames_dir / "frame-00001.jpg"
        ctx.tool([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), "-an",
                  "-frames:v", "1", "-q:v", "3", str(first)])
        files, offsets = [first], [0.0]
    index_data = [{"file": f.name, "time_s": round(clip_start + off, 3)}
                  for f, off in zip(files, offsets, strict=True)]
    tar = write_tar(files, ctx.workdir / "frames.tar")
    prefix = f"clip-{index:03d}"
    return {"frames": ctx.put_file(tar, f"{prefix}/frames.tar"), "index": index_data}
