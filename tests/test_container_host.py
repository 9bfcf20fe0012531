"""The container host: replicas as podman containers of the function images (noop here).

Skipped, with what is missing and the command that makes it, when podman or the noop image is
not there; ``VSB_CONTAINER_IMAGE`` runs one image for every function (a development image).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from conftest import wait_for

from vsbench.errors import VsbError
from vsbench.platform.policy import ScalingPolicy

REPO = Path(__file__).resolve().parents[1]


def _noop_image() -> str:
    """The image noop's containers run, or skip (fail in CI) saying what to do."""
    from conftest import _missing

    if not shutil.which("podman"):
        _missing("podman is not installed; run `vsbench setup --containers`")
    from vsbench.platform.providers import resolve_image

    try:
        image = resolve_image("noop")
    except (VsbError, ImportError) as exc:
        _missing(f"no image for noop ({exc}); run `vsbench build --images noop`")
    if subprocess.run(["podman", "image", "inspect", image], capture_output=True).returncode:
        _missing(f"image {image} for noop is not in podman's store; run "
                 f"`vsbench build --images noop`")
    return image


def podman_json(*args: str) -> list | dict:
    out = subprocess.run(["podman", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


def containers_of(state_dir: Path) -> list[dict]:
    """Every container (running or not) labelled with this platform."""
    return podman_json("ps", "--all", "--format", "json", "--filter",
                       f"label=vsbench.platform={state_dir.resolve()}")


@pytest.fixture(scope="module")
def image():
    return _noop_image()


@pytest.fixture(scope="module")
def platform(image, tmp_path_factory):
    from vsbench.platform.embedded import EmbeddedPlatform

    with EmbeddedPlatform(tmp_path_factory.mktemp("cplatform"), host="container",
                          cpus=1.0) as p:
        yield p
    assert containers_of(p.state_dir) == [], "the platform's stop left containers behind"


@pytest.fixture
def noop(platform, image):
    admin = platform.admin()

    def _deploy(env: dict[str, str] | None = None, **policy) -> ScalingPolicy:
        pol = ScalingPolicy(**{"memory_mb": 96, **policy}).validate()
        admin.deploy("noop", pol, image, env)  # the deployment names the image that runs
        return pol

    yield _deploy
    try:
        admin.remove("noop")
    except VsbError:
        pass


def invoke(platform, timeout=60, **config):
    return requests.post(f"{platform.gateway_url}/function/noop", timeout=timeout,
                         json={"request_id": "t", "stage": "noop", "config": config})


def test_noop_cold_start_runs_in_a_labelled_container_then_scales_to_zero(platform, noop):
    noop(min_replicas=0, max_replicas=1, idle_timeout_s=1.0)
    r = invoke(platform)
    assert r.status_code == 200, r.text
    assert r.headers["X-Vsb-Cold"] == "1"
    rid = r.headers["X-Vsb-Replica"]
    [ctr] = containers_of(platform.state_dir)
    assert ctr["State"] == "running" and ctr["Names"][0].startswith(f"{rid}-")
    labels = ctr["Labels"]
    assert labels["vsbench.replica"] == rid and labels["vsbench.function"] == "noop"
    assert labels["vsbench.platform"] == str(platform.state_dir.resolve())
    assert r.json()["outputs"]["pid"] == 1  # the runtime is the container's init

    # Idle for 1 s: scaled to zero, and the container is really gone (not just stopped).
    wait_for(lambda: platform.admin().function("noop")["replicas"] == 0, what="scale to zero")
    wait_for(lambda: containers_of(platform.state_dir) == [], what="container removed")
    [rec] = platform.logs.replicas.where(replica_id=rid)
    assert rec["host"] == "container" and rec["stop_reason"] == "idle"
    assert rec["container"] == ctr["Names"][0] and rec["container_id"] == ctr["Id"]
    # The runtime's own lifecycle, written to the telemetry folder mounted into the container.
    lines = (platform.state_dir / "telemetry" / "replicas.jsonl").read_text().splitlines()
    life = next(json.loads(ln) for ln in lines if json.loads(ln)["replica_id"] == rid)
    order = [rec["spawn_ts"], rec["create_done_ts"], rec["start_call_ts"],
             life["process_start_ts"], life["runtime_up_ts"], life["ready_ts"],
             rec["ready_ts"], rec["stop_ts"]]
    assert order == sorted(order), order
    assert life["spawn_ts"] == rec["spawn_ts"]  # VSB_SPAWN_TS reached the container


def test_memory_limit_is_the_policys_and_cpus_the_platforms(platform, noop):
    noop(min_replicas=1, max_replicas=1, idle_timeout_s=None, memory_mb=128)
    platform.admin().wait_available(["noop"])
    [ctr] = containers_of(platform.state_dir)
    [info] = podman_json("inspect", ctr["Id"])
    assert info["HostConfig"]["Memory"] == 128 * 2**20
    assert info["HostConfig"]["MemorySwap"] == 128 * 2**20  # no swap beyond the limit
    assert info["HostConfig"]["NetworkMode"] == "host"
    assert info["HostConfig"]["NanoCpus"] == 10**9  # --cpus 1
    replica = platform.gateway.pools["noop"].ready()[0].replica
    wait_for(lambda: replica.rss_mb() > 0, what="cgroup memory reading")
    assert 1 < replica.rss_mb() < 128


@pytest.mark.parametrize("env, reason", [
    ({"VSB_NOOP_INIT_EXIT": "3"}, "exit 3"),
    ({"VSB_NOOP_INIT_FAIL": "no model"}, "init failed on purpose: no model"),
])
def test_failed_start_is_one_502_naming_it_then_backoff(platform, noop, env, reason):
    platform.logs.scale_events.records.clear()
    noop(env=env, min_replicas=0, max_replicas=2, idle_timeout_s=None)
    r = invoke(platform)
    assert r.status_code == 502, r.text
    msg = r.json()["error"]["message"]
    assert "noop-" in msg and "container" in msg and reason in msg, msg
    t0 = time.monotonic()
    again = invoke(platform)  # backing off: fails at once, naming the last failure
    assert time.monotonic() - t0 < 0.5
    assert again.status_code == 503 and reason in again.json()["error"]["message"]
    failed = platform.logs.scale_events.where(function="noop", reason="start_failed")
    assert len(failed) == 1 and failed[0]["backoff_s"] == 1.0
    wait_for(lambda: containers_of(platform.state_dir) == [], what="failed container removed")


def test_missing_image_fails_the_deploy_with_one_line(platform):
    with pytest.raises(VsbError) as exc:
        platform.admin().deploy("noop", ScalingPolicy(memory_mb=96), "localhost/vsbench/absent:0")
    assert "no image for noop (localhost/vsbench/absent:0 is not in" in str(exc.value)
    assert "vsbench build --images" in str(exc.value)


def test_leftovers_of_a_dead_platform_are_removed_at_start(image, tmp_path):
    from vsbench.platform.embedded import EmbeddedPlatform

    state = tmp_path / "platform"
    subprocess.run(["podman", "create", "--label", f"vsbench.platform={state.resolve()}",
                    image], check=True, capture_output=True)
    assert len(containers_of(state)) == 1
    with EmbeddedPlatform(state, host="container") as p:
        assert p.leftovers_removed == 1 and containers_of(state) == []


def test_killed_platform_leaves_no_container(image, tmp_path):
    from vsbench.platform.admin import GatewayAdmin
    from vsbench.platform.auth import BasicAuth
    from vsbench.platform.daemon import platform_up

    state_dir = tmp_path / "platform"
    state = platform_up(state_dir, host="container")
    daemon = psutil.Process(state["pid"])
    family: list[psutil.Process] = []
    try:
        assert state["host"] == "container"
        admin = GatewayAdmin(state["gateway_url"],
                             BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple())
        admin.deploy("noop", ScalingPolicy(min_replicas=2, max_replicas=2,
                                           idle_timeout_s=None, memory_mb=96), image)
        admin.wait_available(["noop"])
        assert [c["State"] for c in containers_of(state_dir)] == ["running", "running"]
        family = daemon.children(recursive=True)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        wait_for(lambda: containers_of(state_dir) == [], timeout=10,
                 what="the dead platform's containers to go")

        def gone(p: psutil.Process) -> bool:
            try:
                return p.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        # its S3 server too (parent-death signal), and anything else it started
        wait_for(lambda: all(gone(p) for p in family), timeout=10,
                 what=f"the dead platform's processes {[p.pid for p in family]} to go")
    finally:
        if daemon.is_running():
            daemon.kill()
        for p in family:  # cleanup when the test failed
            try:
                p.kill()
            except psutil.Error:
                pass


def test_missing_engine_is_one_line_naming_it(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "VSB_PLATFORM_DIR": str(tmp_path / "p")}
    proc = subprocess.run([sys.executable, "-m", "vsbench.cli", "platform", "up", "--host",
                           "container"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "podman is not installed" in line and "vsbench setup --containers" in line
