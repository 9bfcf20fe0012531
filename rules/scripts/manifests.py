"""Snakemake script: one regime's Kubernetes manifests on one platform (vsbench.manifests).

params.platform     kubernetes | openfaas | knative
wildcards.regime    a regime of the config
output              the files; they go to the folder of the first
params.source       the config file(s), named in each file's header
log[0]              stderr of this script
"""
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.manifests import render_manifests, write_manifests  # noqa: E402

manifests = render_manifests(
    snakemake.config,  # noqa: F821
    snakemake.params.platform,  # noqa: F821
    snakemake.wildcards.regime,  # noqa: F821
    source=snakemake.params.source,  # noqa: F821
)
for path in write_manifests(manifests, Path(snakemake.output[0]).parent):  # noqa: F821
    print(path, file=sys.stderr)
