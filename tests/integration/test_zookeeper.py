"""tests/integration/test_zookeeper.py: registration znodes, controller election and failover,
session expiry and re-registration, restart after kill -9, and a broker id held by a live broker."""
import json
import os
import signal
import socket
import struct
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from keelharness import BUILDDIR, Broker, wait_for
from kwire import classic_frame, recv_exact


def controller_id(zkc):
    try:
        return json.loads(zkc.get("/controller")[0])["brokerid"]
    except Exception:
        return None


def test_registration_payload_and_base_paths(cluster, zkc):
    b = cluster(1)[0]
    data, stat = zkc.get("/brokers/ids/%d" % b.id)
    reg = json.loads(data)
    assert reg["version"] == 5
    assert reg["host"] == "127.0.0.1" and reg["port"] == b.port
    assert reg["endpoints"] == ["PLAINTEXT://127.0.0.1:%d" % b.port]
    assert reg["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT"}
    assert reg["jmx_port"] == -1 and isinstance(reg["timestamp"], str) and reg["features"] == {}
    assert stat.ephemeralOwner != 0
    for path in ["/consumers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/changes",
                 "/config/topics", "/config/clients", "/config/users", "/config/brokers", "/config/ips",
                 "/admin/delete_topics", "/isr_change_notification", "/latest_producer_id_block",
                 "/log_dir_event_notification"]:
        assert zkc.exists(path), path
    cid = json.loads(zkc.get("/cluster/id")[0])
    assert cid["version"] == "1" and len(cid["id"]) == 22
    assert json.loads(zkc.get("/controller")[0])["brokerid"] == b.id
    assert zkc.get("/controller_epoch")[0] == b"1"
    meta = open(b.logdir + "/meta.properties").read()
    assert "broker.id=%d" % b.id in meta and "cluster.id=" + cid["id"] in meta


def test_clean_shutdown_removes_znode_at_once(cluster, zkc):
    b = cluster(1)[0]
    assert zkc.exists("/brokers/ids/1")
    assert b.stop() == 0
    assert not zkc.exists("/brokers/ids/1")  # session closed, not expired
    import os
    assert os.path.exists(os.path.join(b.logdir, ".kafka_cleanshutdown"))


def test_controller_failover(cluster, zkc):
    bs = cluster(3)
    first = wait_for(lambda: controller_id(zkc), 10, "a controller")
    epoch = int(zkc.get("/controller_epoch")[0])
    victim = next(b for b in bs if b.id == first)
    victim.kill()
    t0 = time.monotonic()
    new = wait_for(lambda: (lambda c: c if c not in (None, first) else None)(controller_id(zkc)),
                   20, "a new controller")
    assert time.monotonic() - t0 < 15  # within the 6 s session timeout plus slack
    assert int(zkc.get("/controller_epoch")[0]) == epoch + 1
    # the new controller handles later work: create a topic through it
    survivor = next(b for b in bs if b.id == new)
    admin = AdminClient({"bootstrap.servers": survivor.bootstrap})
    wait_for(lambda: admin.list_topics(timeout=5).controller_id == new, 10,
             "metadata to name the new controller")
    # the controller and the live brokers come from two ZooKeeper watches that fire in either
    # order: the broker list may name the dead broker a moment longer
    live = sorted(b.id for b in bs if b.id != first)
    wait_for(lambda: sorted(admin.list_topics(timeout=5).brokers) == live, 10, "metadata without the dead broker")
    admin.create_topics([NewTopic("after-failover", 2, 1)])["after-failover"].result(30)
    wait_for(lambda: zkc.exists("/brokers/topics/after-failover/partitions/1/state"), 20, "partition state")
    for p in range(2):
        st = json.loads(zkc.get("/brokers/topics/after-failover/partitions/%d/state" % p)[0])
        assert st["leader"] != first and st["controller_epoch"] == epoch + 1


def test_session_expiry_reregisters(cluster, zkc):
    b = cluster(1)[0]
    _, st = zkc.get("/brokers/ids/1")
    old_owner = st.ephemeralOwner
    b.signal(signal.SIGSTOP)
    try:
        wait_for(lambda: not zkc.exists("/brokers/ids/1"), 30, "session expiry")
    finally:
        b.signal(signal.SIGCONT)
    wait_for(lambda: zkc.exists("/brokers/ids/1"), 30, "re-registration")
    _, st2 = zkc.get("/brokers/ids/1")
    assert st2.ephemeralOwner != old_owner
    wait_for(lambda: controller_id(zkc) == 1, 30, "re-election")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("after-expiry", 1, 1)])["after-expiry"].result(30)


def test_restart_after_kill9_waits_for_old_session(cluster, zkc):
    b = cluster(1)[0]
    b.kill()
    assert zkc.exists("/brokers/ids/1")  # still held by the dead session
    b.start(wait=False)
    wait_for(lambda: b._started(), 40, "restart after the old session expired")
    _, st = zkc.get("/brokers/ids/1")
    assert st.ephemeralOwner != 0


