"""tests/integration/test_reassign.py: partition reassignment through the controller: the
AlterPartitionReassignments / ListPartitionReassignments APIs (spoken here over a raw socket,
flexible v0) and the legacy /admin/reassign_partitions znode. Data moves to the new replicas
before the old ones are dropped, and the dropped ones delete their copy."""
import json
import os
import signal
import struct

from confluent_kafka.admin import AdminClient, NewTopic

from keelharness import wait_for
from kwire import call, carray, cstr
from test_clients import consume_all as _consume_all
from test_replication import FAST, produce, segment_bytes, state

TOPIC = "mv"


# ---------------------------------------------------------------- the two APIs

def alter(broker, moves):
    """moves: {(topic, p): [replicas] or None (cancel)}. Returns (top error, {(t, p): (err, msg)})."""
    topics = {}
    for (t, p), r in moves.items():
        topics.setdefault(t, []).append((p, r))

    def enc_part(pr):
        p, r = pr
        return struct.pack(">i", p) + carray(r, lambda x: struct.pack(">i", x)) + b"\x00"

    def enc_topic(t):
        return cstr(t) + carray(topics[t], enc_part) + b"\x00"
    body = struct.pack(">i", 30000) + carray(list(topics), enc_topic) + b"\x00"
    r = call(broker, 45, 0, body)
    r.take(">i")
    top, _msg = r.take(">h"), r.cstr()
    out = {}

    def dec_topic(r):
        name = r.cstr()

        def dec_part(r):
            p, err, msg = r.take(">i"), r.take(">h"), r.cstr()
            r.tags()
            out[(name, p)] = (err, msg)
        r.carray(dec_part)
        r.tags()
    r.carray(dec_topic)
    r.tags()
    assert r.p == len(r.d)
    return top, out


def list_reassignments(broker, tps=None):
    """Returns (top error, {(t, p): (replicas, adding, removing)})."""
    if tps is None:
        topics = None
    else:
        topics = {}
        for t, p in tps:
            topics.setdefault(t, []).append(p)
        topics = list(topics.items())

    def enc_topic(tp):
        return cstr(tp[0]) + carray(tp[1], lambda x: struct.pack(">i", x)) + b"\x00"
    body = struct.pack(">i", 30000) + carray(topics, enc_topic) + b"\x00"
    r = call(broker, 46, 0, body)
    r.take(">i")
    top, _msg = r.take(">h"), r.cstr()
    out = {}

    def ints(r):
        return r.carray(lambda r: r.take(">i"))

    def dec_topic(r):
        name = r.cstr()

        def dec_part(r):
            p = r.take(">i")
            out[(name, p)] = (ints(r), ints(r), ints(r))
            r.tags()
        r.carray(dec_part)
        r.tags()
    r.carray(dec_topic)
    r.tags()
    assert r.p == len(r.d)
    return top, out


# ---------------------------------------------------------------- helpers

def assignment(zkc, topic=TOPIC):
    return json.loads(zkc.get("/brokers/topics/%s" % topic)[0])


def controller(bs, zkc):
    cid = json.loads(zkc.get("/controller")[0])["brokerid"]
    return next(b for b in bs if b.id == cid)


def create(bs, topic, assign):
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    nt = NewTopic(topic, len(assign), replica_assignment=assign, config={"min.insync.replicas": "2"})
    admin.create_topics([nt], operation_timeout=30)[topic].result(30)
    wait_for(lambda: all(os.path.isdir(os.path.join(b.logdir, "%s-%d" % (topic, p)))
                         for p, r in enumerate(assign) for b in bs if b.id in r), 30, "the logs")


def done(zkc, topic, p, target):
    a = assignment(zkc, topic)
    s = state(zkc, topic, p)
    return (a["partitions"][str(p)] == target and not a["adding_replicas"] and
            not a["removing_replicas"] and sorted(s["isr"]) == sorted(target))


def consume_all(bootstrap, topic, count):
    got = _consume_all(bootstrap, topic, count, partitions=len(
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10).topics[topic].partitions))
    return [v[1] for v in got.values()]


def has_log(b, topic, p):
    return os.path.isdir(os.path.join(b.logdir, "%s-%d" % (topic, p)))


# ---------------------------------------------------------------- tests

