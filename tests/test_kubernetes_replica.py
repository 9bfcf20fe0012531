"""How a pod's start is judged, without a cluster: the watch's view of the pod fed by hand.
A reason the kubelet will not get past fails the start at once; one it retries on its next
sync (a secret cache not yet synced) is waited out, up to a grace period."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from vsbench.errors import VsbError
from vsbench.platform import kubernetes_replica as kr


class FakeScaler:
    def __init__(self, view):
        self.cond = threading.Condition()
        self.provider = SimpleNamespace(namespace="ns", local=False)
        self.view, self.released = view, []

    def release(self, view, grace_s, force=False):
        self.released.append(view.name)


def replica(reason: str, message: str = "", since: float = 0.0):
    view = kr.PodView("pod-a", "f", time.time(), reason=reason, message=message,
                      reason_ts=time.time() - since)
    scaler = FakeScaler(view)
    return kr.KubernetesReplica("f", "f-0", scaler, 128, probe=False, pod=view), view, scaler


def test_a_reason_the_kubelet_retries_is_waited_out(monkeypatch):
    rep, view, scaler = replica("CreateContainerConfigError",
                                "failed to sync secret cache: timed out waiting for the condition")
    monkeypatch.setattr(rep, "_read_runtime", lambda: None)

    def kubelet_retries():
        time.sleep(0.3)
        with scaler.cond:
            view.reason, view.message, view.ready = "", "", True
            scaler.cond.notify_all()

    threading.Thread(target=kubelet_retries, daemon=True).start()
    rep.wait_ready(timeout_s=10)
    assert rep.ready_ts is not None and scaler.released == []


def test_a_retried_reason_that_lasts_past_the_grace_fails_the_start_naming_it():
    rep, _, scaler = replica("CreateContainerConfigError", "secret \"s\" not found",
                             since=kr.RETRIED_GRACE_S + 1)
    with pytest.raises(VsbError, match=r'pod pod-a: CreateContainerConfigError \(secret "s" '
                                       r'not found\)'):
        rep.wait_ready(timeout_s=10)
    assert scaler.released == ["pod-a"] and "CreateContainerConfigError" in rep.init_error


def test_a_reason_the_kubelet_will_not_get_past_fails_at_once():
    rep, _, scaler = replica("ErrImageNeverPull", "image not present with pull policy Never")
    t0 = time.monotonic()
    with pytest.raises(VsbError, match="ErrImageNeverPull"):
        rep.wait_ready(timeout_s=10)
    assert time.monotonic() - t0 < 5 and scaler.released == ["pod-a"]


def test_the_watch_records_when_a_reason_began_and_its_message():
    def pod(reason, message):
        waiting = SimpleNamespace(reason=reason, message=message)
        cs = SimpleNamespace(restart_count=0, state=SimpleNamespace(
            running=None, waiting=waiting, terminated=None))
        return SimpleNamespace(
            metadata=SimpleNamespace(uid="u", deletion_timestamp=None),
            spec=SimpleNamespace(node_name="n"),
            status=SimpleNamespace(phase="Pending", pod_ip=None, container_statuses=[cs],
                                   conditions=[]))

    view = kr.PodView("pod-a", "f", 0.0)
    kr.update_view(view, pod("CreateContainerConfigError", "m1"), 10.0)
    kr.update_view(view, pod("CreateContainerConfigError", "m2"), 12.0)
    assert (view.reason, view.message, view.reason_ts) == ("CreateContainerConfigError", "m2",
                                                           10.0)
    kr.update_view(view, pod("ContainerCreating", ""), 13.0)
    assert view.reason_ts == 13.0
