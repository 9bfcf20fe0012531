"""vsbench manifests: Kubernetes objects of every function under a regime, validated offline.

Core objects are checked with kubernetes-validate's bundled schemas (strict: unknown fields
fail) for three Kubernetes versions; Function and Knative Service against their upstream CRDs'
openAPIV3Schema (tests/data/crds/, each file's $comment names its source and version).
"""

from __future__ import annotations

import json
import stat
from dataclasses import asdict
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from functions.registry import FUNCTIONS
from vsbench.errors import VsbError
from vsbench.manifests import PLATFORMS, render_manifests, write_manifests
from vsbench.platform.storage import S3Credentials
from vsbench.regimes import load_config

# The oldest and newest minor kubernetes-validate 1.37.0 ships schemas for that we care
# about, and one between (the local cluster build is 1.37).
K8S_VERSIONS = ["1.31.0", "1.34.0", "1.37.0"]
CORE_KINDS = {"Namespace", "Secret", "Service", "StatefulSet", "Deployment"}
CRDS = Path(__file__).parent / "data" / "crds"
REGIMES = ["cold", "warm", "burst-ready"]
# faas-cli's stack.yml function fields (github.com/openfaas/go-sdk stack/schema.go, as
# vendored by faas-cli 0.18.12): yaml tags of stack.Function.
STACK_FUNCTION_FIELDS = {
    "lang", "handler", "image", "fprocess", "environment", "secrets", "skip_build",
    "constraints", "environment_file", "labels", "limits", "requests",
    "readonly_root_filesystem", "build_options", "annotations", "namespace", "build_args",
    "platforms", "build_secrets",
}


@pytest.fixture(autouse=True)
def _no_machine_state(tmp_path, monkeypatch):
    """No image build records and no credentials file from this machine leak in."""
    monkeypatch.setenv("VSB_HOME", str(tmp_path / "vsb-home"))
    monkeypatch.delenv("VSB_STORAGE_CREDENTIALS_FILE", raising=False)


@pytest.fixture(scope="module")
def config():
    return load_config()


def _crd_validator(name: str) -> jsonschema.Validator:
    return jsonschema.Draft202012Validator(json.loads((CRDS / name).read_text()))


def _by_kind(objects, kind, api=None):
    return {o["metadata"]["name"]: o for o in objects
            if o["kind"] == kind and (api is None or o["apiVersion"] == api)}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_core_objects_validate_against_kubernetes_schemas(config, platform, version):
    kinds, problems = set(), []
    for regime in REGIMES:
        for obj in render_manifests(config, platform, regime).objects():
            if obj["apiVersion"] in ("openfaas.com/v1", "serving.knative.dev/v1"):
                continue
            kinds.add(obj["kind"])
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                problems.append(f"{regime} {obj['kind']}/{obj['metadata']['name']}: {path}: "
                                f"{exc.message}")
    assert not problems, f"invalid for Kubernetes {version}: {problems}"
    expected = CORE_KINDS if platform == "kubernetes" else CORE_KINDS - {"Deployment"}
    assert kinds == expected


def test_the_validators_reject_an_unknown_field(config):
    """The checks above can fail: a misspelt field is caught by each validator."""
    objs = render_manifests(config, "kubernetes", "cold").objects()
    deployment = _by_kind(objs, "Deployment")["asr"]
    deployment["spec"]["replica"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)

    function = render_manifests(config, "openfaas", "cold").objects()[-1]
    function["spec"]["replicas"] = 2  # not a field of faas-netes' Function
    with pytest.raises(jsonschema.ValidationError):
        _crd_validator("openfaas-function.json").validate(function)

    ksvc = _by_kind(render_manifests(config, "knative", "cold").objects(), "Service",
                    "serving.knative.dev/v1")["asr"]
    ksvc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        _crd_validator("knative-serving-service.json").validate(ksvc)


