rule corpus_video:
    output:
        video="data/generated/{preset}.mp4",
        truth="data/generated/{preset}.truth.json",
    log:
        "results/logs/corpus/{preset}.log",
    shell:
        "vsbench corpus --preset {wildcards.preset} --out data/generated > {log} 2>&1"


rule process_demo:
    input:
        video=expand(rules.corpus_video.output.video, preset=config["demo"]["preset"]),
    output:
        result="results/demo/result.json",
    params:
        query=config["demo"]["query"],
    log:
        "results/logs/demo/process.log",
    shell:
        "vsbench process {input.video} --query {params.query:q} --out {output.result} "
        "> /dev/null 2> {log}"
