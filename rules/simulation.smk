rule simulate_scale:
    """Keep-alive policies at scale (vsbench.sim.scale): a trace of many functions over
    days, simulated with the service and cold-start times of the study's own runs."""
    input:
        runs=run_summaries(),
    output:
        table=f"{RESULTS}/tables/keepalive_scale.parquet",
        csv=f"{RESULTS}/tables/keepalive_scale.csv",
    log:
        f"{RESULTS}/logs/simulate_scale.log",
    params:
        simulation=config.get("simulation") or {},
    script:
        "scripts/simulate_scale.py"


rule plot_simulation:
    """The policies at scale: cold starts against idle memory, the oracle as the bound."""
    input:
        table=rules.simulate_scale.output.table,
    output:
        keepalive_scale=report(f"{RESULTS}/figures/keepalive_scale.svg", caption="../report/keepalive_scale.rst", category="Keep-alive at scale (simulated)"),
    log:
        f"{RESULTS}/logs/plot_simulation.log",
    script:
        "scripts/plot_simulation.py"
