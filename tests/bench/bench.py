#!/usr/bin/python3
"""tests/bench/bench.py: the foundation benchmark (not a test). 100-byte records through librdkafka
(keel-admin's perf tools): produce with acks=1 to one keeld, the same produce workload to
librdkafka's in-process mock cluster in the same run, then consume keel's data back, and the
broker's RSS with 100 partitions. Prints figures and ratios; asserts nothing.

Each throughput is measured --rounds times, keel and mock alternating, and the medians are
compared: a single run on a small machine swings by 20% either way.

usage: tests/bench/bench.py [--records N] [--rounds R]   (after a build; run from anywhere)"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from keelharness import KEEL_ADMIN, Broker, ZooKeeper  # noqa: E402


def perf_produce(props, topic, n, app=None):
    """Run keel-admin producer-perf; returns (records/s, its summary line). app: a list that gets
    (CPU seconds, wall seconds) of the client's application thread, the one that calls produce
    and serves the delivery reports (sampled from /proc while it runs)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as outf, tempfile.TemporaryFile("w+") as errf:
        proc = subprocess.Popen([KEEL_ADMIN, "producer-perf", "--topic", topic, "--num-records", str(n),
                                 "--record-size", "100", "--throughput", "-1", "--producer-props"] + props,
                                stdout=outf, stderr=errf, text=True)
        app_cpu = 0.0
        while proc.poll() is None:
            try:
                app_cpu = cpu_s(proc.pid, proc.pid)  # the main thread alone
            except (OSError, IndexError, ValueError):
                pass
            if time.monotonic() - t0 > 600:
                proc.kill()
            time.sleep(0.02)
        outf.seek(0)
        errf.seek(0)
        out, err = outf.read(), errf.read()
    if proc.returncode != 0:
        raise RuntimeError(err + out)
    if app is not None:
        app.append((app_cpu, time.monotonic() - t0))
    last = [l for l in out.splitlines() if "records sent" in l][-1]
    rate = float(re.search(r"([\d.]+) records/sec", last).group(1))
    return rate, last


def perf_consume(bootstrap, topic, n):
    out = subprocess.run([KEEL_ADMIN, "consumer-perf", "--bootstrap-server", bootstrap, "--topic", topic,
                          "--messages", str(n), "--hide-header"], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr + out.stdout)
    fields = [f.strip() for f in out.stdout.strip().splitlines()[-1].split(",")]
    return float(fields[5]), out.stdout.strip()


def cpu_s(pid, tid=None):
    """User + system CPU seconds the process (or its thread tid) has used."""
    path = "/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid
    f = open(path).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def steal_s():
    """CPU time the hypervisor gave to others, all CPUs (/proc/stat steal): on a shared virtual
    machine this says whether a run's figures were measured on a quiet host."""
    return int(open("/proc/stat").readline().split()[8]) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def create(bootstrap, topic, partitions):
    subprocess.run([KEEL_ADMIN, "topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic,
                    "--partitions", str(partitions), "--replication-factor", "1"], check=True,
                   capture_output=True, timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    n = args.records
    steal0 = steal_s()
    zk = ZooKeeper()
    b = Broker(zk.connect + "/bench", 1, {"keel.log.level": "info"})
    try:
        b.start()
        create(b.bootstrap, "bench", 1)
        keel_rates, mock_rates, cons_rates, keel_app, mock_app = [], [], [], [], []
        cpu0 = cpu_s(b.pid)
        for _ in range(args.rounds):
            rate, keel_line = perf_produce(["bootstrap.servers=" + b.bootstrap, "acks=1"], "bench", n, keel_app)
            keel_rates.append(rate)
            rate, mock_line = perf_produce(["bootstrap.servers=127.0.0.1:1", "test.mock.num.brokers=1",
                                            "acks=1"], "bench", n, mock_app)
            mock_rates.append(rate)
        cpu_produce = (cpu_s(b.pid) - cpu0) / args.rounds
        cpu0 = cpu_s(b.pid)
        for _ in range(args.rounds):
            rate, cons_line = perf_consume(b.bootstrap, "bench", n)  # the first n records each time
            cons_rates.append(rate)
        cpu_consume = (cpu_s(b.pid) - cpu0) / args.rounds
        keel_rate, mock_rate, cons_rate = (statistics.median(v) for v in (keel_rates, mock_rates, cons_rates))
        create(b.bootstrap, "hundred", 100)
        perf_produce(["bootstrap.servers=" + b.bootstrap, "acks=1"], "hundred", 200_000)
        rss = rss_kb(b.pid)
        print("produce keel: " + keel_line)
        print("produce mock: " + mock_line)
        print("consume keel: " + cons_line)
        for what, v in (("produce keel", keel_rates), ("produce mock", mock_rates), ("consume keel", cons_rates)):
            print("%s records/s, %d rounds: %s; median %.0f" % (what, len(v), ", ".join("%.0f" % x for x in v),
                                                           statistics.median(v)))
        print("produce keel/mock          %.2f  (target >= 1.0)" % (keel_rate / mock_rate))
        # what bounds both: the producer's application thread (produce calls, delivery reports)
        for what, v in (("keel", keel_app), ("mock", mock_app)):
            cpu, wall = sum(c for c, _ in v), sum(w for _, w in v)
            print("producer application thread against %s: %.2f us CPU per record, busy %.0f%% of the "
                  "run" % (what, cpu / (n * len(v)) * 1e6, cpu / wall * 100))
        print("consume/produce (keel)     %.2f  (target >= 2.0)" % (cons_rate / keel_rate))
        print("keeld RSS, 100 partitions  %.1f MB  (target < 30 MB)" % (rss / 1024.0))
        print("keeld CPU per round: produce %.2f s, consume %.2f s for %d records (the clients use the rest)"
              % (cpu_produce, cpu_consume, n))
        print("CPU stolen by the host during the run: %.1f s" % (steal_s() - steal0))
    finally:
        b.close()
        zk.close()


if __name__ == "__main__":
    main()
