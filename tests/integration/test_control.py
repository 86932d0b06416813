"""tests/integration/test_control.py: the controller's requests to brokers. Topic deletion goes
through StopReplica and waits for brokers that are down; LeaderAndIsr, UpdateMetadata and
StopReplica sent by hand get Kafka's epoch checks and take effect only when newer."""
import json
import os
import socket
import struct

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from keelharness import wait_for
from kwire import call, carray, cstr
from test_replication import FAST

STALE_CONTROLLER_EPOCH, STALE_BROKER_EPOCH, FENCED_LEADER_EPOCH = 11, 77, 74


def has_log(b, topic, p):
    return os.path.isdir(os.path.join(b.logdir, "%s-%d" % (topic, p)))


def controller_id(zkc):
    return json.loads(zkc.get("/controller")[0])["brokerid"]


def test_deletion_waits_for_a_down_broker(cluster, zkc):
    bs = cluster(3, FAST)
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("dl", 2, 3)])["dl"].result(30)
    wait_for(lambda: all(has_log(b, "dl", p) for b in bs for p in range(2)), 30, "the logs")
    ctl = controller_id(zkc)
    down = next(b for b in bs if b.id != ctl)
    up = [b for b in bs if b is not down]
    assert down.stop(timeout=60) == 0

    admin = AdminClient({"bootstrap.servers": up[0].bootstrap})
    with pytest.raises(KafkaException):  # REQUEST_TIMED_OUT: a replica is on a down broker
        admin.delete_topics(["dl"], operation_timeout=3)["dl"].result(30)
    wait_for(lambda: not any(has_log(b, "dl", p) for b in up for p in range(2)), 20,
             "the live brokers to delete their replicas")
    # the znodes stay until every replica is gone
    assert zkc.exists("/brokers/topics/dl") and zkc.exists("/admin/delete_topics/dl")
    assert has_log(down, "dl", 0) and has_log(down, "dl", 1)

    down.start()
    wait_for(lambda: not has_log(down, "dl", 0) and not has_log(down, "dl", 1), 30,
             "broker %d to delete its replicas when it comes back" % down.id)
    wait_for(lambda: zkc.exists("/brokers/topics/dl") is None and
             zkc.exists("/admin/delete_topics/dl") is None and
             zkc.exists("/config/topics/dl") is None, 30, "the znodes to go")
    assert "dl" not in admin.list_topics(timeout=10).topics


def test_delete_with_every_broker_up_answers_once_gone(cluster, zkc):
    bs = cluster(2, FAST)
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("dg", 3, 2)])["dg"].result(30)
    wait_for(lambda: all(has_log(b, "dg", p) for b in bs for p in range(3)), 30, "the logs")
    admin.delete_topics(["dg"], operation_timeout=30)["dg"].result(30)
    # Kafka answers once the topic is gone: no znode and no replica left by then
    assert zkc.exists("/brokers/topics/dg") is None
    assert not any(has_log(b, "dg", p) for b in bs for p in range(3))


def test_topic_deleted_and_created_again_under_the_same_name(cluster, zkc):
    """Deleting a topic and creating another of the same name right after (a common test-suite
    habit): the new topic starts empty at offset 0 on every replica, nothing of the old one is
    read back, and the old logs' directories are all removed."""
    from test_clients import consume_all
    from test_replication import produce
    bs = cluster(3, FAST)
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})

    def make(partitions):
        admin.create_topics([NewTopic("again", partitions, 3)])["again"].result(30)
        wait_for(lambda: all(p.leader >= 0 for p in admin.list_topics("again", timeout=5).topics["again"]
                             .partitions.values()), 30, "leaders of again")

    make(4)
    acked, errors = produce(bs[0].bootstrap, "again", [b"old-%d" % i for i in range(200)])
    assert not errors and len(acked) == 200
    admin.delete_topics(["again"], operation_timeout=30)["again"].result(30)
    make(2)
    acked, errors = produce(bs[0].bootstrap, "again", [b"new-%d" % i for i in range(20)])
    assert not errors and len(acked) == 20
    got = consume_all(bs[0].bootstrap, "again", 20, 2)
    assert sorted(v[1] for v in got.values()) == sorted(acked.values())
    for p in range(2):
        assert sorted(o for (q, o) in got if q == p) == list(range(sum(1 for (q, _) in got if q == p)))
    wait_for(lambda: all(sorted(d for d in os.listdir(b.logdir) if d.startswith("again")) ==
                         ["again-0", "again-1"] for b in bs), 20, "only the new topic's logs")


