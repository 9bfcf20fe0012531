rule build_function:
    """Fingerprinted build of one function (bytecode, models sha256-checked, numba cache)."""
    input:
        build_sources,
    output:
        record=f"{RESULTS}/builds/{{function}}.json",
    log:
        f"{RESULTS}/logs/build/{{function}}.log",
    params:
        vsbench=VSBENCH,
        out=f"{RESULTS}/builds",
    shell:
        "{params.vsbench} build {wildcards.function} --out {params.out} > {log} 2>&1"


rule build_image:
    """Container image of one function (runs on the container host only). The tag carries
    the fingerprint (code, pinned packages, models, base): an unchanged function is not
    rebuilt, and editing one handler rebuilds only its image."""
    input:
        build_sources,
    output:
        record=f"{RESULTS}/builds/{{function}}.image.json",
    log:
        f"{RESULTS}/logs/build/{{function}}.image.log",
    params:
        vsbench=VSBENCH,
        out=f"{RESULTS}/builds",
    shell:
        "{params.vsbench} build --images {wildcards.function} --out {params.out} > {log} 2>&1"
