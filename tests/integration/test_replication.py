"""tests/integration/test_replication.py: three brokers, RF=3: followers copy the leader's log,
the high watermark gates acks=all, the ISR shrinks and grows in ZooKeeper, and a leader killed
with -9 loses no acknowledged record."""
import json
import os
import signal

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from keelharness import wait_for
from kwire import classic_call
from test_clients import consume_all, create_topic

FAST = {"replica.lag.time.max.ms": "3000", "replica.fetch.wait.max.ms": "200",
        "replica.fetch.backoff.ms": "200", "replica.high.watermark.checkpoint.interval.ms": "500"}


def state(zkc, topic, p):
    return json.loads(zkc.get("/brokers/topics/%s/partitions/%d/state" % (topic, p))[0])


def create_rf3(b, topic, partitions, min_isr=2):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 3, config={"min.insync.replicas": str(min_isr)})])[
        topic].result(30)
    wait_for(lambda: all(p.leader >= 0 for p in admin.list_topics(topic, timeout=5).topics[topic]
                         .partitions.values()), 30, "leaders")


def produce(bootstrap, topic, values, **conf):
    acked, errors = {}, []
    p = Producer(dict({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2}, **conf))

    def cb(err, msg):
        if err:
            errors.append(err)
        else:
            acked[(msg.partition(), msg.offset())] = msg.value()

    for i, v in enumerate(values):
        p.produce(topic, value=v, on_delivery=cb)
        if i % 100 == 0:
            p.poll(0)
    p.flush(60)
    return acked, errors


def segment_bytes(b, topic, p):
    d = os.path.join(b.logdir, "%s-%d" % (topic, p))
    return b"".join(open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d)) if f.endswith(".log"))


def test_followers_copy_the_log_and_acks_all_waits(cluster, zkc):
    bs = cluster(3, FAST)
    create_rf3(bs[0], "r3", 3)
    acked, errors = produce(bs[0].bootstrap, "r3", [b"rec-%d" % i for i in range(3000)])
    assert not errors and len(acked) == 3000
    for p in range(3):
        st = state(zkc, "r3", p)
        assert sorted(st["isr"]) == [1, 2, 3]
        wait_for(lambda: len({segment_bytes(b, "r3", p) for b in bs}) == 1, 20, "identical replicas of r3-%d" % p)
    got = consume_all(bs[0].bootstrap, "r3", 3000, 3)
    assert {pos: v[1] for pos, v in got.items()} == acked
    # every broker has a leader-epoch checkpoint and a high-watermark checkpoint
    for b in bs:
        assert os.path.exists(os.path.join(b.logdir, "r3-0", "leader-epoch-checkpoint"))
        wait_for(lambda: "r3 0 " in open(os.path.join(b.logdir, "replication-offset-checkpoint")).read()
                 if os.path.exists(os.path.join(b.logdir, "replication-offset-checkpoint")) else False,
                 10, "replication-offset-checkpoint")


def test_a_partition_in_error_does_not_hold_up_the_others(cluster, zkc):
    """A partition its leader cannot serve (here its log directory cannot be created there) sits
    out replica.fetch.backoff.ms on the follower alone, as in Kafka's fetcher: the other
    partitions from the same leader keep replicating, so acks=all to them completes long before
    that backoff would end. The leader stays up and tells clients the partition has no leader."""
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(2, dict(FAST, **{"replica.fetch.backoff.ms": "120000"}))
    open(os.path.join(bs[0].logdir, "stuck-0"), "w").close()  # a file where the directory goes
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    # CreateTopics waits for every partition to have a leader, here in vain: REQUEST_TIMED_OUT,
    # and the topic is created all the same (Kafka's DelayedCreatePartitions)
    fs = admin.create_topics([NewTopic("stuck", 2, replica_assignment=[[1, 2], [1, 2]],
                                       config={"min.insync.replicas": "2"})], operation_timeout=2)
    with pytest.raises(KafkaException) as err:
        fs["stuck"].result(30)
    assert err.value.args[0].code() == KafkaError.REQUEST_TIMED_OUT
    wait_for(lambda: "cannot create log" in bs[0].log(), 20, "the failed log creation")
    wait_for(lambda: admin.list_topics("stuck", timeout=5).topics["stuck"].partitions[1].leader == 1, 20,
             "the leader of stuck-1")
    assert admin.list_topics("stuck", timeout=5).topics["stuck"].partitions[0].leader == -1
    acked, errors = [], []
    p = Producer({"bootstrap.servers": bs[0].bootstrap, "acks": "all", "message.timeout.ms": 30000})
    for i in range(20):
        p.produce("stuck", value=b"v%d" % i, partition=1,
                  on_delivery=lambda err, msg: errors.append(err) if err else acked.append(msg.offset()))
    p.flush(45)
    assert not errors and sorted(acked) == list(range(20))
    assert state(zkc, "stuck", 1)["isr"] == [1, 2]
    assert bs[0].running() and bs[1].running()


