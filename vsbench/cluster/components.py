"""What each process of the local cluster is told: its command line and config files.

One node, five processes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
containerd, kubelet); no kube-proxy and no DNS (the vsbench gateway routes to pod addresses
itself, as a faas-netes with direct endpoint routing would). Everything lives under one state
folder, so ``cluster down`` can remove it whole. Settings this kind of machine needs:

- containerd's CRI ``restrict_oom_score_adj = true`` (no CAP_SYS_RESOURCE: without it runc
  fails with "can't get final child's PID from pipe"), runc's state under our folder;
- kubelet ``failCgroupV1: false`` (Kubernetes 1.35+ refuses cgroup v1 by default),
  ``cgroupDriver: cgroupfs`` and ``cgroupsPerQOS: false`` (no systemd), eviction thresholds
  low enough for a shared disk, image garbage collection off (images cannot be pulled back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

NODE_NAME = "vsbench-node"
BRIDGE = "vsb0"
POD_CIDR = "10.244.0.0/24"
BRIDGE_IP = "10.244.0.1"  # the host's address on the pod bridge (node IP, gateway for pods)
SERVICE_CIDR = "10.96.0.0/24"
SERVICE_IP = "10.96.0.1"  # the `kubernetes` Service (no kube-proxy: nothing routes it)
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")


@dataclass
class Layout:
    """Every path and port of one local cluster."""

    state: Path
    bin: Path
    ports: dict[str, int]

    def __getattr__(self, name: str) -> Path:  # the folders, by name
        folders = {"pki": "pki", "logs": "logs", "etcd_data": "etcd", "kubelet_root": "kubelet",
                   "containerd_root": "containerd/root", "containerd_state": "containerd/state",
                   "runc_root": "containerd/runc", "cni_conf": "cni/net.d",
                   "cni_ipam": "cni/ipam", "config": "config"}
        if name in folders:
            return self.state / folders[name]
        raise AttributeError(name)

    @property
    def containerd_sock(self) -> Path:
        return self.state / "containerd" / "containerd.sock"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def component_kubeconfig(self, name: str) -> Path:
        return self.config / f"{name}.kubeconfig"


def cni_conflist(layout: Layout) -> dict:
    return {"cniVersion": "1.0.0", "name": "vsbench", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "dataDir": str(layout.cni_ipam),
                  "ranges": [[{"subnet": POD_CIDR, "gateway": BRIDGE_IP}]]}},
        {"type": "loopback"}]}


def containerd_toml(layout: Layout, cni_bin: str, sandbox_image: str) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{layout.containerd_root}"
state = "{layout.containerd_state}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{layout.containerd_sock}"

[ttrpc]
  address = "{layout.containerd_sock}.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  max_container_log_line_size = 16384

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
  discard_unpacked_layers = false

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{layout.runc_root}"

[{cri}.cni]
  bin_dir = "{cni_bin}"
  conf_dir = "{layout.cni_conf}"
  max_conf_num = 1
"""


def kubelet_config(layout: Layout, pki) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "failCgroupV1": False, "cgroupDriver": "cgroupfs", "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [], "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_sock}",
        "address": BRIDGE_IP, "port": layout.ports["kubelet"], "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": layout.ports["kubelet_healthz"],
        "tlsCertFile": str(pki.kubelet_serving.cert),
        "tlsPrivateKeyFile": str(pki.kubelet_serving.key),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                           "x509": {"clientCAFile": str(pki.ca.cert)}},
        "authorization": {"mode": "AlwaysAllow"},
        "podCIDR": POD_CIDR, "maxPods": 110, "resolvConf": "", "clusterDNS": [],
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False, "localStorageCapacityIsolation": False,
        "syncFrequency": "10s", "nodeStatusUpdateFrequency": "4s",
        "fileCheckFrequency": "0s", "httpCheckFrequency": "0s", "staticPodPath": "",
        "registerNode": True, "rotateCertificates": False, "serverTLSBootstrap": False,
        "shutdownGracePeriod": "0s", "containerLogMaxSize": "10Mi",
        "featureGates": {},
    }


