"""Errors a handler raises, mapped to HTTP statuses the gateway and the orchestrator understand."""

from __future__ import annotations


class StageError(Exception):
    """A stage failed. ``status`` is the HTTP status the runtime answers with.

    ``retryable`` tells the orchestrator whether calling the stage again may succeed
    (a transient fault) or not (bad input, a bug).
    """

    status = 500
    retryable = False
    kind = "stage_error"

    def __init__(self, message: str, *, retryable: bool | None = None):
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": str(self), "retryable": self.retryable}


class BadInput(StageError):
    """The stage's input is not usable (not a video, truncated, missing stream...)."""

    status = 422
    kind = "bad_input"


class BadEnvelope(StageError):
    """The request body is not a valid invocation envelope."""

    status = 400
    kind = "bad_envelope"


class NotReady(StageError):
    """The replica has not finished ``init()`` yet."""

    status = 503
    retryable = True
    kind = "not_ready"


class StorageUnavailable(StageError):
    """The object store did not answer, or answered with a server error (an outage, a
    restart): calling the stage again later may succeed."""

    status = 503
    retryable = True
    kind = "storage_unavailable"


class Unavailable(StageError):
    """Something the stage needs is missing on this replica (an engine, a model)."""

    status = 501
    kind = "unavailable"
