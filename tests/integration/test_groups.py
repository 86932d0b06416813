"""tests/integration/test_groups.py: consumer groups against keel's coordinator with real clients:
librdkafka (confluent-kafka-python) with the range, roundrobin and cooperative-sticky assignors,
kafka-python, members joining, leaving and dying, static membership, committed offsets across
restarts, and Kafka's error codes for bad requests."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from keelharness import wait_for

NP = 6


def make_topic(b, name=None, parts=NP, rf=1, records=0):
    name = name or "gt"
    admin = AdminClient({"bootstrap.servers": b.bootstrap})  # alive until the future is done
    admin.create_topics([NewTopic(name, parts, rf)])[name].result(30)
    if records:
        p = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(records):
            p.produce(name, b"v%d" % i, partition=i % parts)
        assert p.flush(30) == 0
    return name


def consumer(b, group="g", **conf):
    c = {"bootstrap.servers": b.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
         "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "enable.auto.commit": False}
    c.update(conf)
    return Consumer(c)


def poll_all(cs, seconds=0.1, sink=None):
    for c in cs:
        m = c.poll(seconds)
        if m is not None and m.error() is None and sink is not None:
            sink.append((m.partition(), m.offset()))


def assignments(cs):
    return [sorted(tp.partition for tp in c.assignment()) for c in cs]


def leave(cs, others=()):
    """Unsubscribe cs, wait until they own nothing (polling them and the others, who take the
    partitions over), then close them. librdkafka before 2.4 can hang for good in close() when a
    cooperative assignment reaches a consumer that is closing (librdkafka #4527)."""
    for c in cs:
        c.unsubscribe()
    wait_for(lambda: poll_all(list(cs) + list(others), 0.05) or not any(c.assignment() for c in cs), 30,
             "the leaving members to give their partitions back", 0)
    for c in cs:
        c.close()


def wait_balanced(cs, total=NP, timeout=40, sink=None):
    """Polls until every partition is owned by exactly one member and the shares are even."""
    def ok():
        poll_all(cs, 0.05, sink)
        a = assignments(cs)
        flat = sorted(p for x in a for p in x)
        return flat == list(range(total)) and max(map(len, a)) - min(map(len, a)) <= 1 and a
    return wait_for(ok, timeout, "a balanced assignment over %d members" % len(cs), 0)


@pytest.mark.parametrize("strategy", ["range", "roundrobin", "cooperative-sticky"])
def test_members_share_the_partitions(cluster, strategy):
    b = cluster(1)[0]
    make_topic(b, records=60)
    cs = [consumer(b, **{"partition.assignment.strategy": strategy}) for _ in range(3)]
    try:
        for c in cs:
            c.subscribe(["gt"])
        got = []
        assert list(map(len, wait_balanced(cs, sink=got))) == [2, 2, 2]
        wait_for(lambda: poll_all(cs, 0.05, got) or len(set(got)) >= 60, 30, "every record")
        assert len(set(got)) == 60
        # one leaves: the other two own all six
        leave([cs.pop()], cs)
        assert sorted(map(len, wait_balanced(cs))) == [3, 3]
        # one joins again: back to two each
        cs.append(consumer(b, **{"partition.assignment.strategy": strategy}))
        cs[-1].subscribe(["gt"])
        assert list(map(len, wait_balanced(cs))) == [2, 2, 2]
    finally:
        leave(cs)


CHILD = r"""
import sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "g", "session.timeout.ms": 6000,
              "heartbeat.interval.ms": 500, "auto.offset.reset": "earliest"})
c.subscribe(["gt"])
while True:
    c.poll(0.1)
    if c.assignment():
        print("assigned", flush=True)
"""


def test_a_killed_member_is_dropped_after_its_session(cluster):
    b = cluster(1)[0]
    make_topic(b)
    child = subprocess.Popen([sys.executable, "-c", CHILD, b.bootstrap], stdout=subprocess.PIPE)
    cs = [consumer(b), consumer(b)]
    try:
        for c in cs:
            c.subscribe(["gt"])
        wait_for(lambda: poll_all(cs, 0.05) or sorted(map(len, assignments(cs))) == [2, 2], 40,
                 "the three members to share the partitions")
        child.send_signal(signal.SIGKILL)  # no LeaveGroup
        child.wait()
        t = time.monotonic()
        assert sorted(map(len, wait_balanced(cs, timeout=30))) == [3, 3]
        assert time.monotonic() - t > 3  # it took the session timeout, not a leave
    finally:
        child.kill()
        for c in cs:
            c.close()


def test_committed_offsets_survive_a_restart(cluster):
    b = cluster(1)[0]
    make_topic(b, records=60)
    c = consumer(b)
    c.subscribe(["gt"])
    got = []
    wait_for(lambda: poll_all([c], 0.1, got) or len(got) >= 60, 30, "the records")
    c.commit(asynchronous=False)
    committed = {tp.partition: tp.offset for tp in c.committed([TopicPartition("gt", p) for p in range(NP)], 10)}
    assert committed == {p: 10 for p in range(NP)}
    c.close()
    b.stop()
    b.start()
    c = consumer(b)
    try:
        committed = {tp.partition: tp.offset for tp in c.committed([TopicPartition("gt", p) for p in range(NP)], 30)}
        assert committed == {p: 10 for p in range(NP)}
        # a new record per partition: only those are read
        p = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(NP):
            p.produce("gt", b"new%d" % i, partition=i)
        p.flush(10)
        c.subscribe(["gt"])
        got = []
        wait_for(lambda: poll_all([c], 0.1, got) or len(got) >= NP, 30, "the new records")
        assert sorted(got) == [(p, 10) for p in range(NP)]
        # nothing committed for another group: -1 (librdkafka's OFFSET_INVALID)
        other = consumer(b, group="never")
        assert [tp.offset for tp in other.committed([TopicPartition("gt", 0)], 10)] == [OFFSET_INVALID]
        other.close()
    finally:
        c.close()


def test_auto_offset_reset_latest(cluster):
    b = cluster(1)[0]
    make_topic(b, parts=1, records=5)
    c = consumer(b, group="late", **{"auto.offset.reset": "latest"})
    c.subscribe(["gt"])
    try:
        wait_for(lambda: poll_all([c], 0.1) or c.assignment(), 30, "an assignment")
        time.sleep(1)
        p = Producer({"bootstrap.servers": b.bootstrap})
        p.produce("gt", b"after", partition=0)
        p.flush(10)
        got = []
        wait_for(lambda: poll_all([c], 0.1, got) or got, 30, "the new record")
        assert got == [(0, 5)]
    finally:
        c.close()


@pytest.mark.parametrize("assignor", ["range", "roundrobin"])
def test_kafka_python_group(cluster, assignor):
    """kafka-python blocks inside poll() while its JoinGroup waits for the rest of the group,
    so each member polls on a thread of its own, as applications do."""
    import threading
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    strategy = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[assignor]
    b = cluster(1)[0]
    make_topic(b, records=60)
    cs = [KafkaConsumer("gt", bootstrap_servers=b.bootstrap, group_id="kp", auto_offset_reset="earliest",
                        enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500,
                        partition_assignment_strategy=[strategy])
          for _ in range(2)]
    seen, halt = set(), threading.Event()

    def run(c):
        while not halt.is_set():
            for recs in c.poll(timeout_ms=100).values():
                seen.update((r.partition, r.offset) for r in recs)
    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in cs]
    for t in threads:
        t.start()
    try:
        def balanced():
            a = [sorted(tp.partition for tp in c.assignment()) for c in cs]
            return sorted(p for x in a for p in x) == list(range(NP)) and all(len(x) == 3 for x in a)
        wait_for(balanced, 60, "kafka-python members to share the partitions")
        wait_for(lambda: len(seen) >= 60, 30, "every record")
    finally:
        halt.set()
        for t in threads:
            t.join(10)
    for c in cs:  # a member may not have read its new partitions yet: until each is at the end
        wait_for(lambda: c.poll(timeout_ms=100) is not None and
                 all(c.position(tp) == 10 for tp in c.assignment()), 30, "the positions")
        c.commit()
    assert {p: cs[0].committed(KTP("gt", p)) for p in range(NP)} == {p: 10 for p in range(NP)}
    for c in cs:
        c.close()