@pytest.mark.parametrize("regime", REGIMES)
def test_custom_resources_match_their_crds(config, regime):
    functions = _by_kind(render_manifests(config, "openfaas", regime).objects(), "Function")
    services = _by_kind(render_manifests(config, "knative", regime).objects(), "Service",
                        "serving.knative.dev/v1")
    assert set(functions) == set(services) == set(FUNCTIONS)
    for obj in functions.values():
        _crd_validator("openfaas-function.json").validate(obj)
    for obj in services.values():
        _crd_validator("knative-serving-service.json").validate(obj)


def test_knative_scaling_follows_the_regime(config):
    def template(regime, fn):
        svc = _by_kind(render_manifests(config, "knative", regime).objects(), "Service",
                       "serving.knative.dev/v1")[fn]
        t = svc["spec"]["template"]
        return t["metadata"]["annotations"], t["spec"]

    ann, spec = template("cold", "asr")
    assert ann["autoscaling.knative.dev/scale-to-zero-pod-retention-period"] == "10s"
    assert ann["autoscaling.knative.dev/min-scale"] == "0"
    assert ann["autoscaling.knative.dev/max-scale"] == "4"
    assert ann["autoscaling.knative.dev/target"] == "1"
    assert spec["containerConcurrency"] == 1
    assert spec["containers"][0]["resources"]["limits"]["memory"] == "512Mi"

    ann, _ = template("warm", "asr")  # never scales to zero: no retention, min-scale >= 1
    assert "autoscaling.knative.dev/scale-to-zero-pod-retention-period" not in ann
    assert ann["autoscaling.knative.dev/min-scale"] == "1"

    ann, spec = template("burst-ready", "orchestrator")  # its override: 8 in flight, aim 4
    assert (ann["autoscaling.knative.dev/min-scale"],
            ann["autoscaling.knative.dev/max-scale"]) == ("2", "8")
    assert ann["autoscaling.knative.dev/target"] == "4"
    assert spec["containerConcurrency"] == 8
    assert ann["autoscaling.knative.dev/scale-to-zero-pod-retention-period"] == "300s"


def test_knative_never_scaling_to_zero_keeps_one_replica_even_with_min_zero(config):
    cfg = {**config, "regimes": {"keep": {"min_replicas": 0, "idle_timeout_s": None},
                                 "long": {"idle_timeout_s": 7200}}}
    svc = render_manifests(cfg, "knative", "keep").objects()[-1]
    assert svc["spec"]["template"]["metadata"]["annotations"][
        "autoscaling.knative.dev/min-scale"] == "1"
    with pytest.raises(VsbError, match="retention"):
        render_manifests(cfg, "knative", "long")


def test_openfaas_labels_follow_the_regime(config):
    cold = _by_kind(render_manifests(config, "openfaas", "cold").objects(), "Function")
    lab = cold["librosa"]["spec"]["labels"]
    assert lab["com.openfaas.scale.zero"] == "true"
    assert lab["com.openfaas.scale.zero-duration"] == "10s"
    assert lab["com.openfaas.scale.min"] == "1"  # replicas a scale from zero starts
    assert lab["com.openfaas.scale.max"] == "4"
    assert lab["com.openfaas.scale.target"] == "1"
    assert lab["com.openfaas.scale.type"] == "capacity"
    assert cold["librosa"]["spec"]["limits"] == {"memory": "512Mi"}

    warm = _by_kind(render_manifests(config, "openfaas", "warm").objects(), "Function")
    assert warm["librosa"]["spec"]["labels"]["com.openfaas.scale.zero"] == "false"
    assert "com.openfaas.scale.zero-duration" not in warm["librosa"]["spec"]["labels"]

    burst = render_manifests(config, "openfaas", "burst-ready")
    stack = burst.file("stack.yml").documents[0]
    orch = stack["functions"]["orchestrator"]
    assert orch["labels"]["com.openfaas.scale.min"] == "2"
    assert orch["labels"]["com.openfaas.scale.max"] == "8"
    assert orch["labels"]["com.openfaas.scale.target"] == "4"
    assert orch["environment"]["VSB_GATEWAY_URL"] == "http://gateway.openfaas:8080"


