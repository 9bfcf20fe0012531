"""The local cluster's certificates: one CA, the API server's serving certificate, a client
certificate per component (its user and groups are what RBAC and the Node authorizer see),
the service-account signing key, and kubeconfigs that use them.

Made fresh on every ``cluster up`` (a cluster's identity lives as long as the cluster) with
``cryptography``; private keys are written 0600 and never logged.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml

# component → (common name = user, organisations = groups)
CLIENTS = {
    "admin": ("vsbench-admin", ["system:masters"]),
    "kube-controller-manager": ("system:kube-controller-manager", []),
    "kube-scheduler": ("system:kube-scheduler", []),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ["system:masters"]),
}


def _imports():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        from ..errors import VsbError

        raise VsbError("the local cluster needs the `cryptography` package: "
                       "pip install 'vsbench[cluster]'") from None
    return x509, hashes, serialization, ec, rsa, ExtendedKeyUsageOID, NameOID


@dataclass
class Pair:
    cert: Path
    key: Path


def _write_key(path: Path, key) -> None:
    _, _, serialization, *_ = _imports()
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(pem)


def _cert(subject_cn: str, orgs: list[str], issuer, issuer_key, key, *, ca: bool = False,
          server_names: list[str] | None = None, ips: list[str] | None = None,
          client: bool = False):
    x509, hashes, _, _, _, Eku, NameOID = _imports()
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    name = x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer.subject if issuer is not None else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                          False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                          False, False), critical=True)
        usages = ([Eku.SERVER_AUTH] if server_names or ips else []) + (
            [Eku.CLIENT_AUTH] if client else [])
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names or ips:
        alt = [x509.DNSName(n) for n in server_names or []]
        alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
        b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return b.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def _save(folder: Path, stem: str, cert, key) -> Pair:
    _, _, serialization, *_ = _imports()
    pair = Pair(folder / f"{stem}.crt", folder / f"{stem}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pair.key, key)
    return pair


@dataclass
class ClusterPki:
    folder: Path
    ca: Pair
    apiserver: Pair
    clients: dict[str, Pair]
    kubelet: Pair  # the node's client certificate (system:node:<name>)
    kubelet_serving: Pair
    sa_key: Path
    sa_pub: Path


def make_pki(folder: Path, node_name: str, server_ips: list[str],
             service_ip: str) -> ClusterPki:
    x509, _, serialization, ec, rsa, *_ = _imports()
    folder.mkdir(parents=True, exist_ok=True)

    def new_key():
        return ec.generate_private_key(ec.SECP256R1())

    ca_key = new_key()
    ca_cert = _cert("vsbench-local-ca", [], None, None, ca_key, ca=True)
    ca = _save(folder, "ca", ca_cert, ca_key)
    key = new_key()
    names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"]
    api = _save(folder, "apiserver", _cert("kube-apiserver", [], ca_cert, ca_key, key,
                                           server_names=names,
                                           ips=[*server_ips, service_ip]), key)
    clients = {}
    for comp, (cn, orgs) in CLIENTS.items():
        key = new_key()
        clients[comp] = _save(folder, comp, _cert(cn, orgs, ca_cert, ca_key, key,
                                                  client=True), key)
    key = new_key()
    kubelet = _save(folder, "kubelet-client", _cert(f"system:node:{node_name}",
                                                    ["system:nodes"], ca_cert, ca_key, key,
                                                    client=True), key)
    key = new_key()
    serving = _save(folder, "kubelet-serving", _cert(node_name, [], ca_cert, ca_key, key,
                                                     server_names=[node_name, "localhost"],
                                                     ips=server_ips), key)
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_key = folder / "sa.key"
    _write_key(sa_key, sa)
    sa_pub = folder / "sa.pub"
    sa_pub.write_bytes(sa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return ClusterPki(folder, ca, api, clients, kubelet, serving, sa_key, sa_pub)


def write_kubeconfig(path: Path, server: str, ca: Path, client: Pair, user: str) -> Path:
    """A kubeconfig with the certificates inlined (it stays valid wherever it is copied)."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "vsbench-local",
        "clusters": [{"name": "vsbench-local", "cluster": {
            "server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(client.cert),
                                          "client-key-data": b64(client.key)}}],
        "contexts": [{"name": "vsbench-local", "context": {"cluster": "vsbench-local",
                                                           "user": user}}],
    }
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
