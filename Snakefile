# vsbench: the serverless cold-start study on VideoSearcher.
#   snakemake --cores all                                   the study (config/config.yaml)
#   snakemake --cores all --configfile config/quick.yaml    a small one (tests)
# build → experiment (deploy regime, run workload, archive) → aggregate → plot → report


from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


# Defaults in the schema document the code's own defaults; they are not injected, since
# pattern-specific workload fields and per-function memory must stay unset unless given.
validate(config, "config/schema.yaml", set_default=False)


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/build.smk"
include: "rules/experiments.smk"
include: "rules/analysis.smk"
include: "rules/manifests.smk"
include: "rules/simulation.smk"


rule all:
    default_target: True
    input:
        rules.aggregate.output,
        rules.plot.output,
        rules.render_report.output,
        rules.explore.output,
        rules.simulate_scale.output,
        rules.validate_simulator.output,
        rules.plot_simulation.output,
        rules.simulated_tables.output,
