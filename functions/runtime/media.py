"""Media helpers shared by the ffmpeg stages."""

from __future__ import annotations

import tarfile
from pathlib import Path

from .errors import BadInput
from .mediainfo import ffmpeg_exe  # one definition, shared with the CLI

__all__ = ["ffmpeg_exe", "safe_extract", "write_tar", "MAX_DURATION_S", "MAX_INPUT_MB"]

# Input limits (ffmpeg-0's config ``max_duration_s`` and ``max_input_mb``; ``vsbench process
# --max-duration-s/--max-mb``): a video beyond them is refused before any work is done.
MAX_DURATION_S = 3600.0
MAX_INPUT_MB = 2048.0


def write_tar(members: list[Path], dest: Path) -> Path:
    """Pack files flat (by base name) into an uncompressed tar."""
    with tarfile.open(dest, "w") as tar:
        for path in members:
            tar.add(path, arcname=path.name)
    return dest


def safe_extract(archive: Path, target: Path) -> list[Path]:
    """Extract a tar into ``target``, refusing any member that would land outside it.

    Absolute paths, ``..`` components, links and device files are refused with a
    :class:`BadInput` naming the member, before anything is written.
    """
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(archive, "r")
    except tarfile.TarError as exc:
        raise BadInput(f"{archive.name} is not a tar archive: {exc}") from exc
    with tar:
        members = tar.getmembers()
        for m in members:
            dest = (target / m.name).resolve()
            if m.name.startswith("/") or not dest.is_relative_to(target) or dest == target:
                raise BadInput(f"archive member {m.name!r} escapes the target folder; refused")
            if not (m.isfile() or m.isdir()):
                raise BadInput(f"archive member {m.name!r} is a link or device; refused")
        # The 'data' filter re-checks the same (and strips modes) as a second line of defence.
        # Python before 3.11.4 (Debian bookworm's 3.11.2, the default image base) lacks
        # extraction filters; the checks above already refused every unsafe member.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:
            tar.extractall(target, members=members)
    return [target / m.name for m in members if m.isfile()]