def test_static_member_restart_keeps_its_assignment(cluster):
    b = cluster(1)[0]
    make_topic(b)
    conf = {"group.instance.id": "i1", "session.timeout.ms": 10000}
    a, other = consumer(b, **conf), consumer(b, **{"group.instance.id": "i2", "session.timeout.ms": 10000})
    rebalances = []
    try:
        a.subscribe(["gt"])
        other.subscribe(["gt"], on_assign=lambda c, parts: rebalances.append(len(parts)))
        first = wait_balanced([a, other])
        wait_for(lambda: poll_all([a, other], 0.05) or rebalances[-1:] == [3], 20, "the settled assignment")
        seen = len(rebalances)
        a.close()  # a static member's close sends no LeaveGroup: no rebalance
        a = consumer(b, **conf)
        a.subscribe(["gt"])
        again = wait_balanced([a, other])
        assert again == first
        for _ in range(20):
            poll_all([a, other], 0.05)
        assert len(rebalances) == seen  # the other member was never reassigned
        # a second member with the same instance id fences the first
        dup = consumer(b, **conf)
        dup.subscribe(["gt"])
        errs = []

        def fenced():
            for m in (a.poll(0.1), dup.poll(0.1)):
                if m is not None and m.error() is not None:
                    errs.append(m.error())
            # librdkafka makes it fatal: _FATAL with the broker's FENCED_INSTANCE_ID text
            return any(e.code() == KafkaError.FENCED_INSTANCE_ID or
                       (e.code() == KafkaError._FATAL and "Static consumer fenced" in e.str())
                       for e in errs)
        wait_for(fenced, 30, "FENCED_INSTANCE_ID")
        dup.close()
    finally:
        a.close()
        other.close()


