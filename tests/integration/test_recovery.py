"""tests/integration/test_recovery.py: kill -9 during produce, restart, and every acknowledged
record is served at its acknowledged offset; a torn segment tail is truncated on restart."""
import glob
import os
import re

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from keelharness import wait_for
from test_clients import consume_all, create_topic

PARTS = 8


def test_kill9_keeps_every_acknowledged_record(cluster):
    b = cluster(1, {"log.segment.bytes": "4096", "log.index.interval.bytes": "256",
                    "num.recovery.threads.per.data.dir": "4"})[0]
    create_topic(b.bootstrap, "dur", PARTS)
    acked = {}
    # small batches: a slow machine must not pack a partition's records into one batch, or
    # nothing would be left to roll segments on
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 2,
                  "batch.num.messages": 20, "message.timeout.ms": 30000, "retries": 0})

    def cb(err, msg):
        if not err:
            acked[(msg.partition(), msg.offset())] = msg.value()

    for i in range(6000):
        p.produce("dur", value=b"rec-%06d-" % i + b"x" * 40, partition=i % PARTS, on_delivery=cb)
        if i % 500 == 0:
            p.poll(0.01)
        if i == 4000:
            assert p.flush(30) == 0  # everything so far is acknowledged
            b.kill()  # kill -9 with more records in flight
    p.flush(5)  # what was in flight at the kill stays unacknowledged
    assert len(acked) >= 4001
    b.start()
    assert "opened %d logs with 4 thread(s)" % PARTS in b.log()  # recovered in parallel
    # (records in flight at the kill may be in the log too, unacknowledged: all acknowledged
    # ones are waited for, not a count)
    got = consume_all(b.bootstrap, "dur", len(acked), PARTS, want=acked)
    for pos, value in acked.items():
        assert got[pos][1] == value
    # several segments were rolled and every partition has index files
    segs = glob.glob(os.path.join(b.logdir, "dur-0", "*.log"))
    assert len(segs) >= 2
    assert all(len(os.path.basename(s)) == len("00000000000000000000.log") for s in segs)
    # a clean shutdown flushes the logs in parallel too, and the next start trusts them
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 2})
    for i in range(400):
        p.produce("dur", value=b"after-%04d" % i, partition=i % PARTS, on_delivery=cb)
    assert p.flush(30) == 0
    assert b.stop() == 0
    assert re.search(r"flushed \d+ logs with 4 thread\(s\)", b.log()), b.log()[-2000:]
    b.start()
    assert "log dir %s: clean shutdown" % b.logdir in b.log()
    assert len(acked) >= 4401
    got = consume_all(b.bootstrap, "dur", len(acked), PARTS, want=acked)
    for pos, value in acked.items():
        assert got[pos][1] == value, pos


def test_torn_tail_is_truncated(cluster):
    b = cluster(1)[0]
    create_topic(b.bootstrap, "torn", 1)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for i in range(20):
        p.produce("torn", value=b"v%d" % i, partition=0)
        p.flush(10)
    b.kill()
    seg = os.path.join(b.logdir, "torn-0", "00000000000000000000.log")
    size = os.path.getsize(seg)
    with open(seg, "ab") as f:
        f.write(b"\x00\x00\x00\x00\x00\x00\x00\x14\x00\x00\x01\x00garbage")  # a torn batch
    b.start()
    got = consume_all(b.bootstrap, "torn", 20, 1)
    assert sorted(got) == [(0, i) for i in range(20)]
    assert os.path.getsize(seg) == size
    # appends continue at offset 20
    p = Producer({"bootstrap.servers": b.bootstrap})
    offs = []
    p.produce("torn", value=b"after", partition=0, on_delivery=lambda e, m: offs.append(m.offset()))
    p.flush(10)
    assert offs == [20]


