"""What a replica tells its provider on stdout, one line each (one definition of the lines).

``VSB_LISTENING <port>`` when the HTTP server is bound (how a provider learns an ephemeral
port), then ``VSB_READY`` once the handler's ``init()`` is done, or ``VSB_INIT_FAILED
<reason>``. Providers read these lines (:func:`parse`) instead of polling ``/_/ready``, which
keeps the platform's own share of a cold start near zero.
"""

from __future__ import annotations

from dataclasses import dataclass

LISTENING = "VSB_LISTENING"
READY = "VSB_READY"
INIT_FAILED = "VSB_INIT_FAILED"


def listening(port: int) -> str:
    return f"{LISTENING} {port}"


def init_failed(reason: str) -> str:
    return f"{INIT_FAILED} {reason}"


@dataclass(frozen=True)
class Announcement:
    kind: str  # LISTENING | READY | INIT_FAILED
    port: int | None = None
    reason: str | None = None


def parse(line: str) -> Announcement | None:
    """The announcement on one stdout line, or None for any other output."""
    line = line.strip()
    if line.startswith(LISTENING + " "):
        try:
            return Announcement(LISTENING, port=int(line.split()[1]))
        except (IndexError, ValueError):
            return None
    if line == READY:
        return Announcement(READY)
    if line.startswith(INIT_FAILED):
        return Announcement(INIT_FAILED, reason=line[len(INIT_FAILED):].strip() or "init failed")
    return None
