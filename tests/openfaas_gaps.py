"""Schemathesis hooks for running OpenFaaS's own gateway API description (tests/data/openfaas)
against the embedded gateway: its checks, with only the description's known gaps let through.

Each gap is a place where OpenFaaS's description says less than OpenFaaS does, and the
embedded gateway does what OpenFaaS's code (or sound HTTP) does; vsbench's own description
(vsbench/platform/openapi.yaml) documents all of them, and runs with no exception at all.

G1 names and quantities: the description puts no rule on names or memory; OpenFaaS's
   providers require DNS-1123 labels (Kubernetes object names) and Kubernetes quantities
   ("128Mi") and reject others with 400, as the gateway does.
G2 taken names: creating a function or secret whose name is taken is 409 here; the
   description has no code for it (faas-netes answers with an error too).
G3 4xx the description omits: 400 for a malformed or missing scale request (no replica
   count) or a malformed alert (the description lists only 500, "request JSON invalid"),
   422 for log parameters that do not parse (faas-provider's log handler answers 422).
G5 invocation failures: 429 (queue full), 502, 503 or 504 from /function/... when the
   function's queue is full or its replicas fail or cannot start (faas-provider's proxy
   answers 503 "No endpoints available" itself); the description lists only 200, 404, 500.
G6 methods: /function/... passes GET, PUT, PATCH, DELETE, HEAD and OPTIONS through to the
   function as faas-provider's proxy does; the description lists POST only.
G7 optional namespace: a ScaleServiceRequest without `namespace` scales the function in
   openfaas-fn, since OpenFaaS's own Go types (faas-provider types.ScaleServiceRequest,
   `omitempty`) leave an empty namespace out; the description marks it required.
G4 secrets list: an array of SecretDescription, as faas-netes returns and faas-cli reads; the
   description says a single object.
"""

from __future__ import annotations

import json
import os

import schemathesis
from schemathesis.specs.openapi import checks as builtin

G3_OPERATIONS = {"POST /system/scale-function/{functionName}": (400,),
                 "POST /system/alert": (400,), "GET /system/logs": (422,)}
CREATES = {"POST /system/functions", "POST /system/secrets"}
NAME_ERRORS = ("is not a valid name", "must be a non-empty string", "not a memory quantity")


def _message(response) -> str:
    try:
        return json.loads(response.content or b"{}")["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""


def _gap(response, case) -> str | None:
    if os.environ.get("VSB_OPENFAAS_GAPS") == "none":  # to see what the gaps are
        return None
    op, status = case.operation.label, response.status_code
    if status == 400 and op in CREATES | {"PUT /system/functions"} and any(
            e in _message(response) for e in NAME_ERRORS):
        return "G1"
    if status == 409 and op in CREATES:
        return "G2"
    if status in G3_OPERATIONS.get(op, ()):
        return "G3"
    if status in (429, 502, 503, 504) and op.split()[1].startswith(("/function/",
                                                               "/async-function/")):
        return "G5"
    return None


@schemathesis.check
def openfaas_status_code_conformance(ctx, response, case):
    if _gap(response, case) in ("G2", "G3", "G5"):
        return None
    return builtin.status_code_conformance(ctx, response, case)


@schemathesis.check
def openfaas_negative_data_rejection(ctx, response, case):
    body = case.body if isinstance(case.body, dict) else None
    if (case.operation.label == "POST /system/scale-function/{functionName}" and body
            and "namespace" not in body and isinstance(body.get("serviceName"), str)
            and isinstance(body.get("replicas"), int) and response.status_code == 202):
        return None  # G7 (only the namespace missing, everything else well-formed)
    return builtin.negative_data_rejection(ctx, response, case)


@schemathesis.check
def openfaas_unsupported_method(ctx, response, case):
    if case.operation.label.split()[1].startswith("/function/") and response.request.method in (
            "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        return None  # G6
    return builtin.unsupported_method(ctx, response, case)


@schemathesis.check
def openfaas_positive_data_acceptance(ctx, response, case):
    gap = _gap(response, case)
    if gap == "G1" or (gap == "G3" and not response.request.body):  # G3: a scale without
        return None  # a body (the description lets it out) has no replica count: 400
    return builtin.positive_data_acceptance(ctx, response, case)


@schemathesis.check
def openfaas_response_schema_conformance(ctx, response, case):
    if case.operation.label == "GET /system/secrets" and response.status_code == 200:
        body = json.loads(response.content)
        assert isinstance(body, list), "the secrets list is an array"
        for item in body:  # G4: each item as the description's SecretDescription says
            assert isinstance(item, dict) and isinstance(item.get("name"), str), item
        return None
    return builtin.response_schema_conformance(ctx, response, case)