def test_create_topics_answers_once_every_partition_has_a_leader(cluster):
    """With an operation timeout, CreateTopics answers once the broker's own Metadata names a
    leader for every partition, and names itself only where its log exists, so clients can use
    the topic at once: even records sent with acks=0 (never retried) to the partitions it leads
    are all kept. (Another leader may still be creating its log, as in Kafka, whose controller
    does not wait for LeaderAndIsr answers before UpdateMetadata either; retrying clients ride
    that out.) Without a timeout it answers as soon as the topic is written."""
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(3, FAST)
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("ready", 24, 3)], operation_timeout=30)["ready"].result(30)
    parts = admin.list_topics("ready", timeout=5).topics["ready"].partitions
    assert len(parts) == 24 and all(p.leader >= 1 for p in parts.values())
    own = sorted(i for i, p in parts.items() if p.leader == bs[0].id)
    assert own
    p = Producer({"bootstrap.servers": bs[0].bootstrap, "acks": "0"})
    for i in own:
        p.produce("ready", value=b"at-once-%d" % i, partition=i)
    p.flush(10)
    got = consume_all(bs[0].bootstrap, "ready", len(own), 24)
    assert sorted(v[1] for v in got.values()) == sorted(b"at-once-%d" % i for i in own)


def test_isr_shrinks_and_expands(cluster, zkc):
    bs = cluster(3, FAST)
    create_rf3(bs[0], "isr", 1)
    leader = state(zkc, "isr", 0)["leader"]
    follower = next(b for b in bs if b.id != leader)
    lb = next(b for b in bs if b.id == leader)  # bootstrap from a broker that is not stopped
    follower.signal(signal.SIGSTOP)
    try:
        produce(lb.bootstrap, "isr", [b"x"] * 10)
        wait_for(lambda: follower.id not in state(zkc, "isr", 0)["isr"], 20, "ISR shrink")
        acked, errors = produce(lb.bootstrap, "isr", [b"y%d" % i for i in range(100)])
        assert not errors and len(acked) == 100  # ISR 2 >= min.insync.replicas 2
        # keel-topics.sh shows it as under-replicated, like the state znode
        import subprocess
        from keelharness import KEEL_ADMIN
        out = subprocess.run([KEEL_ADMIN, "topics", "--bootstrap-server", lb.bootstrap, "--describe",
                              "--under-replicated-partitions"], capture_output=True, timeout=30).stdout.decode()
        assert "Topic: isr\tPartition: 0\t" in out, out
        assert "Isr: " in out and str(follower.id) not in out.split("Isr: ")[1].split()[0].split(","), out
    finally:
        follower.signal(signal.SIGCONT)
    wait_for(lambda: follower.id in state(zkc, "isr", 0)["isr"], 30, "ISR expand")


def follower_fetch(broker, replica_id, topic, offset, partition=0):
    """A Fetch v11 as replica_id would send it (-1: a consumer; one partition, no wait); returns
    the partition's error code."""
    import struct
    t = topic.encode()
    body = (struct.pack(">iiiibii", replica_id, 0, 1, 1 << 20, 0, 0, -1) + struct.pack(">i", 1) +
            struct.pack(">h", len(t)) + t + struct.pack(">i", 1) +
            struct.pack(">iiqqi", partition, -1, offset, -1, 1 << 20) + struct.pack(">i", 0) + struct.pack(">h", 0))
    r = classic_call(broker.port, 1, 11, body)
    # throttle, error, session, topics[1], name, partitions[1], index, error
    pos = 4 + 2 + 4 + 4
    pos += 2 + struct.unpack_from(">h", r, pos)[0] + 4 + 4
    return struct.unpack_from(">h", r, pos)[0]


