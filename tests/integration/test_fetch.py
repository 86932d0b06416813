"""tests/integration/test_fetch.py: Fetch as a consumer sends it, over a raw socket (v11): the
long poll (max_wait_ms and min_bytes), the response and partition byte limits with whole
batches only (and a first batch larger than the limits sent whole, KIP-74), and
OFFSET_OUT_OF_RANGE."""
import struct
import threading
import time

from confluent_kafka import Producer

from kwire import classic_call
from test_clients import create_topic


def fetch(b, parts, max_wait=0, min_bytes=1, max_bytes=1 << 20):
    """parts: [(topic, partition, offset, partition_max_bytes)]. Returns ({(topic, partition):
    (error, high_watermark, [batch base offsets], record bytes)}, seconds taken)."""
    by_topic = {}
    for t, p, off, pmax in parts:
        by_topic.setdefault(t, []).append((p, off, pmax))
    body = struct.pack(">iiiibii", -1, max_wait, min_bytes, max_bytes, 0, 0, -1)
    body += struct.pack(">i", len(by_topic))
    for t, ps in by_topic.items():
        body += struct.pack(">h", len(t)) + t.encode() + struct.pack(">i", len(ps))
        for p, off, pmax in ps:
            body += struct.pack(">iiqqi", p, -1, off, -1, pmax)
    body += struct.pack(">i", 0) + struct.pack(">h", 0)  # no forgotten topics, no rack
    t0 = time.monotonic()
    buf = classic_call(b.port, 1, 11, body)
    took = time.monotonic() - t0
    pos = 4 + 2 + 4  # throttle, error, session
    out = {}
    (nt,) = struct.unpack_from(">i", buf, pos)
    pos += 4
    for _ in range(nt):
        (tl,) = struct.unpack_from(">h", buf, pos)
        name = buf[pos + 2:pos + 2 + tl].decode()
        pos += 2 + tl
        (np_,) = struct.unpack_from(">i", buf, pos)
        pos += 4
        for _ in range(np_):
            p, err, hw, _lso, _start = struct.unpack_from(">ihqqq", buf, pos)
            pos += 4 + 2 + 24
            (na,) = struct.unpack_from(">i", buf, pos)
            pos += 4 + max(na, 0) * 16 + 4  # aborted transactions, preferred read replica
            (rl,) = struct.unpack_from(">i", buf, pos)
            pos += 4
            recs = buf[pos:pos + max(rl, 0)]
            pos += max(rl, 0)
            bases, q = [], 0
            while q + 12 <= len(recs):
                base, length = struct.unpack_from(">qi", recs, q)
                assert q + 12 + length <= len(recs), "a partial batch was sent"
                bases.append(base)
                q += 12 + length
            out[(name, p)] = (err, hw, bases, len(recs))
    return out, took


def produce_batches(b, topic, partition, n, size):
    """n batches of one record of `size` bytes each."""
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    for i in range(n):
        p.produce(topic, value=b"%04d" % i + b"v" * (size - 4), partition=partition)
        assert p.flush(30) == 0


def test_long_poll_waits_for_max_wait_or_min_bytes(cluster):
    b = cluster(1)[0]
    create_topic(b.bootstrap, "lp", 1)
    # nothing to read: the answer waits max_wait_ms
    got, took = fetch(b, [("lp", 0, 0, 1 << 20)], max_wait=700)
    assert got[("lp", 0)][0] == 0 and got[("lp", 0)][2] == [] and took >= 0.6, (got, took)
    # a record arriving while it waits answers it at once, long before max_wait_ms
    timer = threading.Timer(0.3, produce_batches, (b, "lp", 0, 1, 100))
    timer.start()
    try:
        got, took = fetch(b, [("lp", 0, 0, 1 << 20)], max_wait=20000)
    finally:
        timer.join()
    assert got[("lp", 0)][2] == [0] and took < 15, (got, took)
    # min_bytes larger than what arrives: the answer waits for max_wait_ms with what there is
    timer = threading.Timer(0.2, produce_batches, (b, "lp", 0, 1, 100))
    timer.start()
    try:
        got, took = fetch(b, [("lp", 0, 1, 1 << 20)], max_wait=1500, min_bytes=100000)
    finally:
        timer.join()
    assert got[("lp", 0)][2] == [1] and took >= 1.3, (got, took)
    # and is answered at once when min_bytes is already there
    got, took = fetch(b, [("lp", 0, 0, 1 << 20)], max_wait=20000, min_bytes=150)
    assert got[("lp", 0)][2] == [0, 1] and took < 15


def test_byte_limits_take_whole_batches(cluster):
    b = cluster(1)[0]
    create_topic(b.bootstrap, "lim", 2)
    produce_batches(b, "lim", 0, 10, 1000)
    produce_batches(b, "lim", 1, 10, 1000)
    got, _ = fetch(b, [("lim", 0, 0, 1 << 20)])
    err, hw, bases, _ = got[("lim", 0)]
    assert err == 0 and hw == 10 and bases == list(range(10))
    size = got[("lim", 0)][3] // 10  # one batch
    # partition_max_bytes: as many whole batches as fit
    got, _ = fetch(b, [("lim", 0, 0, 2 * size + size // 2)])
    assert got[("lim", 0)][2] == [0, 1]
    # a first batch larger than the partition limit comes whole (KIP-74), and alone
    got, _ = fetch(b, [("lim", 0, 3, 10)])
    assert got[("lim", 0)][2] == [3]
    # max_bytes over the whole response: the second partition gets what the first left
    got, _ = fetch(b, [("lim", 0, 0, 1 << 20), ("lim", 1, 0, 1 << 20)], max_bytes=3 * size + size // 2)
    assert got[("lim", 0)][2] == [0, 1, 2] and got[("lim", 1)][2] == []
    got, _ = fetch(b, [("lim", 0, 0, 1 << 20), ("lim", 1, 0, 1 << 20)], max_bytes=5 * size + size // 2)
    assert got[("lim", 0)][2] == list(range(5)) and got[("lim", 1)][2] == []
    got, _ = fetch(b, [("lim", 0, 8, 1 << 20), ("lim", 1, 0, 1 << 20)], max_bytes=5 * size + size // 2)
    assert got[("lim", 0)][2] == [8, 9] and got[("lim", 1)][2] == [0, 1, 2]


def test_offsets_outside_the_log_are_out_of_range(cluster):
    b = cluster(1)[0]
    create_topic(b.bootstrap, "oor", 1)
    produce_batches(b, "oor", 0, 3, 100)
    got, _ = fetch(b, [("oor", 0, 3, 1 << 20)])  # the end: nothing yet, no error
    assert got[("oor", 0)][0] == 0 and got[("oor", 0)][2] == []
    for off in (4, 1000, -5):
        got, took = fetch(b, [("oor", 0, off, 1 << 20)], max_wait=20000)
        assert got[("oor", 0)][0] == 1 and got[("oor", 0)][2] == [] and took < 15, (off, got)