def test_clean_restart_keeps_data(cluster):
    b = cluster(1)[0]
    create_topic(b.bootstrap, "clean", 2)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(100):
        p.produce("clean", value=b"c%d" % i, partition=i % 2)
    p.flush(10)
    assert b.stop() == 0
    ckpt = open(os.path.join(b.logdir, "recovery-point-offset-checkpoint")).read().split("\n")
    assert ckpt[0] == "0" and ckpt[1] == "2"
    assert sorted(ckpt[2:4]) == ["clean 0 50", "clean 1 50"]
    b.start()
    wait_for(lambda: "clean shutdown" in b.log(), 10, "clean shutdown noticed")
    got = consume_all(b.bootstrap, "clean", 100, 2)
    assert len(got) == 100


def test_deleted_logs_left_by_a_crash_are_removed_at_start(cluster):
    """A deletion renames the partition directory to <topic>-<p>.<id>-delete and removes its
    files in the background; a crash in between leaves that directory, which the next start
    removes. Other directories (a partition's, or any other name) stay."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "kept", 1)
    p = Producer({"bootstrap.servers": b.bootstrap})
    p.produce("kept", value=b"v", partition=0)
    p.flush(10)
    b.kill()
    left = os.path.join(b.logdir, "gone-3.0123456789abcdef0123456789abcdef-delete")
    other = os.path.join(b.logdir, "notes-delete")
    for d in (left, other):
        os.makedirs(d)
        open(os.path.join(d, "00000000000000000000.log"), "wb").close()
    b.start()
    wait_for(lambda: not os.path.exists(left), 10, "the leftover deleted log removed")
    assert os.path.isdir(other) and os.path.isdir(os.path.join(b.logdir, "kept-0"))
    got = consume_all(b.bootstrap, "kept", 1, 1)
    assert [v[1] for v in got.values()] == [b"v"]


def test_shutdown_leaves_logs_not_created_yet_for_the_next_start(cluster):
    """A broker creates new partitions' logs one at a time in the background. Stopped while a
    large topic's logs are still being made, it skips the rest (they would only be closed
    again) and exits cleanly; the next start creates them and serves every partition."""
    b = cluster(1, {"controlled.shutdown.enable": "false"})[0]  # SIGTERM goes straight to it
    n = 1000
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("many", n, 1)], operation_timeout=0)["many"].result(30)

    def made():
        return [d for d in os.listdir(b.logdir) if re.fullmatch(r"many-\d+", d)]
    wait_for(lambda: made(), 30, "the first log of many", 0.002)
    assert b.stop() == 0
    assert 0 < len(made()) < n, "every log was created before the broker stopped"
    assert "log(s) not created yet are left for the next start" in b.log()
    b.start()

    def served():
        parts = admin.list_topics("many", timeout=5).topics["many"].partitions
        return len(parts) == n and all(p.error is None and p.leader == b.id for p in parts.values())
    wait_for(served, 60, "every partition of many served", 0.2)
    assert len(made()) == n


def segments(b, topic, p):
    return sorted(glob.glob(os.path.join(b.logdir, "%s-%d" % (topic, p), "*.log")))


def produce_values(b, topic, n, size=100):
    """n records to partition 0, each its own batch."""
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for i in range(n):
        p.produce(topic, value=b"%06d" % i + b"x" * (size - 6), partition=0)
        assert p.flush(30) == 0


def test_segment_settings_follow_topic_config_changes_and_restarts(cluster, zkc):
    """A live log takes a topic's new segment.bytes (written to /config/topics/<t>, as Kafka's
    kafka-configs.sh --zookeeper does), and a restarted broker applies the topic's overrides to
    the logs it reopens rather than its own defaults."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "segs", 1)
    produce_values(b, "segs", 20)
    assert len(segments(b, "segs", 0)) == 1
    conf = b'{"version":1,"config":{"segment.bytes":"4096"}}'
    if zkc.exists("/config/topics/segs"):
        zkc.set("/config/topics/segs", conf)
    else:
        zkc.create("/config/topics/segs", conf, makepath=True)
    wait_for(lambda: produce_values(b, "segs", 10) or len(segments(b, "segs", 0)) > 1, 20,
             "a roll at the new segment.bytes")
    assert b.stop() == 0
    b.start()
    before = len(segments(b, "segs", 0))
    produce_values(b, "segs", 200)  # 200 batches of ~170 bytes: about 8 segments of 4 KB
    assert len(segments(b, "segs", 0)) >= before + 3