def list_offsets_error(broker, topic, partition):
    """ListOffsets v1 (latest) for one partition; returns its error code."""
    import struct
    t = topic.encode()
    body = (struct.pack(">ii", -1, 1) + struct.pack(">h", len(t)) + t + struct.pack(">i", 1) +
            struct.pack(">iq", partition, -1))
    r = classic_call(broker.port, 2, 1, body)
    pos = 4  # responses[1]
    pos += 2 + struct.unpack_from(">h", r, pos)[0] + 4 + 4  # name, partitions[1], index
    return struct.unpack_from(">h", r, pos)[0]


def test_a_broker_without_the_partition_answers_not_leader_or_follower(cluster):
    """A request for a partition the cluster has but this broker holds no replica of gets
    NOT_LEADER_OR_FOLLOWER (the client's metadata is stale: it refreshes and finds the
    leader); one for a partition the cluster does not have gets UNKNOWN_TOPIC_OR_PARTITION."""
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(2)
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("there", 1, replica_assignment=[[bs[0].id]])])["there"].result(30)
    wait_for(lambda: admin.list_topics("there", timeout=5).topics["there"].partitions[0].leader == bs[0].id,
             30, "leader")
    other = bs[1]
    wait_for(lambda: list_offsets_error(other, "there", 0) == 6, 10, "NOT_LEADER_OR_FOLLOWER from ListOffsets")
    assert follower_fetch(other, -1, "there", 0) == 6
    assert list_offsets_error(other, "there", 1) == 3 and follower_fetch(other, -1, "there", 0, partition=1) == 3
    assert list_offsets_error(other, "nosuch", 0) == 3 and follower_fetch(other, -1, "nosuch", 0) == 3
    assert list_offsets_error(bs[0], "there", 0) == 0 and follower_fetch(bs[0], -1, "there", 0) == 0


def test_a_fetch_past_the_leaders_end_does_not_put_a_follower_in_sync(cluster, zkc):
    """A follower's fetch from beyond the leader's log end (a follower that has not truncated
    yet) gets OFFSET_OUT_OF_RANGE and does not count as caught up: the leader adds a replica to
    the ISR only for a fetch it could serve."""
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(2, FAST)
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("ahead", 1, 2)])["ahead"].result(30)
    wait_for(lambda: admin.list_topics("ahead", timeout=5).topics["ahead"].partitions[0].leader >= 0, 30, "leader")
    leader = state(zkc, "ahead", 0)["leader"]
    lb = next(b for b in bs if b.id == leader)
    follower = next(b for b in bs if b.id != leader)
    follower.signal(signal.SIGSTOP)
    try:
        acked, errors = produce(lb.bootstrap, "ahead", [b"r%d" % i for i in range(10)], acks="1")
        assert not errors and len(acked) == 10
        wait_for(lambda: state(zkc, "ahead", 0)["isr"] == [leader], 20, "ISR shrink")
        leo = max(o for _, o in acked) + 1
        assert follower_fetch(lb, follower.id, "ahead", leo + 100) == 1  # OFFSET_OUT_OF_RANGE
        with pytest.raises(TimeoutError):
            wait_for(lambda: follower.id in state(zkc, "ahead", 0)["isr"], 2, "a wrong ISR expansion")
        # the same follower fetching from the leader's end is caught up, and joins
        assert follower_fetch(lb, follower.id, "ahead", leo) == 0
        wait_for(lambda: follower.id in state(zkc, "ahead", 0)["isr"], 20, "ISR expansion")
    finally:
        follower.signal(signal.SIGCONT)


def log_bases(b, topic, p):
    d = os.path.join(b.logdir, "%s-%d" % (topic, p))
    return sorted(int(f[:-4]) for f in os.listdir(d) if f.endswith(".log"))


def deleted_files(b, topic, p):
    return [f for f in os.listdir(os.path.join(b.logdir, "%s-%d" % (topic, p))) if f.endswith(".deleted")]