# ---------------------------------------------------------------- raw requests

def req(b, key, version, body):
    hdr = struct.pack(">hhih", key, version, 7, 4) + b"test"
    with socket.create_connection(("127.0.0.1", b.port), timeout=20) as s:
        s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
        n = struct.unpack(">i", _recv(s, 4))[0]
        data = _recv(s, n)
    assert struct.unpack(">i", data[:4])[0] == 7
    return data[4:]


def _recv(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk
        buf += chunk
    return buf


def s16(v):
    return struct.pack(">h", len(v)) + v


def join(b, group, member=b"", session=6000, protocol_type=b"consumer", protocols=((b"range", b"\x00\x00"),),
         version=1):
    body = s16(group.encode()) + struct.pack(">i", session) + struct.pack(">i", 10000)
    body += s16(member) + s16(protocol_type) + struct.pack(">i", len(protocols))
    for name, meta in protocols:
        body += s16(name) + struct.pack(">i", len(meta)) + meta
    r = req(b, 11, version, body)
    if version >= 2:
        r = r[4:]  # throttle_time_ms
    err, gen = struct.unpack(">hi", r[:6])
    off = 6
    proto_len = struct.unpack(">h", r[off:off + 2])[0]
    off += 2 + proto_len
    leader_len = struct.unpack(">h", r[off:off + 2])[0]
    off += 2 + leader_len
    mlen = struct.unpack(">h", r[off:off + 2])[0]
    mid = r[off + 2:off + 2 + mlen]
    return err, gen, mid


def test_bad_group_requests_get_kafkas_errors(cluster):
    b = cluster(1)[0]
    make_topic(b, parts=1)
    # the coordinator first: FindCoordinator until the offsets topic is there
    wait_for(lambda: struct.unpack(">h", req(b, 10, 0, s16(b"bad"))[:2])[0] == 0, 30, "a coordinator")
    assert join(b, "bad", session=100)[0] == 26                  # INVALID_SESSION_TIMEOUT
    assert join(b, "bad", member=b"nobody")[0] == 25             # UNKNOWN_MEMBER_ID
    assert join(b, "", member=b"")[0] == 24                      # INVALID_GROUP_ID
    assert join(b, "bad", protocol_type=b"")[0] == 23            # INCONSISTENT_GROUP_PROTOCOL
    err, gen, mid = join(b, "bad")                               # v1: a member at once
    assert err == 0 and gen == 1 and mid.startswith(b"test-")
    # a different protocol type than the group's members have
    assert join(b, "bad", protocol_type=b"connect")[0] == 23
    # Heartbeat v0 with a stale generation, an unknown member
    hb = lambda gen, m: struct.unpack(">h", req(b, 12, 0, s16(b"bad") + struct.pack(">i", gen) + s16(m))[:2])[0]
    assert hb(gen + 5, mid) == 22                                # ILLEGAL_GENERATION
    assert hb(gen, b"ghost") == 25                               # UNKNOWN_MEMBER_ID
    # SyncGroup v0 as the leader: the group is Stable
    body = s16(b"bad") + struct.pack(">i", gen) + s16(mid) + struct.pack(">i", 1) + s16(mid)
    body += struct.pack(">i", 4) + b"\x00\x00\x00\x00"
    assert struct.unpack(">h", req(b, 14, 0, body)[:2])[0] == 0
    # OffsetCommit v2 with metadata over offset.metadata.max.bytes: OFFSET_METADATA_TOO_LARGE
    body = s16(b"bad") + struct.pack(">i", gen) + s16(mid) + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + s16(b"gt") + struct.pack(">i", 1)
    body += struct.pack(">iq", 0, 5) + s16(b"m" * 5000)
    r = req(b, 8, 2, body)
    assert struct.unpack(">h", r[-2:])[0] == 12
    # JoinGroup v4 without a member id: MEMBER_ID_REQUIRED with the id to use
    err, _, mid4 = join(b, "v4", version=4)
    assert err == 79 and mid4.startswith(b"test-")
    # a truncated request closes only its connection
    hdr = struct.pack(">hhih", 11, 1, 9, 4) + b"test"
    with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(hdr) + 3) + hdr + b"\x00\x05a")
        assert s.recv(1) == b""
    assert AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10).topics


