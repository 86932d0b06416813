#!/usr/bin/python3
"""tests/bench/bench_replication.py: the replication benchmark (not a test). Three brokers on this
machine, 100-byte records through librdkafka, 6 partitions: RF=3 acks=all against RF=1 acks=1 in
the same run; end-to-end latency (keel-e2e-latency.sh) one at a time and at fixed rates with RF=3
acks=all, against RF=1 acks=1 and a bare ring of four processes passing a timestamp (the
same number of process-to-process hops as a record's trip through a leader and a follower, with
no work at all: the machine's own floor) as references; the time for the
controller to move leadership after a kill -9 (from the session expiry) and in a controlled
shutdown (from SIGTERM; also until the broker exits), with 1,000 partitions, timed by the
mtimes ZooKeeper gives the state znodes. Prints figures; asserts nothing.

usage: tests/bench/bench_replication.py [--records N] [--rates R1,R2,...]"""
import argparse
import json
import os
import re
import resource
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from bench import cpu_s, perf_produce, steal_s  # noqa: E402
from keelharness import KEEL_ADMIN, Broker, ZooKeeper, wait_for, zk_client  # noqa: E402

import subprocess  # noqa: E402

from confluent_kafka.admin import AdminClient  # noqa: E402

HOP_RELAY = os.path.join(os.path.dirname(KEEL_ADMIN), "tests", "bench", "hop-relay")


def create(bootstrap, topic, partitions, rf, config=()):
    args = [KEEL_ADMIN, "topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic,
            "--partitions", str(partitions), "--replication-factor", str(rf)]
    for c in config:
        args += ["--config", c]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def latency_start(bootstrap, topic, rate, seconds, acks="all"):
    """Start keel-e2e-latency.sh (librdkafka producer and consumer in one C process, timed with
    its monotonic clock): records sent at `rate`/s for `seconds`, or one at a time when rate is 0."""
    n = str(rate * seconds if rate else 10000)
    args = [KEEL_ADMIN, "e2e-latency", "--bootstrap-server", bootstrap, "--topic", topic, "--acks", acks,
            "--num-records", n] + (["--rate", str(rate)] if rate else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), int(n)


def latency_result(run, seconds):
    """The record count and p50, p99, p99.9 and max in ms of a latency_start run."""
    proc, n = run
    out, err = proc.communicate(timeout=seconds * 10 + 120)
    if proc.returncode != 0:
        raise RuntimeError(err + out)
    m = re.search(r"50th = ([\d.]+), 99th = ([\d.]+), 99\.9th = ([\d.]+), max = ([\d.]+)", out)
    return (n,) + tuple(float(m.group(i)) for i in range(1, 5))


def latency(bootstrap, topic, rate, seconds, acks="all"):
    return latency_result(latency_start(bootstrap, topic, rate, seconds, acks), seconds)[:4]