def test_retention_deletes_old_segments_and_a_late_follower_starts_at_the_leaders_log_start(cluster, zkc):
    """retention.bytes and retention.ms delete a log's oldest segments (never the active one)
    on leader and follower alike, and the earliest offset moves with them; a follower that was
    down while the leader deleted what it still lacked starts over at the leader's log start,
    catches up and rejoins the ISR."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(2, dict(FAST, **{"log.retention.check.interval.ms": "500"}))
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    fs = admin.create_topics([NewTopic("bysize", 1, replica_assignment=[[1, 2]],
                                  config={"segment.bytes": "2048", "retention.bytes": "4096"}),
                         NewTopic("bytime", 1, replica_assignment=[[1, 2]],
                                  config={"segment.bytes": "2048", "retention.ms": "1000",
                                          "file.delete.delay.ms": "0"})])
    for f in fs.values():
        f.result(30)
    wait_for(lambda: all(len(state(zkc, t, 0)["isr"]) == 2 for t in ("bysize", "bytime")), 30, "ISRs")
    for t in ("bysize", "bytime"):
        acked, errors = produce(bs[0].bootstrap, t, [b"%05d" % i + b"x" * 100 for i in range(300)],
                                **{"linger.ms": 0, "batch.num.messages": 1})  # a batch each: many segments
        assert not errors and len(acked) == 300
    c = Consumer({"bootstrap.servers": bs[0].bootstrap, "group.id": "ret", "enable.auto.commit": False})
    try:
        for t in ("bysize", "bytime"):
            wait_for(lambda: all(log_bases(b, t, 0)[0] > 0 and len(log_bases(b, t, 0)) <= 4 for b in bs), 30,
                     "retention on both replicas of " + t)
            low, high = c.get_watermark_offsets(TopicPartition(t, 0), timeout=10)
            assert high == 300 and 0 < low < 300 and low >= log_bases(bs[0], t, 0)[0], (t, low, high)
        # bytime keeps only its active segment once everything else is a second old
        assert len(log_bases(bs[0], "bysize", 0)) >= 3  # about 4096 bytes kept
        # deleted segments wait log.segment.delete.delay.ms (60 s here) as <name>.deleted, or
        # the topic's file.delete.delay.ms
        assert deleted_files(bs[0], "bysize", 0)
        wait_for(lambda: not deleted_files(bs[0], "bytime", 0), 30, "bytime's deleted files unlinked")
        # a follower down while the leader deletes past its end
        bs[1].kill()
        wait_for(lambda: state(zkc, "bysize", 0)["isr"] == [1], 30, "ISR shrink")
        acked, errors = produce(bs[0].bootstrap, "bysize", [b"%05d" % i + b"y" * 100 for i in range(300)],
                                acks="1", **{"linger.ms": 0, "batch.num.messages": 1})
        assert not errors and len(acked) == 300
        wait_for(lambda: c.get_watermark_offsets(TopicPartition("bysize", 0), timeout=10)[0] > 300, 30,
                 "the leader's log start past the follower's end")
        bs[1].start()
        wait_for(lambda: state(zkc, "bysize", 0)["isr"] == [1, 2], 60, "the follower back in the ISR")
        assert "starting over there" in bs[1].log()
        low = c.get_watermark_offsets(TopicPartition("bysize", 0), timeout=10)[0]
        assert log_bases(bs[1], "bysize", 0)[0] >= 300 and log_bases(bs[1], "bysize", 0)[-1] <= 600
        assert segment_bytes(bs[1], "bysize", 0) and low > 300
    finally:
        c.close()


def checkpoint(b, name):
    """{(topic, partition): offset} of a checkpoint file of b's log dir ({} if absent)."""
    path = os.path.join(b.logdir, name)
    if not os.path.exists(path):
        return {}
    lines = open(path).read().split("\n")
    assert lines[0] == "0"
    return {(t, int(p)): int(o) for t, p, o in (l.split() for l in lines[2:2 + int(lines[1])])}


