"""Every ``default:`` of config/schema.yaml that stands for a code default equals it.

The Snakefile validates the config without injecting defaults (pattern-specific workload
fields must stay unset), so the schema's defaults are documentation of what the code does
when a key is left out; this keeps them true. ``default: null`` stands for a field the code
leaves unset (None), e.g. a field only some workload patterns need.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from vsbench.experiment import DEFAULTS as EXPERIMENT_DEFAULTS
from vsbench.platform.policy import ScalingPolicy
from vsbench.platform.providers import DEFAULT_HOST
from vsbench.platform.storage import StorageConfig
from vsbench.study import study_runs, with_sweep_regimes
from vsbench.workload.schedule import WorkloadSpec

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
PROPS = SCHEMA["properties"]
# Code fields the schema does not describe yet (the lead adds them; then drop them here).
NOT_IN_SCHEMA_YET: dict[str, set[str]] = {"policy": set()}


def _defaults(properties: dict[str, Any]) -> dict[str, Any]:
    return {k: v["default"] for k, v in properties.items() if "default" in v}


def _code_defaults(cls) -> dict[str, Any]:
    out = {f.name: f.default for f in dataclasses.fields(cls)
           if f.default is not dataclasses.MISSING}
    out.update({f.name: f.default_factory() for f in dataclasses.fields(cls)
                if f.default_factory is not dataclasses.MISSING})
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def _check(schema: dict[str, Any], code: dict[str, Any], what: str) -> None:
    differ = {k: (schema[k], code[k]) for k in schema.keys() & code.keys()
              if not _same(schema[k], code[k])}
    assert not differ, f"{what}: schema default != code default (schema, code): {differ}"


def test_experiment_defaults():
    props = PROPS["experiment"]["properties"]
    assert set(props) == set(EXPERIMENT_DEFAULTS), "schema and experiment.DEFAULTS keys differ"
    _check(_defaults(props), EXPERIMENT_DEFAULTS, "experiment")


def test_policy_defaults():
    props = SCHEMA["$defs"]["policy"]["properties"]
    code = _code_defaults(ScalingPolicy)
    assert set(code) - set(props) == NOT_IN_SCHEMA_YET["policy"]
    assert set(props) - set(code) == {"description"}  # the regime's, not a policy field
    _check(_defaults(props), code, "policy")


def test_keepalive_defaults():
    from vsbench.platform.keepalive import HISTOGRAM_PARAMS, check_spec

    props = SCHEMA["$defs"]["policy"]["properties"]["keepalive"]["properties"]
    histogram = check_spec({"policy": "histogram"})
    oracle = check_spec({"policy": "oracle"})
    assert set(props) == {"policy", *HISTOGRAM_PARAMS, *oracle} - {"policy"} | {"policy"}
    _check(_defaults(props), {**histogram, **oracle, "policy": "fixed"}, "keepalive")


def test_workload_defaults():
    props = PROPS["workloads"]["additionalProperties"]["properties"]
    code = _code_defaults(WorkloadSpec)
    assert set(props) == {f.name for f in dataclasses.fields(WorkloadSpec)}
    assert "pattern" not in code  # required: the schema's default is only a suggestion
    _check(_defaults(props), code, "workload")


def test_storage_defaults():
    props = PROPS["storage"]["properties"]
    code = _code_defaults(StorageConfig)
    assert set(props) == set(code)
    _check(_defaults(props), code, "storage")


def _runs(config: dict[str, Any]) -> list:
    return study_runs(with_sweep_regimes(config))


BASE = {"study": {"platforms": ["embedded"], "regimes": ["r"], "workloads": ["w"],
                  "repetitions": 2},
        "regimes": {"r": {"min_replicas": 0}},
        "workloads": {"w": {"pattern": "steady", "rate": 1, "duration_s": 1}}}


@pytest.mark.parametrize("key", ["platforms", "hosts", "regimes", "workloads", "repetitions"])
def test_study_defaults_are_what_the_code_does_without_the_key(key):
    """Leaving a key out and giving the schema's default make the same runs."""
    default = PROPS["study"]["properties"][key]["default"]
    without = {**BASE, "study": {k: v for k, v in BASE["study"].items() if k != key}}
    given = {**BASE, "study": {**without["study"], key: default}}
    if key in ("regimes", "workloads"):  # the code's default is no runs at all
        assert _runs(without) == [] and _runs(given) == []
    else:
        assert _runs(without) == _runs(given)
    if key == "hosts":
        assert default == [DEFAULT_HOST]


def test_sweep_defaults_are_what_the_code_does_without_the_key():
    props = PROPS["study"]["properties"]["sweeps"]["properties"]
    defaults = _defaults(props)
    assert set(defaults) == set(props)
    with_defaults = {**BASE, "study": {**BASE["study"], "sweeps": defaults}}
    assert _runs(with_defaults) == _runs(BASE)  # no sweep point: nothing added
    assert defaults["base_regime"] is None and defaults["workloads"] == []
    # with one point, the default repetitions are the code's (1)
    point = {"base_regime": "r", "workloads": ["w"], "idle_timeout_s": [5]}
    given = {**BASE, "study": {**BASE["study"], "sweeps": {**point, "repetitions":
                                                              defaults["repetitions"]}}}
    left_out = {**BASE, "study": {**BASE["study"], "sweeps": point}}
    assert _runs(given) == _runs(left_out)


@pytest.mark.parametrize("key,source", [("results", "rules/common.smk"),
                                        ("report", "rules/common.smk"),
                                        ("seed", "rules/analysis.smk")])
def test_study_defaults_of_the_workflow(key, source):
    """The workflow's own fallbacks: ``config["study"].get(key, default)``."""
    text = (REPO / source).read_text()
    m = re.search(rf'config\["study"\]\.get\("{key}", ([^)]+)\)', text)
    assert m, f"{source} no longer reads study.{key} with a default"
    assert _same(PROPS["study"]["properties"][key]["default"], yaml.safe_load(m.group(1)))
