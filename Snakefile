# vsbench study workflow. For now it runs the demo (the sample corpus video through
# VideoSearcher); the study rules (build → deploy → workload → aggregate → plot → report)
# join it as rules/*.smk.

configfile: "config/config.yaml"


include: "rules/demo.smk"


rule all:
    default_target: True
    input:
        rules.process_demo.output.result,
