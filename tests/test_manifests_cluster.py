"""Every rendered object, applied to the local cluster with server-side dry run and strict
field validation: the API server itself judges the manifests. The custom resources go in
against CRDs made from the upstream schemas in tests/data/crds (their field names and types;
the API server rejects fields they do not define under strict validation)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CRDS = Path(__file__).parent / "data" / "crds"
CREATED: list[str] = []  # namespaces the dry runs needed, deleted afterwards
CRD_DEFS = {  # file → (group, version, kind, plural)
    "openfaas-function.json": ("openfaas.com", "v1", "Function", "functions"),
    "knative-serving-service.json": ("serving.knative.dev", "v1", "Service", "services"),
}


def _structural(schema):
    """A JSON schema → an openAPIV3Schema the API server accepts: no $comment, and no
    additionalProperties beside properties (strict validation does that job there)."""
    if isinstance(schema, dict):
        out = {k: _structural(v) for k, v in schema.items() if k != "$comment"}
        if "properties" in out and out.get("additionalProperties") is False:
            out.pop("additionalProperties")
        return out
    if isinstance(schema, list):
        return [_structural(v) for v in schema]
    return schema


def _crd(path: Path, group: str, version: str, kind: str, plural: str) -> dict:
    schema = _structural(json.loads(path.read_text()))
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    for meta in ("apiVersion", "kind"):
        schema["properties"].setdefault(meta, {"type": "string"})
    schema["properties"]["metadata"] = {"type": "object"}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                               "listKind": f"{kind}List"},
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


@pytest.fixture(scope="module")
def dynamic_client(local_cluster):
    from conftest import wait_for
    from kubernetes import dynamic

    from vsbench.cluster.local import api_client

    api, _ = api_client(local_cluster)
    dyn = dynamic.DynamicClient(api)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1",
                             kind="CustomResourceDefinition")
    from kubernetes.dynamic.exceptions import NotFoundError

    def gone(name: str) -> bool:
        try:
            crds.get(name=name)
        except NotFoundError:
            return True
        return False

    made = []
    for name, (group, version, kind, plural) in CRD_DEFS.items():
        body = _crd(CRDS / name, group, version, kind, plural)
        if not gone(body["metadata"]["name"]):  # an earlier session's, maybe still going
            crds.delete(name=body["metadata"]["name"])
        wait_for(lambda n=body["metadata"]["name"]: gone(n), timeout=60, what="old CRD gone")
        crds.create(body=body)
        made.append(body["metadata"]["name"])
    for name in made:
        wait_for(lambda n=name: any(c.type == "Established" and c.status == "True" for c in
                                    (crds.get(name=n).status.conditions or [])),
                 timeout=30, what=f"CRD {name} established")
    fresh = dynamic.DynamicClient(api)  # discovery again: the new kinds
    yield fresh
    for name in made:
        crds.delete(name=name)
        wait_for(lambda n=name: gone(n), timeout=60, what="CRD deleted")
    ns_api = fresh.resources.get(api_version="v1", kind="Namespace")
    for name in CREATED:
        ns_api.delete(name=name)


def _apply_dry(dyn, obj: dict) -> None:
    res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    ns = obj["metadata"].get("namespace") if res.namespaced else None
    res.create(body=obj, namespace=ns, query_params=[("dryRun", "All"),
                                                     ("fieldValidation", "Strict")])


@pytest.mark.parametrize("platform", ["kubernetes", "openfaas", "knative"])
def test_every_rendered_object_passes_server_side_dry_run(dynamic_client, platform):
    from vsbench.manifests import render_manifests
    from vsbench.regimes import load_config, regime_names

    config = load_config()
    for regime in regime_names(config):
        objects = render_manifests(config, platform, regime).objects()
        ns_api = dynamic_client.resources.get(api_version="v1", kind="Namespace")
        have = {n.metadata.name for n in ns_api.get().items}
        for ns in (o for o in objects if o["kind"] == "Namespace"):
            if ns["metadata"]["name"] not in have:  # namespaced dry runs need it to exist
                _apply_dry(dynamic_client, ns)
                ns_api.create(body=ns)
                have.add(ns["metadata"]["name"])
                CREATED.append(ns["metadata"]["name"])
        kinds = set()
        for obj in objects:
            if obj["kind"] != "Namespace":
                _apply_dry(dynamic_client, copy.deepcopy(obj))
                kinds.add(obj["kind"])
        expected = {"kubernetes": {"Deployment", "Service"}, "openfaas": {"Function"},
                    "knative": {"Service"}}[platform]
        assert expected <= kinds and {"StatefulSet", "Secret"} <= kinds


def test_dry_run_rejects_a_field_the_schema_does_not_define(dynamic_client):
    """The check can fail: a misspelt field in a Function or a Deployment is refused."""
    from kubernetes.dynamic.exceptions import ApiException

    from vsbench.manifests import render_manifests
    from vsbench.regimes import load_config

    config = load_config()
    for platform, kind in (("openfaas", "Function"), ("kubernetes", "Deployment")):
        objs = render_manifests(config, platform, "cold").objects()
        obj = copy.deepcopy(next(o for o in objs if o["kind"] == kind))
        obj["spec"]["replicaz" if kind == "Deployment" else "imag"] = "x"
        with pytest.raises(ApiException) as exc:
            _apply_dry(dynamic_client, obj)
        assert exc.value.status in (400, 422) and ("unknown field" in str(exc.value.body)
                                                   or "strict" in str(exc.value.body).lower())