def coordinator_of(b, group):
    """FindCoordinator v0: the node id of group's coordinator."""
    r = req(b, 10, 0, s16(group.encode()))
    err, node = struct.unpack(">hi", r[:6])
    return node if err == 0 else None


def test_offsets_survive_a_coordinator_kill_and_a_cluster_restart(cluster):
    """Three brokers, __consumer_offsets with RF=3: kill -9 the coordinator, another broker
    takes the group over with its committed offsets; then a full restart keeps them too."""
    bs = cluster(3, {"replica.lag.time.max.ms": "3000", "replica.fetch.wait.max.ms": "200"})
    by = {x.id: x for x in bs}
    make_topic(bs[0], rf=3, records=60)
    c = consumer(bs[0])
    c.subscribe(["gt"])
    got = []
    wait_for(lambda: poll_all([c], 0.1, got) or len(got) >= 60, 60, "the records")
    c.commit(asynchronous=False)
    c.close()
    coord = wait_for(lambda: coordinator_of(bs[0], "g"), 30, "the coordinator")
    survivors = [x for x in bs if x.id != coord]
    by[coord].kill()
    new = wait_for(lambda: (lambda n: n not in (None, coord) and n)(coordinator_of(survivors[0], "g")),
                   40, "a new coordinator")
    assert new in [x.id for x in survivors]
    c = consumer(survivors[0])
    try:
        committed = {tp.partition: tp.offset for tp in
                     c.committed([TopicPartition("gt", p) for p in range(NP)], 30)}
        assert committed == {p: 10 for p in range(NP)}
    finally:
        c.close()
    by[coord].start()
    for x in survivors:
        assert x.stop(timeout=60) == 0
    by[coord].stop(timeout=60)
    for x in bs:
        x.start()
    c = consumer(bs[0])
    try:
        committed = wait_for(lambda: (lambda d: d if all(v >= 0 for v in d.values()) else None)(
            {tp.partition: tp.offset for tp in c.committed([TopicPartition("gt", p) for p in range(NP)], 30)}),
            60, "the committed offsets after the restart")
        assert committed == {p: 10 for p in range(NP)}
    finally:
        c.close()