def test_each_checkpoint_file_has_its_own_interval(cluster):
    """log-start-offset-checkpoint is written every log.flush.start.offset.checkpoint.interval.ms
    and recovery-point-offset-checkpoint every log.flush.offset.checkpoint.interval.ms, each on
    its own, as Kafka's scheduled tasks."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    common = dict(FAST, **{"log.retention.check.interval.ms": "300"})
    quick_start, = cluster(1, dict(common, **{"log.flush.start.offset.checkpoint.interval.ms": "300",
                                              "log.flush.offset.checkpoint.interval.ms": "600000"}))
    quick_recovery, = cluster(1, dict(common, **{"log.flush.start.offset.checkpoint.interval.ms": "600000",
                                                 "log.flush.offset.checkpoint.interval.ms": "300"}), first_id=2)
    admin = AdminClient({"bootstrap.servers": quick_start.bootstrap})
    cfg = {"segment.bytes": "2048", "retention.bytes": "4096"}
    for f in admin.create_topics([NewTopic("ck1", 1, replica_assignment=[[quick_start.id]], config=cfg),
                                  NewTopic("ck2", 1, replica_assignment=[[quick_recovery.id]], config=cfg)]
                                 ).values():
        f.result(30)
    c = Consumer({"bootstrap.servers": quick_start.bootstrap, "group.id": "ck", "enable.auto.commit": False})
    try:
        for b, t in ((quick_start, "ck1"), (quick_recovery, "ck2")):
            acked, errors = produce(b.bootstrap, t, [b"%05d" % i + b"x" * 100 for i in range(300)],
                                    acks="1", **{"linger.ms": 0, "batch.num.messages": 1})
            assert not errors and len(acked) == 300
            wait_for(lambda: c.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[0] > 0, 30,
                     "retention on " + t)
        low = c.get_watermark_offsets(TopicPartition("ck1", 0), timeout=10)[0]
        wait_for(lambda: checkpoint(quick_start, "log-start-offset-checkpoint").get(("ck1", 0), 0) >= low, 10,
                 "ck1's log start in its checkpoint")
        wait_for(lambda: checkpoint(quick_recovery, "recovery-point-offset-checkpoint").get(("ck2", 0), 0) > 0,
                 10, "ck2's recovery point in its checkpoint")
        # and neither broker wrote the other file since it started (it is 600 s away)
        assert checkpoint(quick_start, "recovery-point-offset-checkpoint").get(("ck1", 0), 0) == 0
        assert checkpoint(quick_recovery, "log-start-offset-checkpoint").get(("ck2", 0), 0) == 0
    finally:
        c.close()


def test_isr_changes_are_announced_and_the_controller_consumes_them(cluster, zkc):
    """A leader that shrinks an ISR writes the state znode and announces it under
    /isr_change_notification/isr_change_<seq> ({"version":1,"partitions":[...]}, Kafka's
    layout); the controller reads the notification, propagates, and deletes it."""
    ctl, = cluster(1, dict(FAST, **{"zookeeper.session.timeout.ms": "20000"}))  # outlives the stop
    wait_for(lambda: zkc.exists("/controller"), 30, "a controller")
    leader, follower = cluster(2, FAST, first_id=2)
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": leader.bootstrap})
    admin.create_topics([NewTopic("ann", 1, replica_assignment=[[leader.id, follower.id, ctl.id]])])[
        "ann"].result(30)
    wait_for(lambda: len(state(zkc, "ann", 0)["isr"]) == 3, 30, "a full ISR")
    ctl.signal(signal.SIGSTOP)  # the controller (a follower too) stops fetching and reading
    try:
        wait_for(lambda: state(zkc, "ann", 0)["isr"] == [leader.id, follower.id], 30, "ISR shrink")
        # (written once no ISR changed for 5 s, checked every 2.5 s, as Kafka batches them)
        kids = wait_for(lambda: zkc.get_children("/isr_change_notification"), 20, "a notification")
        assert all(k.startswith("isr_change_") and k[11:].isdigit() for k in kids), kids
        parts = [p for k in kids for p in json.loads(zkc.get("/isr_change_notification/" + k)[0])["partitions"]]
        assert {"topic": "ann", "partition": 0} in parts, parts
    finally:
        ctl.signal(signal.SIGCONT)
    wait_for(lambda: not zkc.get_children("/isr_change_notification"), 30, "the controller consuming it")


def test_not_enough_replicas(cluster, zkc):
    """acks=all with the ISR below min.insync.replicas: NOT_ENOUGH_REPLICAS before the append
    (nothing is written); an ISR that shrinks below it while a produce waits: the records
    are in the log, and the answer is NOT_ENOUGH_REPLICAS_AFTER_APPEND."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    bs = cluster(3, FAST)
    create_rf3(bs[0], "nem", 1, min_isr=3)
    leader = state(zkc, "nem", 0)["leader"]
    follower = next(b for b in bs if b.id != leader)
    lb = next(b for b in bs if b.id == leader)
    c = Consumer({"bootstrap.servers": lb.bootstrap, "group.id": "nem", "enable.auto.commit": False})
    follower.signal(signal.SIGSTOP)
    try:
        # sent at once: appended, then the ISR shrinks while the answer waits
        acked, errors = produce(lb.bootstrap, "nem", [b"after"], **{"message.timeout.ms": 30000, "retries": 0})
        assert not acked and [e.code() for e in errors] == [KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND], errors
        assert follower.id not in state(zkc, "nem", 0)["isr"]
        leo = c.get_watermark_offsets(TopicPartition("nem", 0), timeout=10)[1]  # the HW: the ISR holds it
        assert leo == 1
        acked, errors = produce(lb.bootstrap, "nem", [b"w"], **{"message.timeout.ms": 3000, "retries": 0})
        assert not acked and [e.code() for e in errors] == [KafkaError.NOT_ENOUGH_REPLICAS], errors
        assert c.get_watermark_offsets(TopicPartition("nem", 0), timeout=10)[1] == 1  # nothing written
    finally:
        follower.signal(signal.SIGCONT)
        c.close()


