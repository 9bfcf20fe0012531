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


rule validate_simulator:
    """Every run simulated from its own schedule and regime, against its measurement
    (vsbench.sim.replay): p50, p99, cold share and GB-s."""
    input:
        runs=run_summaries(),
    output:
        table=f"{RESULTS}/tables/sim_validation.parquet",
        csv=f"{RESULTS}/tables/sim_validation.csv",
        archives=directory(f"{RESULTS}/simulated/raw"),
    log:
        f"{RESULTS}/logs/validate_simulator.log",
    params:
        seed=config["study"].get("seed", 0),
    script:
        "scripts/validate_simulator.py"


rule simulated_tables:
    """The study's tables again, from the simulated archives: the same aggregate, so any
    table (or figure drawn from one) compares simulation and measurement like for like."""
    input:
        archives=rules.validate_simulator.output.archives,
    output:
        tables=expand(f"{RESULTS}/simulated/tables/{{table}}.{{ext}}", table=TABLES, ext=["csv", "parquet"]),
        manifest=f"{RESULTS}/simulated/tables/tables.json",
    log:
        f"{RESULTS}/logs/simulated_tables.log",
    params:
        seed=config["study"].get("seed", 0),
    script:
        "scripts/simulated_tables.py"


rule plot_simulation:
    """The simulator against the measurement, and the policies at scale: cold starts against
    idle memory, the oracle as the bound."""
    input:
        table=rules.simulate_scale.output.table,
        validation=rules.validate_simulator.output.table,
    output:
        keepalive_scale=report(f"{RESULTS}/figures/keepalive_scale.svg", caption="../report/keepalive_scale.rst", category="Keep-alive at scale (simulated)"),
        sim_validation=report(f"{RESULTS}/figures/sim_validation.svg", caption="../report/sim_validation.rst", category="Keep-alive at scale (simulated)"),
    log:
        f"{RESULTS}/logs/plot_simulation.log",
    script:
        "scripts/plot_simulation.py"
