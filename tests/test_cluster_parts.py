"""The local cluster's parts that need no cluster: module pins, certificates, configs, the
pause image archive."""

from __future__ import annotations

import io
import json
import ssl
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from vsbench.cluster import components as comp
from vsbench.cluster.build import ldflags, required_version, staging_modules, write_module

RELEASE_GOMOD = """module k8s.io/kubernetes

go 1.26.0

require (
	go.etcd.io/etcd/server/v3 v3.7.0 // indirect
	k8s.io/api v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/api => ./staging/src/k8s.io/api
)
"""


def test_module_pins_every_staging_module_at_the_matching_minor(tmp_path):
    assert staging_modules(RELEASE_GOMOD) == ["k8s.io/api", "k8s.io/client-go"]
    assert required_version(RELEASE_GOMOD, "go.etcd.io/etcd/server/v3") == "v3.7.0"
    etcd = write_module(tmp_path, "1.37.2", RELEASE_GOMOD)
    gomod = (tmp_path / "go.mod").read_text()
    assert etcd == "v3.7.0"
    assert "require k8s.io/kubernetes v1.37.2" in gomod
    assert "\tk8s.io/client-go => k8s.io/client-go v0.37.2" in gomod
    assert "staging" not in gomod
    flags = ldflags("1.37.2", etcd)["kubernetes"]
    assert "k8s.io/component-base/version.gitVersion=v1.37.2" in flags
    assert "version.gitMinor=37" in flags


def test_release_without_etcd_is_one_clear_error(tmp_path):
    from vsbench.errors import VsbError

    with pytest.raises(VsbError, match="etcd"):
        write_module(tmp_path, "1.37.2", "module k8s.io/kubernetes\n")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from vsbench.cluster.pki import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"), comp.NODE_NAME,
                    ["127.0.0.1", comp.BRIDGE_IP], comp.SERVICE_IP)


def _cert(path: Path):
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certificates_chain_to_the_ca_and_name_their_users(pki):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    ca = _cert(pki.ca.cert)
    for pair in [pki.apiserver, pki.kubelet, pki.kubelet_serving, *pki.clients.values()]:
        cert = _cert(pair.cert)
        cert.verify_directly_issued_by(ca)  # raises when not signed by our CA
        assert oct(pair.key.stat().st_mode & 0o777) == "0o600"
    admin = _cert(pki.clients["admin"].cert).subject
    assert admin.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    node = _cert(pki.kubelet.cert).subject
    assert node.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        f"system:node:{comp.NODE_NAME}"
    sans = _cert(pki.apiserver.cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    ips = {str(i) for i in sans.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", comp.BRIDGE_IP, comp.SERVICE_IP} <= ips
    # and a TLS stack accepts the pair as a server identity under that CA
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    ctx.load_cert_chain(str(pki.clients["admin"].cert), str(pki.clients["admin"].key))


def test_kubeconfig_inlines_the_certificates(pki, tmp_path):
    from vsbench.cluster.pki import write_kubeconfig

    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:6443", pki.ca.cert,
                            pki.clients["admin"], "vsbench-admin")
    kc = yaml.safe_load(path.read_text())
    assert kc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert kc["users"][0]["user"]["client-key-data"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_configs_carry_what_this_machine_needs(pki, tmp_path):
    layout = comp.Layout(tmp_path / "state", tmp_path / "bin",
                         {"etcd": 1, "etcd_peer": 2, "apiserver": 3, "controller_manager": 4,
                          "scheduler": 5, "kubelet": 6, "kubelet_healthz": 7})
    comp.write_configs(layout, pki, "/usr/lib/cni", "localhost/vsbench/pause:3.10.2")
    toml = tomllib.loads((layout.config / "containerd.toml").read_text())
    cri = toml["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True  # no CAP_SYS_RESOURCE here
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert cri["containerd"]["runtimes"]["runc"]["options"]["Root"].startswith(
        str(layout.state))
    assert toml["root"].startswith(str(layout.state))  # down removes it whole
    kubelet = yaml.safe_load((layout.config / "kubelet.yaml").read_text())
    assert kubelet["failCgroupV1"] is False and kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["cgroupsPerQOS"] is False
    cni = json.loads((layout.cni_conf / "10-vsbench.conflist").read_text())
    assert cni["plugins"][0]["ipam"]["dataDir"].startswith(str(layout.state))
    assert cni["plugins"][0]["ipMasq"] is False  # nothing leaves the machine
    cmds = comp.commands(layout, pki)
    assert all(str(c[0]).startswith(str(layout.bin)) for n, c in cmds.items()
               if n != "containerd")
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        bind = cmds[name][cmds[name].index("--bind-address") + 1]
        assert bind == "127.0.0.1"


def test_pause_archive_is_a_loadable_image(tmp_path):
    from vsbench.cluster.images import PAUSE_IMAGE, image_archive

    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF fake")
    data = image_archive(binary, "/pause", PAUSE_IMAGE)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        assert manifest["RepoTags"] == [PAUSE_IMAGE]
        config = json.load(tar.extractfile(manifest["Config"]))
        layer = tar.extractfile(manifest["Layers"][0]).read()
    import hashlib

    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert config["config"]["Entrypoint"] == ["/pause"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        member = inner.getmember("pause")
        assert member.mode == 0o755 and inner.extractfile(member).read() == b"\x7fELF fake"


@pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v gcc"]).returncode != 0,
                    reason="gcc missing")
def test_pause_compiles_statically(tmp_path):
    from vsbench.cluster.images import build_pause

    src = tmp_path / "pause.c"
    src.write_text("#include <unistd.h>\nint main(void){pause();return 0;}\n")
    archive = build_pause(src, tmp_path / "out")
    out = subprocess.run(["file", str(tmp_path / "out" / "pause")], capture_output=True,
                         text=True)
    assert archive.exists()
    if out.returncode == 0:
        assert "statically linked" in out.stdout


def test_without_root_up_and_setup_say_what_to_run(monkeypatch):
    from vsbench.cluster import local, setup
    from vsbench.errors import VsbError

    monkeypatch.setattr(local.os, "geteuid", lambda: 1000)
    with pytest.raises(VsbError, match="needs root.*sudo vsbench cluster up"):
        local.cluster_up()
    monkeypatch.setattr(setup.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(setup, "_missing", lambda: ["containerd", "gcc"])
    with pytest.raises(VsbError) as exc:
        setup.install_system()
    assert "apt-get install -y containerd gcc" in str(exc.value)


def test_missing_kubeconfig_is_one_line(tmp_path):
    from vsbench.cluster.local import api_client
    from vsbench.errors import VsbError

    with pytest.raises(VsbError, match="no kubeconfig at .*pass --kubeconfig"):
        api_client(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.write_text("this: [is not a kubeconfig")
    with pytest.raises(VsbError, match="cannot be used"):
        api_client(bad)


def test_platform_labels_name_kubernetes_as_a_platform():
    from vsbench.study import platform_label, split_platform_label, study_runs

    assert platform_label("embedded", "kubernetes") == "kubernetes"
    assert split_platform_label("kubernetes") == ("embedded", "kubernetes")
    config = {"study": {"platforms": ["embedded", "kubernetes"], "regimes": ["cold"],
                        "workloads": ["w"], "repetitions": 1},
              "workloads": {"w": {}}}
    assert [(r.label, r.host) for r in study_runs(config)] == [
        ("embedded", "process"), ("kubernetes", "kubernetes")]