def test_leader_kill9_keeps_acknowledged_records(cluster, zkc):
    bs = cluster(3, FAST)
    create_rf3(bs[0], "kl", 2)
    acked, errors = produce(bs[0].bootstrap, "kl", [b"a%d" % i for i in range(2000)])
    assert not errors
    leader = state(zkc, "kl", 0)["leader"]
    victim = next(b for b in bs if b.id == leader)
    victim.kill()
    survivor = next(b for b in bs if b.id != leader)
    wait_for(lambda: state(zkc, "kl", 0)["leader"] not in (leader, -1), 30, "a new leader")
    more, errors = produce(survivor.bootstrap, "kl", [b"b%d" % i for i in range(1000)],
                           **{"message.timeout.ms": 30000})
    assert not errors
    acked.update(more)
    got = consume_all(survivor.bootstrap, "kl", len(acked), 2, want=acked)
    for pos, v in acked.items():
        assert got.get(pos, (None, None))[1] == v, pos
    victim.start()
    wait_for(lambda: all(sorted(state(zkc, "kl", p)["isr"]) == [1, 2, 3] for p in range(2)), 40,
             "the restarted broker rejoins the ISR")
    for p in range(2):
        wait_for(lambda: len({segment_bytes(b, "kl", p) for b in bs}) == 1, 20, "identical replicas")


def test_controlled_shutdown_rolling_restart(cluster, zkc):
    import threading
    import time
    conf = dict(FAST, **{"controlled.shutdown.retry.backoff.ms": "500"})
    bs = cluster(3, conf)
    create_rf3(bs[0], "roll", 6)
    acked, errors, stop = {}, [], threading.Event()

    def cb(err, msg):
        if err:
            errors.append(err)
        else:
            acked[(msg.partition(), msg.offset())] = msg.value()

    def run():
        p = Producer({"bootstrap.servers": ",".join(b.bootstrap for b in bs), "acks": "all",
                      "linger.ms": 5, "message.timeout.ms": 60000})
        i = 0
        while not stop.is_set() and i < 200000:
            p.produce("roll", value=b"v%d" % i, on_delivery=cb)
            i += 1
            if i % 50 == 0:
                p.poll(0.01)
        p.flush(60)

    t = threading.Thread(target=run)
    t.start()
    try:
        for b in bs:
            time.sleep(1)
            led = [p for p in range(6) if state(zkc, "roll", p)["leader"] == b.id]
            assert b.stop(timeout=60) == 0
            assert "controlled shutdown succeeded" in b.log()
            # its leaderships moved while it was still up: none of them is offline now
            for p in led:
                st = state(zkc, "roll", p)
                assert st["leader"] not in (b.id, -1), (p, st)
            b.start()
            wait_for(lambda: all(sorted(state(zkc, "roll", p)["isr"]) == [1, 2, 3] for p in range(6)),
                     40, "broker %d back in every ISR" % b.id)
    finally:
        stop.set()
        t.join(120)
    assert not errors, errors[:5]
    assert len(acked) >= 5000, len(acked)  # the producer kept going through the restarts
    got = consume_all(bs[0].bootstrap, "roll", len(acked), 6, want=acked)
    for pos, v in acked.items():
        assert got.get(pos, (None, None))[1] == v, pos


