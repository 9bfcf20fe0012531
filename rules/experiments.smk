rule experiment:
    """One run: a fresh platform, the regime deployed, the workload sent, the archive written.
    Runs are serialised (resources: platform=1, see profiles/default): on 2 cores concurrent
    runs would distort each other's latencies."""
    input:
        builds=experiment_builds,
    output:
        summary=f"{RESULTS}/{RUN_DIR}/summary.json",
    log:
        f"{RESULTS}/logs/experiment/{{platform}}-{{regime}}-{{workload}}-rep{{rep}}.log",
    params:
        vsbench=VSBENCH,
        spec=experiment_spec,
        out=RESULTS,
    resources:
        platform=1,
    shell:
        "{params.vsbench} experiment --platform {wildcards.platform} "
        "--regime {wildcards.regime} --workload {wildcards.workload} --rep {wildcards.rep} "
        "--out {params.out} --spec-json {params.spec:q} > {log} 2>&1"
