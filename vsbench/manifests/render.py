"""One regime on one platform: the files to write, and writing them."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import VsbError
from ..platform.storage import S3Credentials
from ..regimes import resolve_regime
from . import knative, kubernetes, openfaas
from .common import Target, function_image
from .object_store import object_store, object_store_notes, s3_secret

PLATFORMS = ("kubernetes", "openfaas", "knative")
DEFAULT_NAMESPACE = {"kubernetes": "vsbench", "openfaas": openfaas.DEFAULT_NAMESPACE,
                     "knative": "vsbench"}
SECRET_FILE = "s3-secret.yaml"


@dataclass
class ManifestFile:
    """One YAML file: its documents and the comment lines that head it."""

    name: str
    documents: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    private: bool = False  # holds keys: written readable by its owner only


@dataclass
class ManifestSet:
    target: Target
    files: list[ManifestFile]

    def file(self, name: str) -> ManifestFile:
        return next(f for f in self.files if f.name == name)

    def objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object (stack.yml is faas-cli's, not one)."""
        return [d for f in self.files if f.name != "stack.yml" for d in f.documents]


def namespace_object(target: Target) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": target.namespace,
                            "labels": {"app.kubernetes.io/part-of": "vsbench"}}
    if target.platform == "openfaas":
        meta["annotations"] = {"openfaas": "1"}  # faas-netes deploys only to these
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def render_manifests(config: dict[str, Any], platform: str, regime: str, *,
                     source: str = "config/config.yaml", namespace: str | None = None,
                     image_prefix: str | None = None,
                     credentials: S3Credentials | None = None) -> ManifestSet:
    """Every object of ``regime`` (from ``config``) on ``platform``. Pure but for the
    image build records it reads and the keys it generates when ``credentials`` is None."""
    from ..images.build import TAG_PREFIX

    if platform not in PLATFORMS:
        raise VsbError(f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}")
    target = Target(platform, regime, namespace or DEFAULT_NAMESPACE[platform],
                    image_prefix or TAG_PREFIX, source)
    policies = resolve_regime(config, regime)
    images, image_notes = {}, []
    for fn in policies:
        images[fn], note = function_image(fn, target.image_prefix)
        image_notes += [note] if note else []
    if platform == "kubernetes":
        functions = ManifestFile("functions.yaml", kubernetes.kubernetes_functions(
            policies, images, target), kubernetes.NOTES + image_notes)
    elif platform == "knative":
        functions = ManifestFile("functions.yaml", knative.knative_services(
            policies, images, target), knative.NOTES + image_notes)
    else:
        functions = ManifestFile("functions.yaml", openfaas.openfaas_functions(
            policies, images, target), openfaas.NOTES + image_notes)
    files = [
        ManifestFile("namespace.yaml", [namespace_object(target)]),
        ManifestFile(SECRET_FILE,
                     [s3_secret(target, credentials or S3Credentials.generate())],
                     ["Keys from the credentials file given at render time." if credentials
                      else "Random keys, made at render time (--s3-credentials FILE: yours)."],
                     private=True),
        ManifestFile("object-store.yaml", object_store(target), object_store_notes(target)),
        functions,
    ]
    if platform == "openfaas":
        files.append(ManifestFile("stack.yml", [openfaas.openfaas_stack(
            policies, images, target)], ["faas-cli deploy -f stack.yml (OPENFAAS_URL sets "
                                         "the gateway)"] + openfaas.NOTES + image_notes))
    return ManifestSet(target, files)


class _Dumper(yaml.SafeDumper):
    """Writes a dict used twice (labels) twice, not as a YAML anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(file: ManifestFile, target: Target) -> str:
    header = [f"rendered by vsbench manifests from {target.source} regime {target.regime}; "
              "do not edit",
              f"platform {target.platform}, namespace {target.namespace}; regenerate: "
              "snakemake manifests (or vsbench manifests)"]
    lines = [f"# {line}" for line in header]
    for note in file.notes:
        lines += textwrap.wrap(note, 98, initial_indent="# ", subsequent_indent="#   ",
                               break_on_hyphens=False)
    docs = [yaml.dump(d, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=100)
            for d in file.documents]
    return "\n".join(lines) + "\n" + "---\n".join(docs)


def write_manifests(manifests: ManifestSet, directory: Path) -> list[Path]:
    """Write each file of ``manifests`` into ``directory`` (created); the paths written."""
    directory = Path(directory)
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for file in manifests.files:
            path = directory / file.name
            text = _text(file, manifests.target)
            if file.private:
                path.unlink(missing_ok=True)  # created anew, so the mode is never wider
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
            else:
                path.write_text(text)
            written.append(path)
    except OSError as exc:
        raise VsbError(f"cannot write manifests to {directory}: "
                       f"{exc.strerror or exc}") from None
    return written