def test_unclean_leader_election(cluster, zkc):
    from confluent_kafka.admin import AdminClient, NewTopic
    b1, b2 = cluster(2, FAST)
    admin = AdminClient({"bootstrap.servers": b1.bootstrap})
    fs = admin.create_topics([NewTopic("clean", 1, replica_assignment=[[1, 2]]),
                              NewTopic("dirty", 1, replica_assignment=[[1, 2]],
                                       config={"unclean.leader.election.enable": "true"})])
    for f in fs.values():
        f.result(30)
    for t in ("clean", "dirty"):
        wait_for(lambda: sorted(state(zkc, t, 0)["isr"]) == [1, 2], 20, "full ISR of " + t)
        acked, errors = produce(b1.bootstrap, t, [b"x"] * 10)
        assert not errors
    b2.kill()  # the follower first: the ISR shrinks to the leader
    for t in ("clean", "dirty"):
        wait_for(lambda: state(zkc, t, 0)["isr"] == [1], 30, "ISR [1] for " + t)
    b1.kill()  # then the leader: nobody in the ISR is left
    wait_for(lambda: not zkc.exists("/brokers/ids/1"), 30, "broker 1's session to expire")
    b2.start()  # out of sync, but live; it becomes the controller and finds both offline
    wait_for(lambda: state(zkc, "dirty", 0)["leader"] == 2, 30, "unclean election of broker 2")
    assert state(zkc, "dirty", 0)["isr"] == [2]
    st = state(zkc, "clean", 0)  # the controller has acted on both by now
    assert st["leader"] == -1 and st["isr"] == [1], st


def raw_produce(topic, value, timeout_ms=30000):
    """A Produce v3 body, acks=all, one record for partition 0."""
    import struct
    from test_bad_input import batch
    t, records = topic.encode(), batch([value])
    return (struct.pack(">hhi", -1, -1, timeout_ms) + struct.pack(">ih", 1, len(t)) + t +
            struct.pack(">iii", 1, 0, len(records)) + records)


def produce_answer(a):
    """(correlation id, partition, error, base offset) of a one-partition Produce v3 answer."""
    import struct
    tlen = struct.unpack(">h", a[8:10])[0]
    corr = struct.unpack(">i", a[:4])[0]
    return (corr,) + struct.unpack(">ihq", a[10 + tlen + 4:10 + tlen + 4 + 14])


def batches_in(b, topic):
    import struct
    data, n, off = segment_bytes(b, topic, 0), 0, 0
    while off + 12 <= len(data):
        off += 12 + struct.unpack(">i", data[off + 8:off + 12])[0]
        n += 1
    return n


def two_replicas_one_partition(cluster, zkc, topic):
    """Brokers 1 and 2 with one partition led by 1 and followed by 2, min.insync.replicas=1."""
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(2, {"replica.lag.time.max.ms": "60000"})
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[1, 2]],
                                  config={"min.insync.replicas": "1"})])[topic].result(30)
    wait_for(lambda: zkc.exists("/brokers/topics/%s/partitions/0/state" % topic) and
             state(zkc, topic, 0)["isr"] == [1, 2] and os.path.isdir(os.path.join(bs[1].logdir, topic + "-0")),
             30, "%s: both replicas" % topic)
    return bs


def test_produces_are_pipelined_and_answered_in_order(cluster, zkc):
    """While an acks=all produce waits for a stopped follower, the next produce on the same
    connection is already appended; the answers, and a request after them, keep request order."""
    import socket
    import struct
    from test_bad_input import frame, read_response
    bs = two_replicas_one_partition(cluster, zkc, "pipe")
    os.kill(bs[1].pid, signal.SIGSTOP)
    try:
        s = socket.create_connection(("127.0.0.1", bs[0].port), timeout=30)
        s.sendall(frame(0, 3, 1, raw_produce("pipe", b"first")) + frame(0, 3, 2, raw_produce("pipe", b"second")) +
                  frame(3, 1, 3, struct.pack(">i", 0)))
        wait_for(lambda: batches_in(bs[0], "pipe") == 2, 20, "both batches appended while the first waits")
        s.setblocking(False)
        try:
            assert s.recv(1) == b"", "answered before the follower had the records"
        except BlockingIOError:
            pass
        s.setblocking(True)
    finally:
        os.kill(bs[1].pid, signal.SIGCONT)
    answers = [read_response(s) for _ in range(3)]
    s.close()
    assert [struct.unpack(">i", a[:4])[0] for a in answers] == [1, 2, 3]
    assert [produce_answer(a) for a in answers[:2]] == [(1, 0, 0, 0), (2, 0, 0, 1)]