def test_stack_file_is_faas_cli_format(config):
    stack = render_manifests(config, "openfaas", "cold").file("stack.yml").documents[0]
    assert stack["version"] == "1.0"
    assert stack["provider"]["name"] == "openfaas"
    assert set(stack["functions"]) == set(FUNCTIONS)
    for name, fn in stack["functions"].items():
        assert set(fn) <= STACK_FUNCTION_FIELDS, name
        assert fn["skip_build"] is True
        assert fn["namespace"] == "openfaas-fn"


def test_kubernetes_deployments_follow_the_regime(config):
    def objects(regime):
        return render_manifests(config, "kubernetes", regime).objects()

    cold = _by_kind(objects("cold"), "Deployment")
    burst = _by_kind(objects("burst-ready"), "Deployment")
    assert set(cold) == set(FUNCTIONS)
    assert cold["search"]["spec"]["replicas"] == 0
    assert burst["search"]["spec"]["replicas"] == 2
    ann = cold["search"]["metadata"]["annotations"]
    assert ann["vsbench.max-replicas"] == "4"
    assert ann["vsbench.idle-timeout"] == "10s"
    assert (_by_kind(objects("warm"), "Deployment")["search"]["metadata"]["annotations"]
            ["vsbench.idle-timeout"]) == "never"

    pod = cold["object-detector"]["spec"]["template"]
    assert pod["metadata"]["labels"]["vsbench.function"] == "object-detector"
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "object-detector"
    c = pod["spec"]["containers"][0]
    assert c["args"] == ["--function", "object-detector", "--host", "0.0.0.0",
                         "--port", "8080"]
    assert "command" not in c  # the image's ENTRYPOINT is the runtime
    assert c["readinessProbe"]["httpGet"] == {"path": "/_/ready", "port": 8080}
    assert (c["readinessProbe"]["periodSeconds"], c["readinessProbe"]["failureThreshold"]) \
        == (1, 1)
    assert c["resources"]["requests"]["memory"] == c["resources"]["limits"]["memory"] == "512Mi"
    svc = _by_kind(objects("cold"), "Service")["object-detector"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"][0]["port"] == 8080


def test_function_env_is_what_the_runtime_reads(config):
    """S3 settings under the names functions/runtime reads them by, keys from the Secret."""
    from functions.runtime.claimcheck import StorageSettings

    names = set(StorageSettings("http://x").to_env())
    for platform in ("kubernetes", "knative"):
        objs = render_manifests(config, platform, "cold").objects()
        for obj in objs:
            if obj["kind"] not in ("Deployment", "Service") or "template" not in obj["spec"]:
                continue
            env = {e["name"]: e for e in obj["spec"]["template"]["spec"]["containers"][0]["env"]}
            assert names <= set(env), obj["metadata"]["name"]
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "vsbench-s3"
            if obj["metadata"]["name"] == "orchestrator":
                assert env["VSB_GATEWAY_URL"]["valueFrom"]["secretKeyRef"]["name"] == \
                    "vsbench-gateway"


def _secret(manifests):
    return manifests.file("s3-secret.yaml").documents[0]["stringData"]


def test_secret_is_random_per_render_unless_a_credentials_file_is_given(config, tmp_path):
    a, b = (_secret(render_manifests(config, "kubernetes", "cold")) for _ in range(2))
    assert a["access_key"] != b["access_key"] and a["secret_key"] != b["secret_key"]
    assert len(a["secret_key"]) >= 32

    creds_file = S3Credentials("AKIATEST", "s3cr3t-from-file").write(tmp_path / "c.yaml")
    creds = S3Credentials.load(creds_file)
    c, d = (_secret(render_manifests(config, "knative", "cold", credentials=creds))
            for _ in range(2))
    assert (c["access_key"], c["secret_key"]) == (d["access_key"], d["secret_key"]) \
        == ("AKIATEST", "s3cr3t-from-file")
    identity = json.loads(c["s3.json"])["identities"][0]["credentials"][0]
    assert identity == {"accessKey": "AKIATEST", "secretKey": "s3cr3t-from-file"}


def test_keys_live_only_in_the_secret_file(config, tmp_path):
    creds = S3Credentials("AKIATEST", "s3cr3t-from-file")
    out = tmp_path / "openfaas"
    paths = write_manifests(render_manifests(config, "openfaas", "cold", credentials=creds), out)
    for path in paths:
        has_key = "s3cr3t-from-file" in path.read_text()
        assert has_key == (path.name == "s3-secret.yaml"), path.name
    assert stat.S_IMODE((out / "s3-secret.yaml").stat().st_mode) == 0o600


def test_output_is_deterministic_aside_from_the_secret(config, tmp_path):
    for run in ("a", "b"):
        write_manifests(render_manifests(config, "openfaas", "burst-ready"), tmp_path / run)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["functions.yaml", "namespace.yaml", "object-store.yaml", "s3-secret.yaml",
                     "stack.yml"]
    for name in names:
        same = (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
        assert same == (name != "s3-secret.yaml"), name
    text = (tmp_path / "a" / "functions.yaml").read_text()
    assert text.startswith("# rendered by vsbench manifests from config/config.yaml regime "
                           "burst-ready; do not edit\n")
    assert "&id" not in text  # no YAML anchors: each object reads on its own
    docs = list(yaml.safe_load_all(text))
    assert [d["metadata"]["name"] for d in docs] == list(FUNCTIONS)


def test_images_come_from_build_records(config, tmp_path):
    from vsbench.images.build import ImageRecord, image_records_dir

    objs = render_manifests(config, "kubernetes", "cold")
    deps = _by_kind(objs.objects(), "Deployment")
    assert deps["asr"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "localhost/vsbench/asr:latest"
    assert any("no image build record" in n and "asr" in n
               for n in objs.file("functions.yaml").notes)

    image_records_dir().mkdir(parents=True)
    rec = ImageRecord("asr", "localhost/vsbench/asr:0123456789ab", "0123456789ab" * 4,
                      "base", "sha", "podman", False, 0.1, 100.0)
    (image_records_dir() / "asr.json").write_text(json.dumps(asdict(rec)))
    objs = render_manifests(config, "knative", "cold", image_prefix="registry.test:5000/vsb/")
    svc = _by_kind(objs.objects(), "Service", "serving.knative.dev/v1")
    assert svc["asr"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.test:5000/vsb/asr:0123456789ab"
    assert svc["search"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.test:5000/vsb/search:latest"
    sts = _by_kind(objs.objects(), "StatefulSet")["seaweedfs"]
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.test:5000/vsb/seaweedfs:latest"
    assert not any("asr:" in n for n in objs.file("functions.yaml").notes)


def test_namespaces(config):
    of = render_manifests(config, "openfaas", "cold")
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in of.objects()} == \
        {"openfaas-fn"}
    kn = render_manifests(config, "knative", "cold", namespace="bench")
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in kn.objects()} == \
        {"bench"}


@pytest.mark.parametrize("args, match", [
    (("kubernetes", "no-such-regime"), "unknown regime 'no-such-regime'"),
    (("swarm", "cold"), "unknown platform 'swarm'"),
])
def test_bad_input_is_one_line(config, args, match):
    with pytest.raises(VsbError, match=match) as exc:
        render_manifests(config, *args)
    assert "\n" not in str(exc.value)


def test_cli_writes_and_reports_errors_in_one_line(tmp_path, capsys):
    from vsbench.cli import main

    assert main(["manifests", "--platform", "knative", "--regime", "cold",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "knative" / "cold" / "functions.yaml").is_file()

    blocker = tmp_path / "file"
    blocker.write_text("")
    capsys.readouterr()
    assert main(["manifests", "--platform", "kubernetes", "--regime", "cold",
                 "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write manifests" in err

    assert main(["manifests", "--platform", "kubernetes", "--regime", "hot",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown regime 'hot'" in err
