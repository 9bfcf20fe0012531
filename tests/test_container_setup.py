"""`vsbench setup --containers`: the engine settings this machine needs, written or checked."""

from __future__ import annotations

import pytest

from vsbench.errors import VsbError
from vsbench.images import setup


def test_written_config_has_every_required_setting(tmp_path):
    conf = tmp_path / "containers.conf"
    assert setup.conf_problems(conf)  # absent: everything is missing
    step = setup.configure_podman(conf)
    assert step.detail == f"wrote {conf}"
    assert setup.conf_problems(conf) == []
    text = conf.read_text()
    assert 'runtime = "runc"' in text and 'cgroup_manager = "cgroupfs"' in text
    assert setup.configure_podman(conf).detail.endswith("already set")


def test_a_foreign_config_is_never_overwritten(tmp_path):
    conf = tmp_path / "containers.conf"
    conf.write_text('[engine]\ncgroup_manager = "systemd"\n')
    with pytest.raises(VsbError) as err:
        setup.configure_podman(conf)
    msg = str(err.value)
    assert "cgroup_manager = 'cgroupfs'" in msg and "runtime = 'runc'" in msg
    assert conf.read_text() == '[engine]\ncgroup_manager = "systemd"\n'


def test_missing_tools_without_root_name_the_command(monkeypatch):
    monkeypatch.setattr(setup.shutil, "which", lambda name: None)
    monkeypatch.setattr(setup.os, "geteuid", lambda: 1000)
    with pytest.raises(VsbError) as err:
        setup.install_tools("podman")
    msg = str(err.value)
    assert msg.startswith("missing podman, debootstrap; install with: sudo sh -c")
    assert "apt-get install -y podman buildah runc uidmap fuse-overlayfs debootstrap" in msg
