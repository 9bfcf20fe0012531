"""Whether one OpenAPI description has every route, parameter, response code and field of
another, under the same names and with the same types (the embedded gateway's against
OpenFaaS's). Which fields are required may differ: the gateway may accept more."""

from __future__ import annotations

from typing import Any


def _type(schema: dict[str, Any]) -> str | None:
    if "type" in schema:
        return schema["type"]
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key) or []:
            if "$ref" in sub:
                return "ref:" + sub["$ref"]
    return "ref:" + schema["$ref"] if "$ref" in schema else None


def missing_from(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """What ``theirs`` documents that ``ours`` lacks or types differently; [] if nothing."""
    out: list[str] = []
    for path, item in theirs["paths"].items():
        mine = ours["paths"].get(path)
        if mine is None:
            out.append(f"path {path}")
            continue
        for method, op in item.items():
            if method not in mine:
                out.append(f"{method.upper()} {path}")
                continue
            names = {(p["in"], p["name"]) for p in mine[method].get("parameters") or []}
            for p in op.get("parameters") or []:
                if (p["in"], p["name"]) not in names:
                    out.append(f"{method.upper()} {path}: {p['in']} parameter {p['name']}")
            for code in op.get("responses") or {}:
                if code not in mine[method].get("responses", {}):
                    out.append(f"{method.upper()} {path}: response {code}")
    schemas = ours["components"]["schemas"]
    for name, schema in theirs["components"]["schemas"].items():
        if name not in schemas:
            out.append(f"schema {name}")
            continue
        mine = schemas[name].get("properties") or {}
        for prop, sub in (schema.get("properties") or {}).items():
            if prop not in mine:
                out.append(f"schema {name}: property {prop}")
            elif _type(sub) != _type(mine[prop]):
                out.append(f"schema {name}: property {prop} is {_type(mine[prop])}, "
                           f"not {_type(sub)}")
    return out