def test_many_produces_waiting_on_one_partition(cluster, zkc):
    """More acks=all produces wait on one partition than a wake-up used to take in one go (64):
    every new append wakes them all once, the broker stays responsive, and each connection's
    answers come back in order once the follower catches up."""
    import socket
    import struct
    from test_bad_input import frame, read_response
    bs = two_replicas_one_partition(cluster, zkc, "many")
    os.kill(bs[1].pid, signal.SIGSTOP)
    socks = []
    try:
        for c in range(3):
            s = socket.create_connection(("127.0.0.1", bs[0].port), timeout=30)
            s.sendall(b"".join(frame(0, 3, 100 * c + i, raw_produce("many", b"v%d-%d" % (c, i)))
                               for i in range(50)))
            socks.append(s)
        wait_for(lambda: batches_in(bs[0], "many") == 150, 20, "150 batches appended")
        probe = socket.create_connection(("127.0.0.1", bs[0].port), timeout=10)
        probe.sendall(frame(3, 1, 7, struct.pack(">i", 0)))
        assert struct.unpack(">i", read_response(probe)[:4])[0] == 7  # the loop still turns
        probe.close()
    finally:
        os.kill(bs[1].pid, signal.SIGCONT)
    offsets = []
    for c, s in enumerate(socks):
        got = [produce_answer(read_response(s)) for _ in range(50)]
        s.close()
        assert [g[0] for g in got] == [100 * c + i for i in range(50)]
        assert all(g[1:3] == (0, 0) for g in got), got
        assert [g[3] for g in got] == sorted(g[3] for g in got)
        offsets += [g[3] for g in got]
    assert sorted(offsets) == list(range(150))


def test_a_follower_gives_up_on_a_silent_leader_after_replica_socket_timeout(cluster, zkc):
    """A leader that stops answering (SIGSTOP, well within its ZooKeeper session) costs its
    followers one replica.socket.timeout.ms: the fetch is abandoned, the connection closed, and
    fetching starts over on a new one once the leader answers again."""
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(2, {"replica.lag.time.max.ms": "60000", "zookeeper.session.timeout.ms": "30000",
                     "replica.socket.timeout.ms": "1000", "replica.fetch.wait.max.ms": "500",
                     "replica.fetch.backoff.ms": "100"})
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("silent", num_partitions=1, replica_assignment=[[1, 2]])])["silent"].result(30)
    wait_for(lambda: zkc.exists("/brokers/topics/silent/partitions/0/state") and
             state(zkc, "silent", 0)["isr"] == [1, 2], 30, "both replicas in sync")
    assert "no response within" not in bs[1].log()
    bs[0].signal(signal.SIGSTOP)
    try:
        wait_for(lambda: "no response within 1000 ms" in bs[1].log(), 10, "the follower's fetch to time out")
    finally:
        bs[0].signal(signal.SIGCONT)
    acked, errors = produce(bs[0].bootstrap, "silent", [b"v%d" % i for i in range(20)],
                            **{"message.timeout.ms": 20000})
    assert not errors and len(acked) == 20
    assert state(zkc, "silent", 0)["isr"] == [1, 2]


def java_string_hash(s):
    h = 0
    for c in s.encode():
        h = (31 * h + c) & 0xffffffff
    return h


def test_num_replica_fetchers_spreads_partitions_over_connections(cluster, zkc):
    """num.replica.fetchers=3: broker 2 follows broker 1's partitions over three fetchers, each
    partition on the one Kafka's formula picks, and every partition replicates."""
    import re
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(2, {"replica.lag.time.max.ms": "60000", "num.replica.fetchers": "3"})
    admin = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    admin.create_topics([NewTopic("spread", num_partitions=8, replica_assignment=[[1, 2]] * 8,
                                  config={"min.insync.replicas": "2"})])["spread"].result(30)
    wait_for(lambda: all(zkc.exists("/brokers/topics/spread/partitions/%d/state" % p) and
                         state(zkc, "spread", p)["isr"] == [1, 2] for p in range(8)), 30, "replicas in sync")
    expected = {((31 * java_string_hash("spread") + p) & 0x7fffffff) % 3 for p in range(8)}
    assert len(expected) > 1
    used = {int(m) for m in re.findall(r"fetcher (\d+) fetching from leader 1", bs[1].log())}
    assert used == expected
    acked, errors = produce(bs[0].bootstrap, "spread", [b"v%d" % i for i in range(400)],
                            **{"sticky.partitioning.linger.ms": 0})
    assert not errors and len(acked) == 400 and {p for p, _ in acked} == set(range(8))
