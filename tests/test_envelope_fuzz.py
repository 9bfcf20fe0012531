"""Every function's runtime under random envelopes (hypothesis): a malformed body, a missing or
foreign object key, a config of the wrong types each get a 4xx or 5xx *named* error with a
reason, never an internal error (500 "internal": an exception the handler did not expect), and
the replica keeps serving (issue 12, "Inputs"). When first run it found two: ffmpeg-0 took an
input that was not a string (TypeError, 500) and ffmpeg-2 a clip that was no media (ValueError,
500); ffmpeg-1 and object-detector read list entries without checking them."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.registry import FUNCTIONS

pytestmark = pytest.mark.slow

# the inputs and config keys the handlers read (grep ctx.input / ctx.cfg), and a few others
KEYS = ["video", "audio", "clip", "clips", "segments", "frames", "index", "transcript", "uri"]
CONFIG = ["clip_index", "clip_start_s", "crf", "cut", "default_timeout_s", "edges", "engine",
          "fps", "gateway_url", "min_gap_s", "min_segment_s", "model", "nms_iou", "options",
          "pad_s", "preset", "query", "retries", "score_threshold", "sleep_ms", "timeouts_s",
          "top_db", "max_parallel_clips", "hangover_s", "preroll_s"]
GARBAGE = "inputs/garbage.bin"  # an object that exists but is no media at all
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)


@st.composite
def uris(draw, bucket: str) -> str:
    key = draw(st.one_of(st.text(max_size=30), st.sampled_from(
        ["../../etc/passwd", "inputs/../../x", "/abs", "", "a" * 2000, "inputs/none.mp4",
         GARBAGE, GARBAGE, GARBAGE])))
    return draw(st.sampled_from([f"s3://{bucket}/{key}", f"s3://other-bucket/{key}",
                                 key, f"http://127.0.0.1:1/{key}", f"file:///{key}"]))


# inputs that are not URIs: segments (ffmpeg-1) and a frame index (object-detector)
STRUCTURED = {
    "segments": [st.lists(st.fixed_dictionaries({"start_s": json_values, "end_s": json_values}),
                          max_size=3)],
    "index": [st.lists(st.fixed_dictionaries({"file": json_values, "time_s": json_values}),
                       max_size=3)],
}


@st.composite
def envelopes(draw, bucket: str, function: str):
    """Three in four well formed (every input the handlers name, real config keys, values of
    any type); the rest malformed anywhere."""
    if draw(st.integers(0, 3)):
        inputs = {k: draw(st.one_of(uris(bucket), uris(bucket), json_values,
                                    *STRUCTURED.get(k, []))) for k in KEYS}
        config = draw(st.dictionaries(st.sampled_from(CONFIG), json_values, max_size=4))
        return {"request_id": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}",
                                                 fullmatch=True)),
                "stage": function, "inputs": inputs, "config": config}
    body = {"request_id": draw(json_values), "stage": draw(json_values),
            "inputs": draw(json_values), "config": draw(json_values)}
    drop = draw(st.sets(st.sampled_from(list(body))))
    return draw(st.one_of(st.just({k: v for k, v in body.items() if k not in drop}),
                          json_values))


@pytest.fixture(scope="module")
def replicas(store):
    from functions.runtime.server import Replica
    from functions.runtime.telemetry import TelemetrySink

    store.put_bytes(b"\x00garbage" * 100, GARBAGE)
    out = {}
    for fn in FUNCTIONS:
        rep = Replica(fn, f"{fn}-fuzz", store, TelemetrySink(None))
        rep.initialise({})
        assert rep.ready.is_set(), rep.init_error
        out[fn] = rep
    return out


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_random_envelopes_get_a_named_error_never_an_internal_one(function, replicas, store,
                                                                   monkeypatch):
    monkeypatch.setenv("VSB_GATEWAY_URL", "http://127.0.0.1:9")  # nothing listens: refused
    replica = replicas[function]

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=envelopes(store.bucket, function))
    def check(body):
        status, payload = replica.invoke(body, call_id="fuzz")
        err = payload.get("error") or {}
        assert status == 200 or (err.get("kind") not in (None, "internal")
                                 and err.get("message")), (status, payload, body)
        assert 200 <= status < 600

    check()
    status, _ = replica.invoke({"request_id": "after", "stage": function, "inputs": {},
                                "config": {}}, call_id="after")
    assert status != 500 or function == "orchestrator"  # still serving
