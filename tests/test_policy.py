import pytest

from vsbench.errors import VsbError
from vsbench.platform.policy import PolicyError, ScalingPolicy, parse_duration, parse_memory_mb
from vsbench.regimes import load_config, resolve_regime


def test_deployment_round_trip_through_openfaas_labels():
    p = ScalingPolicy(min_replicas=1, max_replicas=6, target_inflight=2, max_inflight=4,
                      idle_timeout_s=45, queue_timeout_s=30, memory_mb=384)
    body = p.to_deployment("asr", "vsbench/asr:abc")
    assert body["labels"]["com.openfaas.scale.min"] == "1"
    assert body["labels"]["com.openfaas.scale.zero"] == "true"
    assert body["labels"]["com.openfaas.scale.zero-duration"] == "45s"
    assert body["envVars"]["max_inflight"] == "4"
    assert body["limits"]["memory"] == "384Mi"
    assert ScalingPolicy.from_deployment(body) == p


def test_keepalive_policy_round_trips_through_labels_with_every_parameter():
    p = ScalingPolicy(idle_timeout_s=30, keepalive={"policy": "histogram", "bin_s": 2,
                                                    "margin": 0.25}).validate()
    body = p.to_deployment("librosa", "x")
    assert body["labels"]["vsbench.keepalive"] == "histogram"
    assert body["labels"]["vsbench.keepalive.bin_s"] == "2"
    assert body["labels"]["vsbench.keepalive.margin"] == "0.25"
    assert body["labels"]["vsbench.keepalive.tail_pct"] == "99"  # the defaults stated too
    assert ScalingPolicy.from_deployment(body) == p
    assert "vsbench.keepalive" not in ScalingPolicy().to_deployment("x", "x")["labels"]
    body["labels"]["vsbench.keepalive.bin_s"] = "wide"
    with pytest.raises(PolicyError, match="label vsbench.keepalive.bin_s: not a number"):
        ScalingPolicy.from_deployment(body)


def test_never_scale_to_zero_round_trip():
    p = ScalingPolicy(min_replicas=1, idle_timeout_s=None)
    body = p.to_deployment("search", "x")
    assert body["labels"]["com.openfaas.scale.zero"] == "false"
    assert ScalingPolicy.from_deployment(body).idle_timeout_s is None


@pytest.mark.parametrize("text,seconds", [("500ms", 0.5), ("10s", 10), ("15m", 900),
                                          ("1h", 3600), ("7", 7), (2.5, 2.5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text,mb", [("512Mi", 512), ("1Gi", 1024), ("1048576", 1),
                                     ("256M", 244)])
def test_parse_memory(text, mb):
    assert parse_memory_mb(text) == mb


@pytest.mark.parametrize("values,match", [
    ({"min_replicas": 3, "max_replicas": 2}, "max_replicas"),
    ({"target_inflight": 4, "max_inflight": 2}, "target_inflight"),
    ({"idle_timeout_s": 0}, "idle_timeout_s"),
    ({"memory_mb": 0}, "memory_mb"),
    ({"timeout_s": 0}, "timeout_s"),
    ({"idle_timeout": 3}, "unknown policy keys"),
    ({"keepalive": {"policy": "lru"}}, "keepalive.policy must be one of"),
    ({"keepalive": {"policy": "histogram", "bins": 3}}, "no parameter"),
])
def test_invalid_policies_say_why(values, match):
    with pytest.raises(PolicyError, match=match):
        ScalingPolicy.from_dict(values)


def test_default_regimes_resolve():
    config = load_config()
    cold = resolve_regime(config, "cold")
    assert cold["asr"].min_replicas == 0 and cold["asr"].idle_timeout_s == 10
    assert cold["librosa"].memory_mb == 512  # from the registry
    warm = resolve_regime(config, "warm")
    assert all(p.min_replicas >= 1 and p.idle_timeout_s is None for p in warm.values())
    burst = resolve_regime(config, "burst-ready")
    assert burst["ffmpeg-2"].min_replicas >= 2 and burst["ffmpeg-2"].max_replicas == 8


def test_unknown_regime_and_bad_override():
    with pytest.raises(VsbError, match="unknown regime 'hot'"):
        resolve_regime(load_config(), "hot")
    bad = {"regimes": {"x": {"overrides": {"asr": {"min_replicas": -1}}}}}
    with pytest.raises(VsbError, match="regime 'x', function asr"):
        resolve_regime(bad, "x")
