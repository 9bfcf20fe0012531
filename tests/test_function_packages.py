"""functions/pyproject.toml is the one list of what each function needs; the root package
installs all of it, so process replicas run what images run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def test_functions_install_alone_and_serve_without_the_repo(tmp_path):
    """A wheel of functions/ (what `pip install ./functions[asr]` installs) holds the runtime
    and every handler, and they import and serve with no vsbench and no checkout on the path."""
    shutil.copytree(REPO / "functions", tmp_path / "functions",
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "wheels"), str(tmp_path / "functions")], check=True,
                   capture_output=True, timeout=300)
    [wheel] = (tmp_path / "wheels").glob("vsbench_functions-*.whl")
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'vsbench' or name.startswith('vsbench.'):\n"
        "            raise ImportError('function code imported ' + name)\n"
        "sys.meta_path.insert(0, _Block())\n")
    code = ("import functions, json\n"
            "from functions.registry import ALL_FUNCTIONS, load_handler\n"
            "from functions.runtime import server, mediainfo\n"
            "import functions.models, functions.librosa_segments.warm\n"
            "for name in ALL_FUNCTIONS: load_handler(name)\n"
            "print(json.dumps([functions.__file__, server.__file__]))\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=site, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
    assert all(p.startswith(str(site)) for p in json.loads(proc.stdout)), proc.stdout
