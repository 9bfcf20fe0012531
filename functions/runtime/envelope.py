"""The invocation envelope: the small JSON body that travels over HTTP (claim-check pattern).

Request:  ``{"request_id", "stage", "inputs": {name: "s3://bucket/key"}, "config": {...}}``
Response: ``{"outputs": {name: "s3://..." or small value}, "metrics": {...}}``
Big artifacts never travel in the body, only their S3 URIs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import BadEnvelope

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class Envelope:
    request_id: str
    stage: str
    inputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, body: Any) -> Envelope:
        """Validate a decoded JSON body; raise :class:`BadEnvelope` with the reason."""
        if not isinstance(body, dict):
            raise BadEnvelope("envelope must be a JSON object")
        rid = body.get("request_id")
        if not isinstance(rid, str) or not _ID.match(rid):
            raise BadEnvelope(
                "request_id must be 1-128 characters of letters, digits, '.', '_' or '-'"
            )
        stage = body.get("stage", "")
        if not isinstance(stage, str):
            raise BadEnvelope("stage must be a string")
        inputs = body.get("inputs", {})
        config = body.get("config", {})
        if not isinstance(inputs, dict) or not isinstance(config, dict):
            raise BadEnvelope("inputs and config must be JSON objects")
        return cls(request_id=rid, stage=stage, inputs=inputs, config=config)

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "stage": self.stage,
            "inputs": self.inputs,
            "config": self.config,
        }
