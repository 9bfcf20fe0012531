# Kubernetes manifests of the study's regimes on each platform (vsbench/manifests/). Not part
# of `all`: the study runs on the embedded platform; `snakemake manifests` renders these.
# s3-secret.yaml (random keys) is never committed (manifests/.gitignore), so after a clone
# this re-renders each folder and makes keys of its own.
MANIFEST_FILES = ["namespace.yaml", "s3-secret.yaml", "object-store.yaml", "functions.yaml"]
MANIFEST_INPUTS = {
    "sources": sorted(str(p) for p in Path("vsbench/manifests").glob("*.py")),
    "registry": "functions/registry.py",
    "config": [str(f) for f in workflow.configfiles],
}
MANIFEST_SOURCE = " + ".join(str(f) for f in workflow.configfiles) or "config/config.yaml"


rule manifests:
    input:
        expand(
            "manifests/{platform}/{regime}/{file}",
            platform=["kubernetes", "knative"],
            regime=config["study"]["regimes"],
            file=MANIFEST_FILES,
        ),
        expand(
            "manifests/openfaas/{regime}/{file}",
            regime=config["study"]["regimes"],
            file=MANIFEST_FILES + ["stack.yml"],
        ),


rule render_manifests:
    """One regime on plain Kubernetes or Knative: namespace, object store (SeaweedFS and its
    Secret) and functions. Images are the last `vsbench build --images`."""
    wildcard_constraints:
        platform="kubernetes|knative",
    input:
        **MANIFEST_INPUTS,
    output:
        expand("manifests/{{platform}}/{{regime}}/{file}", file=MANIFEST_FILES),
    log:
        f"{RESULTS}/logs/manifests/{{platform}}-{{regime}}.log",
    params:
        platform="{platform}",
        source=MANIFEST_SOURCE,
    script:
        "scripts/manifests.py"


rule render_openfaas_manifests:
    """The same for OpenFaaS, plus the faas-cli stack.yml."""
    input:
        **MANIFEST_INPUTS,
    output:
        expand("manifests/openfaas/{{regime}}/{file}", file=MANIFEST_FILES + ["stack.yml"]),
    log:
        f"{RESULTS}/logs/manifests/openfaas-{{regime}}.log",
    params:
        platform="openfaas",
        source=MANIFEST_SOURCE,
    script:
        "scripts/manifests.py"