def test_reassign_moves_the_data_then_drops_the_old_replica(cluster, zkc):
    bs = cluster(4, FAST)
    by = {b.id: b for b in bs}
    create(bs, TOPIC, [[1, 2, 3], [2, 3, 1]])
    values = [b"r%d" % i for i in range(300)]
    # no sticky partitioning: it may put all 300 on one partition, and partition 0 is checked
    acked, errors = produce(bs[0].bootstrap, TOPIC, values, acks="all", **{"sticky.partitioning.linger.ms": 0})
    assert {p for p, _ in acked} == {0, 1}
    assert not errors and len(acked) == len(values)
    assert not has_log(by[4], TOPIC, 0)
    epoch = state(zkc, TOPIC, 0)["leader_epoch"]
    ctl = controller(bs, zkc)

    top, res = alter(ctl, {(TOPIC, 0): [1, 2, 4]})
    assert top == 0 and res == {(TOPIC, 0): (0, None)}
    wait_for(lambda: done(zkc, TOPIC, 0, [1, 2, 4]), 40, "the reassignment of %s-0" % TOPIC)
    assert state(zkc, TOPIC, 0)["leader_epoch"] > epoch
    wait_for(lambda: not has_log(by[3], TOPIC, 0), 20, "broker 3 to delete its copy")
    assert has_log(by[3], TOPIC, 1)  # the other partition is untouched
    assert assignment(zkc)["partitions"]["1"] == [2, 3, 1]
    leader = by[state(zkc, TOPIC, 0)["leader"]]
    wait_for(lambda: segment_bytes(by[4], TOPIC, 0) == segment_bytes(leader, TOPIC, 0), 20,
             "broker 4's copy to match the leader's")
    assert len(segment_bytes(by[4], TOPIC, 0)) > 0
    got = consume_all(bs[0].bootstrap, TOPIC, len(values))
    assert sorted(got) == sorted(values)
    top, res = list_reassignments(ctl)
    assert top == 0 and res == {}


def test_reassignment_in_flight_listed_then_cancelled(cluster, zkc):
    """A stopped new replica cannot catch up: the reassignment stays in flight, is listed with
    its adding/removing replicas, and a cancel puts the old replica set back."""
    bs = cluster(4, dict(FAST, **{"zookeeper.session.timeout.ms": "30000"}))
    by = {b.id: b for b in bs}
    ctl = controller(bs, zkc)
    x = max(i for i in by if i != ctl.id)  # the new replica, stopped; never the controller
    old = sorted(i for i in by if i != x)
    target, gone = old[:2] + [x], old[2]
    create(bs, TOPIC, [old])
    acked, errors = produce(ctl.bootstrap, TOPIC, [b"x%d" % i for i in range(50)], acks="all")
    assert not errors
    by[x].signal(signal.SIGSTOP)
    try:
        top, res = alter(ctl, {(TOPIC, 0): target})
        assert top == 0 and res[(TOPIC, 0)][0] == 0
        a = assignment(zkc)
        assert a["partitions"]["0"] == target + [gone]
        assert a["adding_replicas"] == {"0": [x]} and a["removing_replicas"] == {"0": [gone]}
        top, res = list_reassignments(ctl)
        assert top == 0 and res == {(TOPIC, 0): (target + [gone], [x], [gone])}
        top, res = list_reassignments(ctl, [(TOPIC, 0), ("nosuch", 1)])
        assert res == {(TOPIC, 0): (target + [gone], [x], [gone])}
        top, res = list_reassignments(ctl, [(TOPIC, 1)])
        assert res == {}
        # the metadata clients see includes every replica of the move
        md = AdminClient({"bootstrap.servers": ctl.bootstrap}).list_topics(TOPIC, timeout=10)
        assert sorted(md.topics[TOPIC].partitions[0].replicas) == [1, 2, 3, 4]

        top, res = alter(ctl, {(TOPIC, 0): None})
        assert top == 0 and res[(TOPIC, 0)][0] == 0
        a = assignment(zkc)
        assert a["partitions"]["0"] == old
        assert not a["adding_replicas"] and not a["removing_replicas"]
        top, res = list_reassignments(ctl)
        assert res == {}
        top, res = alter(ctl, {(TOPIC, 0): None})
        assert res[(TOPIC, 0)][0] == 85  # NO_REASSIGNMENT_IN_PROGRESS
    finally:
        by[x].signal(signal.SIGCONT)
    wait_for(lambda: not has_log(by[x], TOPIC, 0), 30, "broker %d to drop the cancelled copy" % x)
    assert sorted(state(zkc, TOPIC, 0)["isr"]) == old


