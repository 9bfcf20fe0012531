"""functions/pyproject.toml is the one list of what each function needs; the root package
installs all of it, so process replicas run what images run."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from functions.registry import ALL_FUNCTIONS
from vsbench.build import function_packages, function_requirements, runtime_requirements

REPO = Path(__file__).resolve().parents[1]


def _root_requirements() -> dict[str, Requirement]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return {canonicalize_name(Requirement(d).name): Requirement(d) for d in deps}


def test_every_function_has_an_extra_and_every_extra_is_a_function():
    extras = tomllib.loads((REPO / "functions" / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(extras) == set(ALL_FUNCTIONS)


def test_the_root_package_installs_every_function_requirement_with_the_same_bounds():
    root = _root_requirements()
    for fn in ALL_FUNCTIONS:
        for spec in runtime_requirements() + function_requirements(fn):
            req = Requirement(spec)
            name = canonicalize_name(req.name)
            assert name in root, f"{fn} needs {req.name}, missing from pyproject.toml"
            assert str(root[name].specifier) == str(req.specifier), (fn, spec)


def test_function_packages_lists_runtime_first():
    assert function_packages("object-detector")[:1] == ["boto3"]
    assert "onnxruntime" in function_packages("object-detector")
    assert function_packages("search") == ["boto3"]