def test_offsets_of_an_empty_group_expire(cluster):
    """offsets.retention.minutes after the group empties (Kafka's minimum is 1), the offsets
    and the group are gone."""
    b = cluster(1, {"offsets.retention.minutes": "1", "offsets.retention.check.interval.ms": "1000"})[0]
    make_topic(b, parts=1, records=3)
    c = consumer(b, group="old")
    c.subscribe(["gt"])
    got = []
    wait_for(lambda: poll_all([c], 0.1, got) or len(got) >= 3, 30, "the records")
    c.commit(asynchronous=False)
    c.close()
    c = consumer(b, group="old")
    try:
        assert [tp.offset for tp in c.committed([TopicPartition("gt", 0)], 10)] == [3]
        t = time.monotonic()
        wait_for(lambda: [tp.offset for tp in c.committed([TopicPartition("gt", 0)], 10)] == [OFFSET_INVALID],
                 90, "the offsets to expire", 1)
        assert time.monotonic() - t > 40  # not before the retention
    finally:
        c.close()


def members_partitions(b, group):
    """#PARTITIONS of each member, from keel-consumer-groups.sh --describe --members."""
    from test_tour import script
    r = script("keel-consumer-groups.sh", "--bootstrap-server", b.bootstrap, "--describe",
               "--group", group, "--members", check=False)
    rows = [l.split() for l in r.stdout.decode().splitlines()[2:] if l.strip()]
    return sorted(int(x[-1]) for x in rows if x and x[0] == group)


def test_console_consumers_in_a_group(cluster, tmp_path):
    """The issue's tour: three keel-console-consumer.sh --group g share six partitions; one
    killed, the other two own all six; started again, it gets its share back; new records are
    then printed by the group."""
    from test_tour import SCRIPTS, KEEL_ADMIN
    b = cluster(1)[0]
    make_topic(b, records=60)
    outs = []

    def start():
        outs.append(str(tmp_path / ("out%d" % len(outs))))
        with open(outs[-1], "wb") as out:
            return subprocess.Popen([os.path.join(SCRIPTS, "keel-console-consumer.sh"), "--bootstrap-server",
                                     b.bootstrap, "--topic", "gt", "--group", "cg", "--from-beginning",
                                     "--consumer-property", "session.timeout.ms=6000",
                                     "--consumer-property", "heartbeat.interval.ms=500"],
                                    stdout=out, stderr=subprocess.DEVNULL,
                                    env=dict(os.environ, KEEL_ADMIN=KEEL_ADMIN))

    def printed():
        return set(w for f in outs for w in open(f, "rb").read().split())
    ps = [start() for _ in range(3)]
    try:
        wait_for(lambda: members_partitions(b, "cg") == [2, 2, 2], 60, "2 partitions each")
        wait_for(lambda: printed() >= {b"v%d" % i for i in range(60)}, 30, "the first records")
        ps[0].kill()
        ps[0].wait()
        wait_for(lambda: members_partitions(b, "cg") == [3, 3], 60, "3 partitions each after a kill")
        ps[0] = start()
        wait_for(lambda: members_partitions(b, "cg") == [2, 2, 2], 60, "2 each again")
        p = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(30):
            p.produce("gt", b"n%d" % i, partition=i % NP)
        p.flush(10)
        wait_for(lambda: printed() >= {b"n%d" % i for i in range(30)}, 30, "the new records")
    finally:
        for x in ps:
            x.send_signal(signal.SIGTERM)
        for x in ps:
            try:
                x.wait(20)
            except subprocess.TimeoutExpired:
                x.kill()


