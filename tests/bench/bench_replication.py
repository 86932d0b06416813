#!/usr/bin/python3
"""tests/bench/bench_replication.py: the replication benchmark (not a test). Three brokers on this
machine, 100-byte records through librdkafka, 6 partitions: RF=3 acks=all against RF=1 acks=1 in
the same run; end-to-end latency at a fixed moderate rate with RF=3 acks=all; the time for the
controller to move leadership after a kill -9 (from the session expiry) and for a controlled
shutdown, with 1,000 partitions. Prints figures; asserts nothing.

usage: tests/bench/bench_replication.py [--records N] [--rate R]"""
import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from bench import perf_produce  # noqa: E402
from keelharness import KEEL_ADMIN, Broker, ZooKeeper, wait_for, zk_client  # noqa: E402

import subprocess  # noqa: E402


def create(bootstrap, topic, partitions, rf, config=()):
    args = [KEEL_ADMIN, "topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic,
            "--partitions", str(partitions), "--replication-factor", str(rf)]
    for c in config:
        args += ["--config", c]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def _consume_latencies(bootstrap, topic, ready, done, out):
    """Child process: measure produce-to-consume time of every timestamped record."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition
    # Nagle off, as the Java client always has it
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat", "fetch.wait.max.ms": 100,
                  "socket.nagle.disable": True})
    c.assign([TopicPartition(topic, p, OFFSET_END) for p in range(6)])
    c.consume(100, 2)
    ready.set()
    lat = []
    quiet_since = None
    while True:
        m = c.poll(0.05)
        if m is not None and not m.error() and m.value() != b"warm":
            lat.append((time.monotonic_ns() - int(m.value())) / 1e6)
            quiet_since = None
        elif done.is_set():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 2:
                break
    c.close()
    out.put(sorted(lat))


def latency(bootstrap, topic, rate, seconds, acks="all"):
    """Produce timestamped records at `rate`/s (acks=all) and measure produce-to-consume time in a
    separate consumer process (one process for both would measure the GIL)."""
    import multiprocessing as mp
    from confluent_kafka import Producer
    ready, done, out = mp.Event(), mp.Event(), mp.Queue()
    child = mp.Process(target=_consume_latencies, args=(bootstrap, topic, ready, done, out))
    child.start()
    ready.wait(30)
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 0, "socket.nagle.disable": True})
    for part in range(6):  # warm up: metadata and connections to every leader
        p.produce(topic, value=b"warm", partition=part)
    p.flush(30)
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            p.produce(topic, value=b"%d" % time.monotonic_ns())
            sent += 1
        p.poll(0)
        time.sleep(0.0005)
    p.flush(30)
    done.set()
    lat = out.get(timeout=60)
    child.join(30)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    return len(lat), pick(0.5), pick(0.99), pick(0.999)


def leaders_moved(zkc, topic, n, gone):
    for p in range(n):
        st = json.loads(zkc.get("/brokers/topics/%s/partitions/%d/state" % (topic, p))[0])
        if st["leader"] in (gone, -1):
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rate", type=int, default=5000)
    args = ap.parse_args()
    zk = ZooKeeper()
    bs = [Broker(zk.connect + "/benchr", i, {"keel.log.level": "info", "replica.lag.time.max.ms": "10000",
                                               "zookeeper.session.timeout.ms": "6000",
                                               "controlled.shutdown.retry.backoff.ms": "500"})
          for i in (1, 2, 3)]
    boot = ",".join(b.bootstrap for b in bs)
    try:
        for b in bs:
            b.start()
        create(bs[0].bootstrap, "rf1", 6, 1)
        create(bs[0].bootstrap, "rf3", 6, 3, ["min.insync.replicas=2"])
        perf_produce(["bootstrap.servers=" + boot, "acks=1"], "rf1", 1000)  # every broker hosts its
        perf_produce(["bootstrap.servers=" + boot, "acks=all"], "rf3", 1000)  # partitions by now
        rf1, l1 = perf_produce(["bootstrap.servers=" + boot, "acks=1"], "rf1", args.records)
        rf3, l3 = perf_produce(["bootstrap.servers=" + boot, "acks=all"], "rf3", args.records)
        print("RF=1 acks=1:   " + l1)
        print("RF=3 acks=all: " + l3)
        print("RF=3 acks=all / RF=1 acks=1  %.2f  (Kafka 0.51, target >= 0.7)" % (rf3 / rf1))
        n, p50, p99, p999 = latency(boot, "rf3", args.rate, 10)
        print("end-to-end at %d/s, RF=3 acks=all: %d records, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms"
              "  (target p99 <= 2x p50 and < 5 ms)" % (args.rate, n, p50, p99, p999))
        # the reference: the same clients and machine without replication (no follower hop)
        n1, r50, r99, r999 = latency(boot, "rf1", args.rate, 10, acks="1")
        print("end-to-end at %d/s, RF=1 acks=1 (reference): %d records, p50 %.2f ms, p99 %.2f ms, "
              "p99.9 %.2f ms; p99/p50 RF=3 %.1f, RF=1 %.1f" % (args.rate, n1, r50, r99, r999,
                                                         p99 / p50, r99 / r50))
        create(bs[0].bootstrap, "many", 1000, 3, ["min.insync.replicas=2"])
        zkc = zk_client(zk.connect + "/benchr")
        wait_for(lambda: leaders_moved(zkc, "many", 1000, -2), 120, "leaders for 1000 partitions")
        victim = bs[0]
        victim.kill()
        wait_for(lambda: not zkc.exists("/brokers/ids/%d" % victim.id), 30, "session expiry", 0.005)
        t0 = time.monotonic()
        wait_for(lambda: leaders_moved(zkc, "many", 1000, victim.id), 60, "leaders moved", 0.005)
        print("kill -9 failover, 1000 partitions: leaders moved %.3f s after the session expired"
              "  (target < 1 s)" % (time.monotonic() - t0))
        victim.start()
        wait_for(lambda: all(len(json.loads(zkc.get("/brokers/topics/many/partitions/%d/state" % p)[0])["isr"])
                             == 3 for p in range(1000)), 120, "ISR complete again", 0.2)
        # broker 2 also leads every partition of a second 1000-partition topic (its preferred
        # leader everywhere), so that it leads well over 1000 when it shuts down
        subprocess.run([KEEL_ADMIN, "topics", "--bootstrap-server", bs[0].bootstrap, "--create",
                        "--topic", "led", "--replica-assignment", ",".join(["2:1:3"] * 1000),
                        "--config", "min.insync.replicas=2"], check=True, capture_output=True, timeout=120)
        wait_for(lambda: all(json.loads(zkc.get("/brokers/topics/led/partitions/%d/state" % p)[0])["isr"]
                             == [2, 1, 3] for p in range(1000)), 120, "led: full ISRs", 0.2)
        leader2 = sum(1 for t in ("many", "led") for p in range(1000) if json.loads(
            zkc.get("/brokers/topics/%s/partitions/%d/state" % (t, p))[0])["leader"] == 2)
        t0 = time.monotonic()
        bs[1].proc.send_signal(signal.SIGTERM)
        bs[1].proc.wait(120)
        print("controlled shutdown of a broker leading %d partitions: %.3f s from SIGTERM to exit"
              "  (target < 1 s for 1000)" % (leader2, time.monotonic() - t0))
        zkc.stop()
    finally:
        for b in bs:
            b.close()
        zk.close()


if __name__ == "__main__":
    main()