def cpu_snapshot(brokers):
    """The brokers' CPU seconds, the finished child processes' (the latency tool's, once waited
    for), and the machine's /proc/stat times."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (sum(cpu_s(b.pid) for b in brokers), ru.ru_utime + ru.ru_stime,
            [int(x) for x in open("/proc/stat").readline().split()[1:9]])


def cpu_use(before, after, records):
    """Broker and client CPU microseconds per record between two snapshots, how busy the
    machine's CPUs were (all but idle, iowait and steal), and the seconds of CPU the host gave
    to others meanwhile (steal: on a shared virtual machine, a vCPU that has to wait for the
    host to run it again)."""
    d = [b - a for a, b in zip(before[2], after[2])]
    busy = (sum(d) - d[3] - d[4] - d[7]) / max(sum(d) - d[7], 1)
    return ((after[0] - before[0]) / records * 1e6, (after[1] - before[1]) / records * 1e6, busy * 100,
            d[7] / os.sysconf("SC_CLK_TCK"))


def hop_relay(hops, rate, seconds):
    """The machine's own floor for the same trip: a ring of `hops` bare processes passing a
    timestamp over loopback TCP (tests/bench/hop-relay), at the same schedule. Returns p50 and
    p99 in ms."""
    n = str(rate * seconds if rate else 10000)
    out = subprocess.run([HOP_RELAY, "--hops", str(hops), "--num-records", n] + (["--rate", str(rate)] if rate else []),
                         capture_output=True, text=True, timeout=seconds * 10 + 60, check=True).stdout
    m = re.search(r"50th = ([\d.]+), 99th = ([\d.]+)", out)
    return float(m.group(1)), float(m.group(2))


def leaders_moved(zkc, topic, n, gone):
    """Whether every partition of topic has a leader other than `gone` (-1: none)."""
    reads = [zkc.get_async("/brokers/topics/%s/partitions/%d/state" % (topic, p)) for p in range(n)]
    return all(json.loads(r.get(timeout=30)[0])["leader"] not in (gone, -1) for r in reads)


def last_state_write(zkc, topic, n):
    """The wall-clock time (s) of the last write to a state znode of topic, from ZooKeeper's own
    mtimes: polling 1000 znodes from Python takes longer than what is being measured."""
    reads = [zkc.get_async("/brokers/topics/%s/partitions/%d/state" % (topic, p)) for p in range(n)]
    return max(r.get(timeout=30)[1].mtime for r in reads) / 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rates", type=lambda v: [int(x) for x in v.split(",")], default=[1000, 2000, 5000],
                    help="comma-separated fixed rates for the latency runs")
    args = ap.parse_args()
    steal0 = steal_s()
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
        os.sync()  # each run starts without the previous one's dirty pages to write back
        rf1, l1 = perf_produce(["bootstrap.servers=" + boot, "acks=1"], "rf1", args.records)
        os.sync()
        rf3, l3 = perf_produce(["bootstrap.servers=" + boot, "acks=all"], "rf3", args.records)
        print("RF=1 acks=1:   " + l1)
        print("RF=3 acks=all: " + l3)
        print("RF=3 acks=all / RF=1 acks=1  %.2f  (Kafka 0.51, target >= 0.7)" % (rf3 / rf1))
        # end-to-end latency, RF=3 acks=all, one record at a time (Kafka's EndToEndLatency) and at
        # fixed rates; the reference is the same clients and machine without replication. First the
        # page cache writes back what the throughput runs left dirty, which would otherwise
        # throttle the brokers' writes in the middle of the latency runs.
        os.sync()
        # With each RF=3 run: the CPU it took per record (the three brokers; the latency tool's
        # producer and consumer), how busy that kept the machine's CPUs (queueing delays grow
        # with it), and how long the host kept the vCPUs from running (steal).
        for rate in [0] + args.rates:
            what = "%d/s" % rate if rate else "one at a time"
            before = cpu_snapshot(bs)
            n, p50, p99, p999 = latency(boot, "rf3", rate, 5)
            broker_us, client_us, busy, stolen = cpu_use(before, cpu_snapshot(bs), n)
            n1, r50, r99, r999 = latency(boot, "rf1", rate, 5, acks="1")
            h50, h99 = hop_relay(4, rate, 5)
            print("end-to-end %-13s RF=3 acks=all: %6d records, p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, "
                  "p99/p50 %.2f  (target <= 2 and p99 < 5 ms); CPU per record: brokers %.0f us, clients "
                  "%.0f us; CPUs %.0f%% busy, %.2f s stolen by the host | RF=1 acks=1: p50 %.3f, p99 %.3f, "
                  "p99/p50 %.2f | bare 4-process ring: p50 %.3f, p99 %.3f, p99/p50 %.2f"
                  % (what, n, p50, p99, p999, p99 / p50, broker_us, client_us, busy, stolen, r50, r99, r99 / r50,
                     h50, h99, h99 / h50))
        # a topic created in the middle of a latency run: its logs are made on the brokers' loops
        run = latency_start(boot, "rf3", 2000, 6)
        time.sleep(2)
        t0 = time.monotonic()
        create(bs[0].bootstrap, "new50", 50, 3, ["min.insync.replicas=2"])
        made = time.monotonic() - t0
        n, p50, p99, p999, pmax = latency_result(run, 6)
        print("end-to-end 2000/s RF=3 acks=all while a 50-partition RF=3 topic is created (%.2f s): "
              "p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms" % (made, p50, p99, p999, pmax))
        create(bs[0].bootstrap, "many", 1000, 3, ["min.insync.replicas=2"])
        zkc = zk_client(zk.connect + "/benchr")
        wait_for(lambda: leaders_moved(zkc, "many", 1000, -2), 120, "leaders for 1000 partitions")
        victim = bs[0]
        victim.kill()
        wait_for(lambda: not zkc.exists("/brokers/ids/%d" % victim.id), 30, "session expiry", 0.005)
        t0 = time.time()  # ZooKeeper runs on this machine: its mtimes are on the same clock
        wait_for(lambda: leaders_moved(zkc, "many", 1000, victim.id), 60, "leaders moved", 0.005)
        print("kill -9 failover, 1000 partitions: leaders moved %.3f s after the session expired"
              "  (target < 1 s)" % (last_state_write(zkc, "many", 1000) - t0))
        t0 = time.time()
        victim.start()
        wait_for(lambda: all(len(json.loads(r.get(timeout=30)[0])["isr"]) == 3 for r in [
            zkc.get_async("/brokers/topics/many/partitions/%d/state" % p) for p in range(1000)]),
                 120, "ISR complete again", 0.05)
        print("the killed broker restarted: back in all 1000 ISRs %.3f s after it was started"
              % (last_state_write(zkc, "many", 1000) - t0))
        # broker 2 also leads every partition of a second 1000-partition topic (its preferred
        # leader everywhere), so that it leads well over 1000 when it shuts down
        subprocess.run([KEEL_ADMIN, "topics", "--bootstrap-server", bs[0].bootstrap, "--create",
                        "--topic", "led", "--replica-assignment", ",".join(["2:1:3"] * 1000),
                        "--config", "min.insync.replicas=2"], check=True, capture_output=True, timeout=120)
        wait_for(lambda: all(json.loads(zkc.get("/brokers/topics/led/partitions/%d/state" % p)[0])["isr"]
                             == [2, 1, 3] for p in range(1000)), 120, "led: full ISRs", 0.2)
        # and broker 2 serves them all (it makes the logs one at a time after the znodes exist)
        admin2 = AdminClient({"bootstrap.servers": bs[1].bootstrap})
        wait_for(lambda: all(p.error is None for p in admin2.list_topics("led", timeout=10).topics["led"]
                             .partitions.values()), 120, "led: served by broker 2", 0.2)
        leader2 = sum(1 for t in ("many", "led") for p in range(1000) if json.loads(
            zkc.get("/brokers/topics/%s/partitions/%d/state" % (t, p))[0])["leader"] == 2)
        t0 = time.time()
        bs[1].proc.send_signal(signal.SIGTERM)
        bs[1].proc.wait(120)
        exited = time.time() - t0
        moved = max(last_state_write(zkc, t, 1000) for t in ("many", "led")) - t0
        print("controlled shutdown of a broker leading %d partitions: leadership moved %.3f s after "
              "SIGTERM (target < 1 s for 1000); the broker exited after %.3f s"
              % (leader2, moved, exited))
        zkc.stop()
        print("CPU stolen by the host during the run: %.1f s" % (steal_s() - steal0))
    finally:
        for b in bs:
            b.close()
        zk.close()


if __name__ == "__main__":
    main()