def test_leader_moves_into_the_target(cluster, zkc):
    bs = cluster(4, FAST)
    create(bs, TOPIC, [[1, 2, 3]])
    produce(bs[0].bootstrap, TOPIC, [b"a", b"b", b"c"], acks="all")
    assert state(zkc, TOPIC, 0)["leader"] == 1
    top, res = alter(controller(bs, zkc), {(TOPIC, 0): [4, 3, 2]})
    assert top == 0 and res[(TOPIC, 0)][0] == 0
    wait_for(lambda: done(zkc, TOPIC, 0, [4, 3, 2]), 40, "the reassignment")
    assert state(zkc, TOPIC, 0)["leader"] in (2, 3, 4)
    assert sorted(consume_all(bs[0].bootstrap, TOPIC, 3)) == [b"a", b"b", b"c"]
    wait_for(lambda: not has_log(bs[0], TOPIC, 0), 20, "broker 1 to delete its copy")


def test_legacy_znode_reassignment(cluster, zkc):
    bs = cluster(4, FAST)
    by = {b.id: b for b in bs}
    create(bs, TOPIC, [[1, 2, 3], [3, 1, 2]])
    produce(bs[0].bootstrap, TOPIC, [b"z%d" % i for i in range(40)], acks="all")
    zkc.create("/admin/reassign_partitions", json.dumps({"version": 1, "partitions": [
        {"topic": TOPIC, "partition": 0, "replicas": [1, 2, 4]},
        {"topic": TOPIC, "partition": 1, "replicas": [4, 1, 2], "log_dirs": ["any"] * 3},
        {"topic": "nosuch", "partition": 0, "replicas": [1]}]}).encode())
    wait_for(lambda: done(zkc, TOPIC, 0, [1, 2, 4]) and done(zkc, TOPIC, 1, [4, 1, 2]), 40,
             "both reassignments")
    wait_for(lambda: zkc.exists("/admin/reassign_partitions") is None, 20, "the znode to go")
    wait_for(lambda: not has_log(by[3], TOPIC, 0) and not has_log(by[3], TOPIC, 1), 20,
             "broker 3 to delete its copies")
    assert sorted(consume_all(bs[0].bootstrap, TOPIC, 40)) == sorted(b"z%d" % i for i in range(40))


def test_bad_reassignments_get_kafkas_errors(cluster, zkc):
    bs = cluster(3, FAST)
    create(bs, TOPIC, [[1, 2], [2, 3]])
    ctl = controller(bs, zkc)
    top, res = alter(ctl, {(TOPIC, 0): [], (TOPIC, 1): [1, 1], ("nosuch", 0): [1],
                           (TOPIC, 7): [1]})
    assert top == 0
    assert res[(TOPIC, 0)][0] == 39 and "Empty replica list" in res[(TOPIC, 0)][1]
    assert res[(TOPIC, 1)][0] == 39 and "Duplicate" in res[(TOPIC, 1)][1]
    assert res[("nosuch", 0)][0] == 3 and res[(TOPIC, 7)][0] == 3
    top, res = alter(ctl, {(TOPIC, 0): [1, 9]})
    assert res[(TOPIC, 0)][0] == 39 and "not alive" in res[(TOPIC, 0)][1]
    top, res = alter(ctl, {(TOPIC, 0): [1, -2]})
    assert res[(TOPIC, 0)][0] == 39
    top, res = alter(ctl, {(TOPIC, 0): list(range(1, 18))})
    assert res[(TOPIC, 0)][0] == 39
    other = next(b for b in bs if b.id != ctl.id)
    top, res = alter(other, {(TOPIC, 0): [1, 3]})
    assert top == 41 and res == {}
    top, res = list_reassignments(other)
    assert top == 41
    # nothing moved, and the broker still answers
    a = assignment(zkc)
    assert a["partitions"] == {"0": [1, 2], "1": [2, 3]}
    top, res = list_reassignments(ctl)
    assert top == 0 and res == {}
