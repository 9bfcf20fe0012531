"""The platform's S3 server: SeaweedFS on loopback with its own credentials, MinIO and
external stores, and the ``storage`` config that picks one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from vsbench.errors import VsbError
from vsbench.platform.s3server import S3Server
from vsbench.platform.storage import S3Credentials, StorageConfig


def _client(url: str, access_key: str, secret_key: str, **config):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}, **config))


def _status(exc: ClientError) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _vsbench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vsbench.cli", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


# --- SeaweedFS, the default -------------------------------------------------------------


def test_seaweedfs_is_the_default_and_listens_on_loopback_only(s3):
    assert s3.kind == "seaweedfs" and s3.url.startswith("http://127.0.0.1:")
    info = s3.describe()
    assert info["server"] == "seaweedfs" and info["endpoint"] == s3.url
    assert any(c.isdigit() for c in info["version"])  # `weed version`, e.g. 8000GB 4.48 ...
    assert s3.startup_s is not None and s3.startup_s < 30
    listening = [c.laddr for c in psutil.Process(s3.proc.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and {a.ip for a in listening} == {"127.0.0.1"}


def test_put_and_get_with_the_platform_credentials(s3):
    creds = S3Credentials.load(s3.credentials_file)
    assert creds == s3.credentials
    assert oct(s3.credentials_file.stat().st_mode & 0o777) == "0o600"
    client = _client(s3.url, creds.access_key, creds.secret_key)
    body = os.urandom(70_000)
    client.put_object(Bucket=s3.bucket, Key="t/round-trip", Body=body)
    assert client.get_object(Bucket=s3.bucket, Key="t/round-trip")["Body"].read() == body


@pytest.mark.parametrize("which", ["secret", "access"])
def test_wrong_credentials_get_403(s3, which):
    good = s3.credentials
    client = _client(s3.url, "vsbWRONGKEY00000" if which == "access" else good.access_key,
                     "not-the-secret" if which == "secret" else good.secret_key)
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=s3.bucket, Key="t/denied", Body=b"x")
    assert _status(info.value) == 403
    assert info.value.response["Error"]["Code"] in {
        "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"}
    with pytest.raises(ClientError) as info:
        client.list_objects_v2(Bucket=s3.bucket)
    assert _status(info.value) == 403


def test_unsigned_requests_get_403(s3, store):
    store.put_bytes(b"secret data", "t/private")
    anonymous = boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1",
                             config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1},
                                           s3={"addressing_style": "path"}))
    for call in (lambda: anonymous.get_object(Bucket=s3.bucket, Key="t/private"),
                 lambda: anonymous.put_object(Bucket=s3.bucket, Key="t/anon", Body=b"x"),
                 lambda: anonymous.list_objects_v2(Bucket=s3.bucket)):
        with pytest.raises(ClientError) as info:
            call()
        assert _status(info.value) == 403
    # Plain HTTP, no SDK at all.
    for method in ("GET", "PUT"):
        req = urllib.request.Request(f"{s3.url}/{s3.bucket}/t/private", method=method,
                                     data=b"x" if method == "PUT" else None)
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(req, timeout=5)
        assert http.value.code == 403


def test_secret_is_never_logged_nor_described(s3):
    secret = s3.credentials.secret_key
    assert secret not in s3.log_file.read_text()
    assert secret not in repr(s3) and secret not in repr(s3.credentials)
    assert secret not in json.dumps(s3.describe())


def test_stop_leaves_no_process_nor_file_behind(tmp_path):
    glog_files = set(Path("/tmp").glob("weed.*"))
    server = S3Server(tmp_path).start()
    proc = psutil.Process(server.proc.pid)
    family = [proc, *proc.children(recursive=True)]
    sockets = server._ports.socket_files()
    assert sockets  # weed's unix sockets in /tmp, named by port
    server.stop()
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"left running: {[p.pid for p in alive]}"
    assert not [s for s in sockets if s.exists()]
    assert set(Path("/tmp").glob("weed.*")) <= glog_files  # glog writes there by default
    assert server.proc is None
    server.stop()  # idempotent


def test_each_start_gets_fresh_credentials_and_an_empty_store(tmp_path):
    first = S3Server(tmp_path)
    with first:
        first_creds = first.credentials
        _client(first.url, first_creds.access_key, first_creds.secret_key).put_object(
            Bucket=first.bucket, Key="left-over", Body=b"x")
    second = S3Server(tmp_path)
    with second:
        assert second.credentials.access_key != first_creds.access_key
        client = _client(second.url, second.credentials.access_key,
                         second.credentials.secret_key)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=second.bucket)
                .get("Contents", [])]
        assert "left-over" not in keys


def test_credentials_file_gives_the_keys(tmp_path):
    creds_file = S3Credentials("vsbfixedkey0001", "fixed-secret-for-the-test").write(
        tmp_path / "keys.yaml")
    with S3Server(tmp_path / "state", StorageConfig(credentials_file=str(creds_file))) as s:
        assert s.credentials.access_key == "vsbfixedkey0001"
        _client(s.url, "vsbfixedkey0001", "fixed-secret-for-the-test").head_bucket(
            Bucket=s.bucket)


# --- external and minio -----------------------------------------------------------------


def test_external_starts_nothing_and_uses_the_given_keys(s3, tmp_path):
    keys = s3.credentials.write(tmp_path / "keys.yaml")
    before = set(psutil.Process().children(recursive=True))
    ext = S3Server(tmp_path / "state", StorageConfig(server="external", endpoint=s3.url,
                                                       credentials_file=str(keys))).start()
    assert ext.proc is None and set(psutil.Process().children(recursive=True)) == before
    assert ext.url == s3.url and ext.credentials_file == keys
    assert ext.describe()["server"] == "external"
    ext.stop()


def test_external_with_wrong_keys_is_one_clear_error(s3, tmp_path):
    keys = S3Credentials("vsbnotakey000000", "nope").write(tmp_path / "keys.yaml")
    cfg = StorageConfig(server="external", endpoint=s3.url, credentials_file=str(keys))
    with pytest.raises(VsbError) as info:
        S3Server(tmp_path / "state", cfg).start()
    msg = str(info.value)
    assert "\n" not in msg and s3.url in msg and str(keys) in msg and "403" in msg


def test_external_with_a_missing_credentials_file_is_one_clear_line(tmp_path):
    missing = tmp_path / "no-such-keys.yaml"
    cfg = StorageConfig(server="external", endpoint="http://127.0.0.1:9",
                        credentials_file=str(missing))
    with pytest.raises(VsbError) as info:
        cfg.check()
    assert str(missing) in str(info.value) and "no such file" in str(info.value)
    line = _one_line_error(_vsbench("platform", "up", "--s3", "external",
                                    "--s3-endpoint", "http://127.0.0.1:9",
                                    "--s3-credentials-file", str(missing),
                                    env={"VSB_PLATFORM_DIR": str(tmp_path / "p")}))
    assert line.startswith("vsbench platform: error: storage credentials_file ")
    assert str(missing) in line and "access_key and secret_key" in line


def test_credentials_file_without_keys_names_what_is_missing(tmp_path):
    bad = tmp_path / "keys.yaml"
    bad.write_text("access_key: only-this\n")
    with pytest.raises(VsbError, match="missing secret_key"):
        S3Credentials.load(bad)


def test_minio_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(VsbError) as info:
        S3Server(tmp_path, StorageConfig(server="minio")).start()
    msg = str(info.value)
    assert "\n" not in msg and "`minio` binary on PATH" in msg and "seaweedfs" in msg
    line = _one_line_error(_vsbench("platform", "up", "--s3", "minio",
                                    env={"PATH": str(tmp_path / "empty-bin"),
                                         "VSB_PLATFORM_DIR": str(tmp_path / "p")}))
    assert "minio" in line and "PATH" in line
    assert not (tmp_path / "p" / "state.json").exists()


# --- the storage config -----------------------------------------------------------------


def test_config_defaults_env_and_precedence():
    assert StorageConfig.from_config({}, env={}) == StorageConfig()
    assert StorageConfig().server == "seaweedfs"
    assert StorageConfig.from_config({}, env={"VSB_STORAGE_SERVER": "minio"}).server == "minio"
    cfg = StorageConfig.from_config({"storage": {"server": "seaweedfs"}},
                                    env={"VSB_STORAGE_SERVER": "minio"})
    assert cfg.server == "seaweedfs"  # the config wins over the environment
    assert "VSB_STORAGE_SERVER" in StorageConfig.help("server")


@pytest.mark.parametrize("block, words", [
    ({"server": "foo"}, ["'foo'", "seaweedfs, minio, external"]),
    ({"server": "external"}, ["endpoint"]),
    ({"server": "external", "endpoint": "http://127.0.0.1:9"}, ["credentials_file"]),
    ({"server": "seaweedfs", "endpoint": "http://127.0.0.1:9"}, ["only used with"]),
    ({"server": "external", "endpoint": "ftp://x", "credentials_file": "k"}, ["http://"]),
    ({"sever": "minio"}, ["unknown keys ['sever']"]),
])
def test_bad_config_is_one_clear_error(block, words):
    with pytest.raises(VsbError) as info:
        StorageConfig.from_config({"storage": block}, env={})
    msg = str(info.value)
    assert msg.startswith("config storage: ") and "\n" not in msg
    for w in words:
        assert w in msg


def test_bad_server_in_a_config_file_is_one_line_from_the_cli(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("storage:\n  server: foo\n")
    line = _one_line_error(_vsbench("platform", "up", "--config", str(cfg),
                                    env={"VSB_PLATFORM_DIR": str(tmp_path / "p")}))
    assert line.startswith("vsbench platform: error: config storage: server 'foo' is not one")


def test_repository_configs_name_seaweedfs():
    from vsbench.regimes import REPO, load_config

    for name in ("config.yaml", "quick.yaml"):
        assert StorageConfig.from_config(load_config(REPO / "config" / name),
                                         env={}).server == "seaweedfs"


def test_resolved_experiment_carries_the_storage():
    from vsbench.experiment import ExperimentSpec, ResolvedExperiment, resolve_experiment
    from vsbench.regimes import load_config

    config = {**load_config(), "storage": {"server": "minio"}}
    resolved = resolve_experiment(config, ExperimentSpec("cold", "burst", 1, "results"))
    again = ResolvedExperiment.from_json(resolved.to_json())
    assert again.storage == StorageConfig(server="minio")
    assert json.loads(resolved.to_json())["storage"]["server"] == "minio"


# --- on the platform ----------------------------------------------------------------------


@pytest.mark.slow
def test_platform_describes_its_s3_server(tmp_path):
    from functions.runtime.claimcheck import ClaimCheckStore
    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.platform.storage import settings_from_state

    with EmbeddedPlatform(tmp_path / "platform") as platform:
        state = platform.describe()
        assert state["s3_server"] == "seaweedfs" and state["s3_version"]
        assert state["s3_url"].startswith("http://127.0.0.1:")
        # What `vsbench process` and experiments do with state.json: read the key file.
        store = ClaimCheckStore(settings_from_state(json.loads(json.dumps(state))))
        uri = store.put_bytes(b"hello", "t/f.txt")
        assert store.get_bytes(uri) == b"hello"
