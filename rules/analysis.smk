rule aggregate:
    """Tidy tables (CSV and Parquet) from every run's archive."""
    input:
        runs=run_summaries(),
    output:
        tables=expand(f"{RESULTS}/tables/{{table}}.{{ext}}", table=TABLES, ext=["csv", "parquet"]),
        manifest=f"{RESULTS}/tables/tables.json",
    log:
        f"{RESULTS}/logs/aggregate.log",
    params:
        seed=config["study"].get("seed", 0),
    script:
        "scripts/aggregate.py"


rule plot:
    """Figures from the tables, captioned for `snakemake --report`."""
    input:
        tables=rules.aggregate.output.tables,
    output:
        latency=report(f"{RESULTS}/figures/latency.svg", caption="../report/latency.rst", category="RQ2 latency"),
        cold_starts=report(f"{RESULTS}/figures/cold_starts.svg", caption="../report/cold_starts.rst", category="RQ2 cold starts"),
        cost=report(f"{RESULTS}/figures/cost.svg", caption="../report/cost.rst", category="RQ3 cost"),
        sweeps=report(f"{RESULTS}/figures/sweeps.svg", caption="../report/sweeps.rst", category="RQ2 sweeps"),
        pareto=report(f"{RESULTS}/figures/pareto.svg", caption="../report/pareto.rst", category="RQ3 latency vs cost"),
        load=report(f"{RESULTS}/figures/load.svg", caption="../report/load.rst", category="Machine load"),
        startup=report(f"{RESULTS}/figures/startup.svg", caption="../report/startup.rst", category="RQ2 cold starts"),
    log:
        f"{RESULTS}/logs/plot.log",
    script:
        "scripts/plot.py"


rule render_report:
    """The study's report, every number taken from the tables (it reads nothing else)."""
    input:
        tables=[*rules.aggregate.output.tables, f"{RESULTS}/tables/keepalive_scale.parquet",
                f"{RESULTS}/tables/sim_validation.parquet"],
        manifest=rules.aggregate.output.manifest,
        figures=[*rules.plot.output, f"{RESULTS}/figures/keepalive_scale.svg",
                 f"{RESULTS}/figures/sim_validation.svg"],
        template="paper/template.html.j2",
    output:
        html=REPORT,
    log:
        f"{RESULTS}/logs/report.log",
    script:
        "scripts/report.py"


rule explore:
    """The exploration notebook, executed on the archive and the tables."""
    input:
        runs=run_summaries(),
        tables=rules.aggregate.output.tables,
    output:
        summary=f"{RESULTS}/notebooks/summary.csv",
    log:
        notebook=f"{RESULTS}/notebooks/explore.ipynb",
    notebook:
        "../notebooks/explore.py.ipynb"


rule report_pdf:
    """The report as PDF, on request (`snakemake paper/report.pdf`): needs weasyprint or
    pandoc with a LaTeX engine, and says which is missing otherwise."""
    input:
        html=REPORT,
    output:
        pdf=str(Path(REPORT).with_suffix(".pdf")),
    log:
        f"{RESULTS}/logs/report_pdf.log",
    script:
        "scripts/report_pdf.py"