def test_broker_id_in_use_by_live_broker(cluster, zk, chroot):
    cluster(1)
    dup = Broker(zk.connect + chroot, 1, {"zookeeper.session.timeout.ms": "6000"})
    try:
        dup.start(wait=False)
        rc = dup.proc.wait(40)
        assert rc != 0
        assert "broker.id 1" in dup.log() and "registered" in dup.log()
    finally:
        dup.close()


def test_chroot_is_created(zk, chroot, cluster):
    cluster(1)
    from keelharness import zk_client
    root = zk_client(zk.connect)
    try:
        assert root.exists(chroot + "/brokers/ids/1")
    finally:
        root.stop()


def test_generated_broker_ids_start_above_reserved_max(zk, chroot, zkc):
    """broker.id=-1 takes /brokers/seqid's next version plus reserved.broker.max.id, keeps it in
    meta.properties across restarts; an id above the reserved range is refused."""
    import subprocess
    from keelharness import KEELD
    conf = {"broker.id": "-1", "reserved.broker.max.id": "500"}
    a, b = Broker(zk.connect + chroot, 0, conf), Broker(zk.connect + chroot, 0, conf)
    try:
        a.start()
        wait_for(lambda: zkc.exists("/brokers/ids/501"), 30, "broker 501 registered")
        b.start()
        wait_for(lambda: zkc.exists("/brokers/ids/502"), 30, "broker 502 registered")
        assert "broker.id=501" in open(a.logdir + "/meta.properties").read()
        a.stop()
        a.start()
        wait_for(lambda: zkc.exists("/brokers/ids/501"), 30, "broker 501 back under its id")
        assert sorted(zkc.get_children("/brokers/ids")) == ["501", "502"]
    finally:
        a.close()
        b.close()
    for extra, words in (({"broker.id": "600", "reserved.broker.max.id": "500"}, b"reserved.broker.max.id"),
                         ({"broker.id": "-1", "broker.id.generation.enable": "false"}, b"broker.id")):
        c = Broker(zk.connect + chroot, 0, extra)
        try:
            r = subprocess.run([KEELD, c.config], capture_output=True, timeout=20)
            assert r.returncode != 0 and words in r.stderr, r.stderr
        finally:
            c.close()


@pytest.mark.parametrize("root", [False, True], ids=["no-chroot", "chroot"])
def test_multi_on_an_expired_session_is_refused(zk, chroot, root):
    """A multi sent on a session the server has ended: libzookeeper frees a path twice there
    and aborts the process (a controller whose session expired did); zkutil refuses it with
    ZINVALIDSTATE, which the coordination thread handles like any lost session."""
    probe = os.path.join(BUILDDIR, "tests", "integration", "zk-probe")
    out = subprocess.run([probe, "multi-expired", zk.connect + (chroot if root else "")],
                         capture_output=True, text=True, timeout=120)
    if out.returncode == 2:  # the server did not end the session in time: nothing was tested
        pytest.skip(out.stderr.strip()[:200])
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr[-2000:])
    assert "multi on an expired session: invalid zhandle state" in out.stdout


def test_admin_request_to_a_controller_that_lost_its_session(cluster, zkc):
    """DeleteTopics waiting in the socket of a controller that was SIGSTOPped past its session
    timeout: once it runs again, its answer is a retriable error (a client asks again, the new
    controller), not UNKNOWN_SERVER_ERROR from the ZooKeeper call that failed."""
    bs = cluster(2, {"zookeeper.session.timeout.ms": "3000"})
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(30)
    ctl = next(b for b in bs if b.id == controller_id(zkc))
    name = b"kept"
    body = struct.pack(">ih", 1, len(name)) + name + struct.pack(">i", 30000)  # DeleteTopics v1
    ctl.signal(signal.SIGSTOP)
    try:
        wait_for(lambda: controller_id(zkc) not in (None, ctl.id), 30, "another controller", 0.1)
        with socket.create_connection(("127.0.0.1", ctl.port), timeout=60) as s:
            s.sendall(classic_frame(20, 1, 5, body))
            ctl.signal(signal.SIGCONT)
            resp = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])
    finally:
        ctl.signal(signal.SIGCONT)
    corr, _throttle, n, nlen = struct.unpack_from(">iiih", resp, 0)
    assert (corr, n, resp[14:14 + nlen]) == (5, 1, name)
    # NOT_CONTROLLER once its client knows the session is gone, REQUEST_TIMED_OUT while the
    # client is still reconnecting: both retriable
    assert struct.unpack_from(">h", resp, 14 + nlen)[0] in (41, 7)
    assert zkc.exists("/brokers/topics/kept")
