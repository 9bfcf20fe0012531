"""search: rank the request's clips against the query (see :mod:`.matching`)."""

from __future__ import annotations

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadEnvelope

from .matching import search


def handle(ctx: InvocationContext) -> dict:
    summary = ctx.fetch_json(ctx.input("clips"))
    if not isinstance(summary, list):
        raise BadEnvelope("input 'clips' must be the URI of a JSON list of clips")
    query = ctx.cfg("query", "", str)
    matches = [m.to_dict() for m in search(summary, query)]
    return {"matches": matches, "uri": ctx.put_json(matches, "matches.json")}
