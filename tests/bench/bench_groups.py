#!/usr/bin/python3
"""tests/bench/bench_groups.py: the consumer-group benchmark (not a test). Prints figures and
ratios against references measured in the same run; asserts nothing.

- Rebalance: a 10-member librdkafka group on 60 partitions; one member leaves; the time until
  the other nine own all 60, against the client's own timer in it (heartbeat.interval.ms: the
  members learn of the rebalance from their next heartbeat).
- Offset commits: synchronous commits per second from one consumer, against synchronous
  one-record acks=all produces per second to the same broker (both are a log append that waits
  for the high watermark).
- Coordinator failover: three brokers, RF=3 __consumer_offsets; kill -9 the coordinator; the
  time from its session expiry until the group's committed offsets are served again, against the
  time until a data partition it led has a new leader.

usage: tests/bench/bench_groups.py [--commits N]"""
import argparse
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from keelharness import Broker, ZooKeeper, wait_for, zk_client  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def create(b, topic, parts, rf):
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, parts, rf)])[topic].result(60)


def member(b, hb):
    return Consumer({"bootstrap.servers": b.bootstrap, "group.id": "bench", "session.timeout.ms": 10000,
                     "heartbeat.interval.ms": hb, "enable.auto.commit": False,
                     "partition.assignment.strategy": "range"})


def owned(cs):
    return [len(c.assignment()) for c in cs]


def rebalance(b, hb):
    create(b, "rb", 60, 1)
    cs = [member(b, hb) for _ in range(10)]
    for c in cs:
        c.subscribe(["rb"])

    def settled(n):
        for c in cs[:n]:
            c.poll(0.01)
        return sum(owned(cs[:n])) == 60 and max(owned(cs[:n])) - min(owned(cs[:n])) <= 1
    wait_for(lambda: settled(10), 120, "10 members to share 60 partitions", 0)
    leaver = cs.pop()
    t = time.monotonic()
    leaver.close()
    wait_for(lambda: settled(9), 60, "9 members to share 60 partitions", 0)
    took = time.monotonic() - t
    for c in cs:
        c.close()
    return took


def commit_rate(b, n):
    create(b, "cm", 1, 1)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 0})
    p.produce("cm", b"x")
    p.flush(10)
    t = time.monotonic()
    for i in range(n):
        p.produce("cm", b"x")
        p.flush(10)
    produce = n / (time.monotonic() - t)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "committer", "enable.auto.commit": False})
    tp = TopicPartition("cm", 0, 1)
    c.commit(offsets=[tp], asynchronous=False)
    t = time.monotonic()
    for i in range(n):
        c.commit(offsets=[TopicPartition("cm", 0, i + 2)], asynchronous=False)
    commits = n / (time.monotonic() - t)
    c.close()
    return commits, produce


def find_coordinator(b, group):
    hdr = struct.pack(">hhih", 10, 0, 1, 5) + b"bench"
    body = struct.pack(">h", len(group)) + group.encode()
    try:
        with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
            s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
            data = s.recv(1024)
        err, node = struct.unpack(">hi", data[8:14])
        return node if err == 0 else None
    except OSError:
        return None


def failover(zk):
    root = zk_client(zk.connect)
    root.ensure_path("/bench-groups")
    root.stop()
    zkc = zk_client(zk.connect + "/bench-groups")
    conf = {"offsets.topic.replication.factor": "3", "offsets.topic.num.partitions": "50",
            "group.initial.rebalance.delay.ms": "0", "zookeeper.session.timeout.ms": "6000"}
    bs = [Broker(zk.connect + "/bench-groups", i + 1, conf) for i in range(3)]
    try:
        for x in bs:
            x.start()
        create(bs[0], "fo", 50, 3)
        c = Consumer({"bootstrap.servers": bs[0].bootstrap, "group.id": "fo", "enable.auto.commit": False})
        c.commit(offsets=[TopicPartition("fo", 0, 7)], asynchronous=False)
        c.close()
        coord = wait_for(lambda: find_coordinator(bs[0], "fo"), 30, "the coordinator")
        victim = next(x for x in bs if x.id == coord)
        others = [x for x in bs if x is not victim]
        led = [p for p in range(50) if json.loads(zkc.get("/brokers/topics/fo/partitions/%d/state" % p)[0])
               ["leader"] == coord]
        victim.kill()
        wait_for(lambda: zkc.exists("/brokers/ids/%d" % coord) is None, 30, "the session to expire")
        t = time.monotonic()
        wait_for(lambda: all(json.loads(zkc.get("/brokers/topics/fo/partitions/%d/state" % p)[0])["leader"]
                             not in (coord, -1) for p in led), 30, "new leaders", 0.005)
        leaders = time.monotonic() - t
        c = Consumer({"bootstrap.servers": others[0].bootstrap, "group.id": "fo"})

        def served():
            got = c.committed([TopicPartition("fo", 0)], 1)
            return got[0].offset == 7
        wait_for(served, 30, "the committed offset from the new coordinator", 0.005)
        offsets = time.monotonic() - t
        c.close()
        return offsets, leaders
    finally:
        for x in bs:
            x.close()
        zkc.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=2000)
    a = ap.parse_args()
    zk = ZooKeeper()
    b = None
    try:
        root = zk_client(zk.connect)
        root.ensure_path("/bench-one")
        root.stop()
        b = Broker(zk.connect + "/bench-one", 1, {"offsets.topic.replication.factor": "1",
                                                  "offsets.topic.num.partitions": "50",
                                                  "group.initial.rebalance.delay.ms": "0"})
        b.start()
        hb = 500
        took = rebalance(b, hb)
        print("rebalance of 10 members on 60 partitions, one leaving: %.3f s; heartbeat %d ms; "
              "beyond the heartbeat %.3f s (target < 1 s)" % (took, hb, took - hb / 1000))
        commits, produce = commit_rate(b, a.commits)
        print("sync offset commits %.0f/s, sync acks=all produces %.0f/s: ratio %.2f"
              % (commits, produce, commits / produce))
        b.close()
        b = None
        offsets, leaders = failover(zk)
        print("coordinator failover after session expiry: offsets served in %.3f s, partition "
              "leaders moved in %.3f s: ratio %.2f" % (offsets, leaders, offsets / leaders))
    finally:
        if b:
            b.close()
        zk.close()


if __name__ == "__main__":
    main()
