"""tests/integration/test_perf_tools.py: the measuring scripts against a real broker:
keel-producer-perf-test.sh, keel-consumer-perf-test.sh and keel-e2e-latency.sh report what they
did, and refuse what they cannot do."""
import re

from test_tour import script


def create(b, topic, partitions, rf=1):
    script("keel-topics.sh", "--bootstrap-server", b.bootstrap, "--create", "--topic", topic,
           "--partitions", str(partitions), "--replication-factor", str(rf))


def percentiles(out):
    m = re.search(r"Percentiles: 50th = ([\d.]+), 99th = ([\d.]+), 99\.9th = ([\d.]+), max = ([\d.]+) ms", out)
    assert m, out
    return [float(x) for x in m.groups()]


def test_producer_and_consumer_perf_count_the_records(cluster):
    b = cluster(1)[0]
    create(b, "perf", 3)
    out = script("keel-producer-perf-test.sh", "--topic", "perf", "--num-records", "5000", "--record-size",
                 "100", "--throughput", "-1", "--producer-props", "bootstrap.servers=" + b.bootstrap,
                 "acks=1").stdout.decode()
    assert re.search(r"^5000 records sent, [\d.]+ records/sec", out, re.M), out
    out = script("keel-consumer-perf-test.sh", "--bootstrap-server", b.bootstrap, "--topic", "perf",
                 "--messages", "5000", "--hide-header").stdout.decode()
    fields = [f.strip() for f in out.strip().splitlines()[-1].split(",")]
    assert fields[4] == "5000", out          # data.consumed.in.nMsg
    assert abs(float(fields[2]) - 5000 * 100 / 1048576.0) < 0.01, out  # MB: the values, no keys


def test_e2e_latency_one_at_a_time_and_at_a_rate(cluster, zkc):
    bs = cluster(3)
    create(bs[0], "lat", 3, rf=3)
    boot = ",".join(b.bootstrap for b in bs)
    out = script("keel-e2e-latency.sh", "--bootstrap-server", boot, "--topic", "lat",
                 "--num-records", "300").stdout.decode()
    assert "300 records of 100 bytes one at a time, acks=all" in out, out
    p = percentiles(out)
    assert 0 < p[0] <= p[1] <= p[2] <= p[3], out
    out = script("keel-e2e-latency.sh", "--bootstrap-server", boot, "--topic", "lat", "--num-records", "600",
                 "--rate", "2000", "--acks", "1", "--record-size", "64").stdout.decode()
    assert "600 records of 64 bytes at 2000/s, acks=1" in out, out
    p = percentiles(out)
    assert 0 < p[0] <= p[1] <= p[2] <= p[3], out
    # no group: the measurements did not create the offsets topic as a side effect
    assert not zkc.exists("/brokers/topics/__consumer_offsets")
    # every record went through the log: both runs' timed records and a warm-up record per partition each
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": boot, "group.id": "count"})
    total = sum(c.get_watermark_offsets(TopicPartition("lat", p), timeout=10)[1] for p in range(3))
    c.close()
    assert total == 300 + 600 + 2 * 3


def test_e2e_latency_refuses_what_it_cannot_do(cluster):
    b = cluster(1)[0]
    r = script("keel-e2e-latency.sh", "--bootstrap-server", b.bootstrap, "--topic", "absent", check=False)
    assert r.returncode == 1 and b"topic absent: does not exist" in r.stderr, r.stderr
    r = script("keel-e2e-latency.sh", "--bootstrap-server", b.bootstrap, "--topic", "t", "--record-size", "8",
               check=False)
    assert r.returncode == 1 and b"invalid value '8'" in r.stderr, r.stderr
    r = script("keel-e2e-latency.sh", "--bootstrap-server", b.bootstrap, "--topic", "t", "--acks", "2",
               check=False)
    assert r.returncode == 1 and b"invalid value '2'" in r.stderr, r.stderr