def write_configs(layout: Layout, pki, cni_bin: str, sandbox_image: str) -> None:
    layout.config.mkdir(parents=True, exist_ok=True)
    layout.cni_conf.mkdir(parents=True, exist_ok=True)
    (layout.cni_conf / "10-vsbench.conflist").write_text(json.dumps(cni_conflist(layout),
                                                                    indent=1))
    (layout.config / "containerd.toml").write_text(containerd_toml(layout, cni_bin,
                                                                   sandbox_image))
    (layout.config / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config(layout, pki)))


def commands(layout: Layout, pki) -> dict[str, list[str]]:
    """Each process's command line, in start order."""
    b, p = layout.bin, layout.ports
    etcd_url = f"http://127.0.0.1:{p['etcd']}"
    peer = f"http://127.0.0.1:{p['etcd_peer']}"
    return {
        "etcd": [str(b / "etcd"), "--name", "vsbench", "--data-dir", str(layout.etcd_data),
                 "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"vsbench={peer}", "--listen-metrics-urls", "",
                 "--log-level", "warn"],
        "kube-apiserver": [
            str(b / "kube-apiserver"), "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", BRIDGE_IP,
            "--secure-port", str(p["apiserver"]),
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--client-ca-file", str(pki.ca.cert),
            "--tls-cert-file", str(pki.apiserver.cert),
            "--tls-private-key-file", str(pki.apiserver.key),
            "--kubelet-client-certificate", str(pki.clients["apiserver-kubelet-client"].cert),
            "--kubelet-client-key", str(pki.clients["apiserver-kubelet-client"].key),
            "--kubelet-certificate-authority", str(pki.ca.cert),
            "--kubelet-preferred-address-types", "InternalIP",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(pki.sa_pub),
            "--service-account-signing-key-file", str(pki.sa_key),
            "--authorization-mode", "Node,RBAC", "--allow-privileged=false",
            "--endpoint-reconciler-type", "none", "--profiling=false"],
        "kube-controller-manager": [
            str(b / "kube-controller-manager"),
            "--kubeconfig", str(layout.component_kubeconfig("kube-controller-manager")),
            "--authentication-kubeconfig",
            str(layout.component_kubeconfig("kube-controller-manager")),
            "--authorization-kubeconfig",
            str(layout.component_kubeconfig("kube-controller-manager")),
            "--bind-address", "127.0.0.1", "--secure-port", str(p["controller_manager"]),
            "--leader-elect=false", "--use-service-account-credentials",
            "--service-account-private-key-file", str(pki.sa_key),
            "--root-ca-file", str(pki.ca.cert), "--cluster-name", "vsbench",
            "--controllers", "*,-bootstrapsigner,-tokencleaner,-csrsigning,-nodeipam",
            "--concurrent-deployment-syncs", "10", "--concurrent-replicaset-syncs", "10",
            "--profiling=false"],
        "kube-scheduler": [
            str(b / "kube-scheduler"),
            "--kubeconfig", str(layout.component_kubeconfig("kube-scheduler")),
            "--authentication-kubeconfig", str(layout.component_kubeconfig("kube-scheduler")),
            "--authorization-kubeconfig", str(layout.component_kubeconfig("kube-scheduler")),
            "--bind-address", "127.0.0.1", "--secure-port", str(p["scheduler"]),
            "--leader-elect=false", "--profiling=false"],
        "containerd": ["containerd", "--config", str(layout.config / "containerd.toml")],
        "kubelet": [
            str(b / "kubelet"), "--config", str(layout.config / "kubelet.yaml"),
            "--kubeconfig", str(layout.component_kubeconfig("kubelet")),
            "--root-dir", str(layout.kubelet_root), "--hostname-override", NODE_NAME,
            "--node-ip", BRIDGE_IP, "--cert-dir", str(layout.pki / "kubelet")],
    }