def test_offsets_topic_waits_for_enough_brokers(cluster, zkc):
    """offsets.topic.replication.factor=3 with one live broker: no coordinator (the topic cannot
    be created); with three, __consumer_offsets is created with RF 3, compacted, and groups work."""
    bs = cluster(3, {"offsets.topic.replication.factor": "3"}, start=False)
    bs[0].start()
    for _ in range(3):
        r = req(bs[0], 10, 0, s16(b"g"))
        assert struct.unpack(">h", r[:2])[0] == 15  # COORDINATOR_NOT_AVAILABLE
        time.sleep(0.5)
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    assert "__consumer_offsets" not in admin.list_topics(timeout=10).topics
    for x in bs[1:]:
        x.start()
    wait_for(lambda: struct.unpack(">h", req(bs[0], 10, 0, s16(b"g"))[:2])[0] == 0, 60, "a coordinator")
    md = admin.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
    assert all(len(p.replicas) == 3 for p in md.partitions.values())
    cfg = json.loads(zkc.get("/config/topics/__consumer_offsets")[0])["config"]
    assert cfg["cleanup.policy"] == "compact" and cfg["compression.type"] == "producer"


def test_offsets_topic_holds_kafkas_records(cluster):
    """A commit is an offset-commit record: key version 1 (group, topic, partition), value
    version 3 (offset, leader epoch, metadata, commit timestamp), as Kafka writes it."""
    b = cluster(1)[0]
    make_topic(b, parts=1)
    c = consumer(b, group="rec")
    c.commit(offsets=[TopicPartition("gt", 0, 42)], asynchronous=False)
    c.close()
    r = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "reader", "enable.auto.commit": False})
    parts = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(
        "__consumer_offsets", timeout=10).topics["__consumer_offsets"].partitions
    r.assign([TopicPartition("__consumer_offsets", p, 0) for p in parts])
    found = []

    def read():
        m = r.poll(0.2)
        if m is None or m.error():
            return False
        k = m.key()
        if struct.unpack(">h", k[:2])[0] == 1:
            n = struct.unpack(">h", k[2:4])[0]
            group = k[4:4 + n]
            tlen = struct.unpack(">h", k[4 + n:6 + n])[0]
            topic = k[6 + n:6 + n + tlen]
            part = struct.unpack(">i", k[6 + n + tlen:10 + n + tlen])[0]
            ver, off, epoch, mlen = struct.unpack(">hqih", m.value()[:16])
            found.append((group, topic, part, ver, off, epoch, m.value()[16:16 + mlen]))
        return any(f[0] == b"rec" for f in found)
    wait_for(read, 30, "the offset-commit record", 0)
    r.close()
    assert [f for f in found if f[0] == b"rec"][0][:7] == (b"rec", b"gt", 0, 3, 42, -1, b"")


def test_offsets_topic_is_compacted(cluster):
    """The log cleaner compacts __consumer_offsets: after many commits of one group the closed
    segments keep only the batches holding the latest commit of some key, an early commit of
    another group survives, and a restarted broker loads the latest offsets."""
    b = cluster(1, {"offsets.topic.num.partitions": "1", "offsets.topic.segment.bytes": "2048",
                    "log.cleaner.backoff.ms": "300"})[0]
    make_topic(b, parts=1)
    early = consumer(b, group="early")
    early.commit(offsets=[TopicPartition("gt", 0, 5)], asynchronous=False)
    early.close()
    c = consumer(b, group="busy")
    for i in range(300):
        c.commit(offsets=[TopicPartition("gt", 0, i + 1)], asynchronous=False)
    c.close()
    d = os.path.join(b.logdir, "__consumer_offsets-0")

    def closed_bytes():
        segs = sorted(f for f in os.listdir(d) if f.endswith(".log"))
        return sum(os.path.getsize(os.path.join(d, f)) for f in segs[:-1]), len(segs)
    total, nsegs = closed_bytes()
    assert nsegs > 10
    wait_for(lambda: "compacted" in b.log(), 20, "the cleaner")
    wait_for(lambda: closed_bytes()[0] * 4 < total, 20, "the closed segments to shrink")
    b.stop()
    b.start()
    c = consumer(b, group="busy")
    e = consumer(b, group="early")
    try:
        assert [tp.offset for tp in c.committed([TopicPartition("gt", 0)], 30)] == [300]
        assert [tp.offset for tp in e.committed([TopicPartition("gt", 0)], 30)] == [5]
    finally:
        c.close()
        e.close()
