"""Kubernetes manifests of VideoSearcher's functions under one regime of the config.

``render_manifests(config, platform, regime)`` builds plain dicts; ``write_manifests`` writes
them as YAML files, one per group: ``namespace.yaml``, ``s3-secret.yaml`` (mode 600),
``object-store.yaml`` (SeaweedFS), ``functions.yaml`` and, for OpenFaaS, ``stack.yml``.

=============  ===================================================================
platform       functions as
=============  ===================================================================
kubernetes     Deployment (replicas = min_replicas) + ClusterIP Service each
openfaas       ``Function`` resources (openfaas.com/v1) and a faas-cli stack.yml
knative        ``serving.knative.dev/v1`` Services scaled by the KPA
=============  ===================================================================

The scaling policy maps as ``vsbench/platform/policy.py`` documents; images are the tags
``vsbench build --images`` recorded. ``vsbench manifests`` is the command.
"""

from .render import (
    PLATFORMS,
    ManifestFile,
    ManifestSet,
    render_manifests,
    write_manifests,
)

__all__ = ["PLATFORMS", "ManifestFile", "ManifestSet", "render_manifests", "write_manifests"]