def test_a_broker_that_slept_through_delete_and_create_sees_the_new_topic(cluster, zkc):
    """A broker that handles its ZooKeeper events late (here stopped with SIGSTOP, well inside its
    session) finds a topic deleted and created again under the same name: every znode is new,
    but its version is 0 again, as before. It must read the new assignment and states (Kafka's
    topic id and the znodes' creation zxids tell them apart) and serve the new topic."""
    import signal
    from test_clients import consume_all
    from test_replication import produce
    bs = cluster(3, FAST)
    ctl = controller_id(zkc)
    late = next(b for b in bs if b.id != ctl)
    other = next(b for b in bs if b.id not in (ctl, late.id))
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap if bs[0] is not late else bs[1].bootstrap})

    def make(replicas):
        admin.create_topics([NewTopic("slept", 1, replica_assignment=[replicas])])["slept"].result(30)

    make([other.id])
    wait_for(lambda: admin.list_topics("slept", timeout=5).topics["slept"].partitions[0].leader == other.id,
             30, "the first topic's leader")
    late.signal(signal.SIGSTOP)
    try:
        admin.delete_topics(["slept"], operation_timeout=30)["slept"].result(30)
        make([late.id])
        wait_for(lambda: zkc.exists("/brokers/topics/slept/partitions/0/state"), 30, "the new state znode")
    finally:
        late.signal(signal.SIGCONT)
    wait_for(lambda: admin.list_topics("slept", timeout=5).topics["slept"].partitions[0].leader == late.id,
             30, "the new topic led by the broker that slept")
    acked, errors = produce(late.bootstrap, "slept", [b"new-%d" % i for i in range(10)], acks="1")
    assert not errors and sorted(o for (_, o) in acked) == list(range(10))
    got = consume_all(late.bootstrap, "slept", 10, 1)
    assert sorted(v[1] for v in got.values()) == sorted(acked.values())
    assert has_log(late, "slept", 0)


def test_a_leader_that_bounced_unseen_loses_its_leaderships(cluster, zkc):
    """A leader killed and restarted while the controller was not looking (stopped, inside its
    own long session) is registered again under a new session before the controller reads
    /brokers/ids: it never saw the broker gone. As Kafka does for bounced brokers, the
    controller handles it as a failure and then a start-up: its leaderships move to another
    in-sync replica under a new leader epoch (a restart may have cut its log's unflushed
    tail), and it follows and rejoins the ISR."""
    import signal
    from test_replication import produce, state
    ctl, = cluster(1, dict(FAST, **{"zookeeper.session.timeout.ms": "20000"}))
    wait_for(lambda: zkc.exists("/controller") and controller_id(zkc) == ctl.id, 30, "broker 1 as controller")
    leader, other = cluster(2, FAST, first_id=2)
    admin = AdminClient({"bootstrap.servers": other.bootstrap})
    admin.create_topics([NewTopic("bounce", 1, replica_assignment=[[leader.id, other.id, ctl.id]])])[
        "bounce"].result(30)
    wait_for(lambda: state(zkc, "bounce", 0)["leader"] == leader.id and len(state(zkc, "bounce", 0)["isr"]) == 3,
             30, "broker 2 leading with a full ISR")
    acked, errors = produce(other.bootstrap, "bounce", [b"v%d" % i for i in range(10)])
    assert not errors and len(acked) == 10
    before = state(zkc, "bounce", 0)
    path = "/brokers/ids/%d" % leader.id
    old = zkc.exists(path).czxid
    ctl.signal(signal.SIGSTOP)
    try:
        leader.kill()
        leader.start()  # registers once its old session has expired (6 s)
        wait_for(lambda: (lambda st: st is not None and st.czxid != old)(zkc.exists(path)), 30,
                 "broker 2 registered again")
        # the state still names it, but no controller has confirmed it since it restarted:
        # it does not lead (a follower fetching from it could truncate to a cut log)
        mine = AdminClient({"bootstrap.servers": leader.bootstrap})
        wait_for(lambda: "bounce-0: to lead once the controller confirms" in leader.log(), 30,
                 "broker 2 holding its leadership")
        part = mine.list_topics("bounce", timeout=10).topics["bounce"].partitions[0]
        assert part.leader == -1 and part.error is not None, part
        assert state(zkc, "bounce", 0)["leader"] == leader.id
    finally:
        ctl.signal(signal.SIGCONT)
    wait_for(lambda: state(zkc, "bounce", 0)["leader_epoch"] > before["leader_epoch"], 20, "a new leader epoch")
    after = state(zkc, "bounce", 0)
    assert after["leader"] == other.id, after
    wait_for(lambda: leader.id in state(zkc, "bounce", 0)["isr"], 30, "broker 2 back in the ISR")


# ---------------------------------------------------------------- requests by hand

def ints(v):
    return carray(v, lambda x: struct.pack(">i", x))


def lai(cepoch, bepoch, topic, p, leader, lepoch, isr, zkv, replicas):
    part = (struct.pack(">iiii", p, cepoch, leader, lepoch) + ints(isr) + struct.pack(">i", zkv) +
            ints(replicas) + ints([]) + ints([]) + b"\x00" + b"\x00")
    body = struct.pack(">iiq", 9, cepoch, bepoch)
    body += carray([topic], lambda t: cstr(t) + carray([part], lambda x: x) + b"\x00")
    return body + carray([], None) + b"\x00"


