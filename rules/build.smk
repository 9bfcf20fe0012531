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