def um(cepoch, bepoch, topic, p, leader, lepoch, isr, zkv, replicas):
    part = (struct.pack(">iiii", p, cepoch, leader, lepoch) + ints(isr) + struct.pack(">i", zkv) +
            ints(replicas) + ints([]) + b"\x00")
    body = struct.pack(">iiq", 9, cepoch, bepoch)
    body += carray([topic], lambda t: cstr(t) + carray([part], lambda x: x) + b"\x00")
    return body + carray([], None) + b"\x00"


def stop(cepoch, bepoch, topic, p, lepoch, delete):
    part = struct.pack(">iib", p, lepoch, 1 if delete else 0) + b"\x00"
    body = struct.pack(">iiq", 9, cepoch, bepoch)
    body += carray([topic], lambda t: cstr(t) + carray([part], lambda x: x) + b"\x00")
    return body + b"\x00"


def partition_errors(r):
    top = r.take(">h")
    out = {}

    def dec(r):
        t, p, e = r.cstr(), r.take(">i"), r.take(">h")
        r.tags()
        out[(t, p)] = e
    r.carray(dec)
    r.tags()
    assert r.p == len(r.d)
    return top, out


def test_hand_sent_controller_requests(cluster, zkc):
    b = cluster(1)[0]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("hc", 1, 1)])["hc"].result(30)
    wait_for(lambda: zkc.exists("/brokers/topics/hc/partitions/0/state"), 20, "the state")
    epoch = int(zkc.get("/controller_epoch")[0])
    czxid = zkc.exists("/brokers/ids/1").czxid
    st = json.loads(zkc.get("/brokers/topics/hc/partitions/0/state")[0])

    # the current controller epoch is accepted; an older one, or an older broker epoch, is not
    r = call(b, 6, 6, um(epoch, czxid, "hc", 0, 1, st["leader_epoch"], [1], 0, [1]))
    assert r.take(">h") == 0
    r = call(b, 6, 6, um(epoch - 1, czxid, "hc", 0, 1, 50, [1], 50, [1]))
    assert r.take(">h") == STALE_CONTROLLER_EPOCH
    top, errs = partition_errors(call(b, 4, 4, lai(epoch - 1, czxid, "hc", 0, 7, 60, [1, 7], 60, [1, 7])))
    assert top == STALE_CONTROLLER_EPOCH and errs == {("hc", 0): STALE_CONTROLLER_EPOCH}
    top, errs = partition_errors(call(b, 5, 3, stop(epoch, czxid - 1, "hc", 0, -2, True)))
    assert top == STALE_BROKER_EPOCH
    assert has_log(b, "hc", 0)  # none of them changed anything
    md = admin.list_topics("hc", timeout=10).topics["hc"].partitions[0]
    assert md.leader == 1 and md.replicas == [1]

    # a newer UpdateMetadata is what Metadata answers from then on
    r = call(b, 6, 6, um(epoch, czxid, "hc", 0, 1, st["leader_epoch"] + 1, [1, 7], 99, [1, 7]))
    assert r.take(">h") == 0
    md = admin.list_topics("hc", timeout=10).topics["hc"].partitions[0]
    assert md.replicas == [1, 7] and md.isrs == [1, 7]

    # a newer LeaderAndIsr makes this broker follow broker 7: it stops leading
    top, errs = partition_errors(call(b, 4, 4, lai(epoch, czxid, "hc", 0, 7, 100, [1, 7], 100, [1, 7])))
    assert top == 0 and errs == {("hc", 0): 0}
    p = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 2000, "retries": 0})
    fails = []
    p.produce("hc", b"x", partition=0, on_delivery=lambda err, m: fails.append(err))
    p.flush(10)
    assert fails and fails[0] is not None and fails[0].code() != 0
    # the same epoch again changes nothing; a replica set without this broker is refused
    top, errs = partition_errors(call(b, 4, 4, lai(epoch, czxid, "hc", 0, 7, 100, [1, 7], 100, [1, 7])))
    assert errs == {("hc", 0): STALE_CONTROLLER_EPOCH}
    top, errs = partition_errors(call(b, 4, 4, lai(epoch, czxid, "hc", 0, 7, 101, [7], 101, [7, 8])))
    assert errs == {("hc", 0): 3}

    # StopReplica: an older leader epoch is fenced; delete with the deletion epoch removes it
    top, errs = partition_errors(call(b, 5, 3, stop(epoch, czxid, "hc", 0, 50, False)))
    assert errs == {("hc", 0): FENCED_LEADER_EPOCH}
    top, errs = partition_errors(call(b, 5, 3, stop(epoch, czxid, "hc", 0, -2, True)))
    assert top == 0 and errs == {("hc", 0): 0}
    assert not has_log(b, "hc", 0)

    # a truncated request closes only its connection
    body = lai(epoch, czxid, "hc", 0, 1, 200, [1], 200, [1])[:-5]
    hdr = struct.pack(">hhih", 4, 4, 1, 4) + b"test" + b"\x00"
    with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
        assert s.recv(1) == b""
    assert admin.list_topics(timeout=10).brokers
