"""tests/integration/test_fetch.py: Fetch as a consumer sends it, over a raw socket (v11): the
long poll (max_wait_ms and min_bytes), the response and partition byte limits with whole
batches only (and a first batch larger than the limits sent whole, KIP-74),
OFFSET_OUT_OF_RANGE, and a large response to a slow reader outliving its log."""
import os
import socket
import struct
import threading
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from keelharness import wait_for
from kwire import classic_call, classic_frame, recv_exact
from test_clients import create_topic


def fetch_body(parts, max_wait=0, min_bytes=1, max_bytes=1 << 20):
    """A Fetch v11 request body; parts: [(topic, partition, offset, partition_max_bytes)]."""
    by_topic = {}
    for t, p, off, pmax in parts:
        by_topic.setdefault(t, []).append((p, off, pmax))
    body = struct.pack(">iiiibii", -1, max_wait, min_bytes, max_bytes, 0, 0, -1)
    body += struct.pack(">i", len(by_topic))
    for t, ps in by_topic.items():
        body += struct.pack(">h", len(t)) + t.encode() + struct.pack(">i", len(ps))
        for p, off, pmax in ps:
            body += struct.pack(">iiqqi", p, -1, off, -1, pmax)
    return body + struct.pack(">i", 0) + struct.pack(">h", 0)  # no forgotten topics, no rack


def parse_fetch(buf):
    """A Fetch v11 response body (after the correlation id): {(topic, partition): (error,
    high_watermark, [batch base offsets], record bytes)}."""
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
            out[(name, p)] = (err, hw, batch_bases(recs), recs)
    return out


def batch_bases(recs):
    bases, q = [], 0
    while q + 12 <= len(recs):
        base, length = struct.unpack_from(">qi", recs, q)
        assert q + 12 + length <= len(recs), "a partial batch was sent"
        bases.append(base)
        q += 12 + length
    return bases


def fetch(b, parts, max_wait=0, min_bytes=1, max_bytes=1 << 20):
    """parts: [(topic, partition, offset, partition_max_bytes)]. Returns ({(topic, partition):
    (error, high_watermark, [batch base offsets], record bytes)}, seconds taken)."""
    t0 = time.monotonic()
    buf = classic_call(b.port, 1, 11, fetch_body(parts, max_wait, min_bytes, max_bytes))
    took = time.monotonic() - t0
    return {k: (err, hw, bases, len(recs)) for k, (err, hw, bases, recs) in parse_fetch(buf).items()}, took


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


def test_a_response_the_socket_takes_slowly_survives_the_deletion_of_its_log(cluster):
    """A fetch response larger than the socket takes at once goes out in part, and the rest
    waits in the connection's queue holding the segment files open: deleting the topic while
    the reader is slow leaves the response whole and byte for byte what a prompt reader gets."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "slow", 2)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
    for i in range(120):
        p.produce("slow", value=b"%04d" % i + bytes([i]) * 99996, partition=i % 2)
    assert p.flush(30) == 0
    parts = [("slow", 0, 0, 8 << 20), ("slow", 1, 0, 8 << 20)]
    body = fetch_body(parts, max_bytes=16 << 20)
    prompt = parse_fetch(classic_call(b.port, 1, 11, body))
    assert all(len(prompt[("slow", i)][3]) > 5 << 20 for i in (0, 1))

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    s.settimeout(60)
    try:
        s.connect(("127.0.0.1", b.port))
        s.sendall(classic_frame(1, 11, 7, body))
        first = recv_exact(s, 8)  # the response started before the deletion
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.delete_topics(["slow"], operation_timeout=30)["slow"].result(30)
        wait_for(lambda: not {"slow-0", "slow-1"} & set(os.listdir(b.logdir)), 30, "the logs to be deleted")
        size, corr = struct.unpack(">ii", first)
        assert corr == 7
        slow = parse_fetch(recv_exact(s, size - 4))
    finally:
        s.close()
    for i in (0, 1):
        err, hw, bases, recs = slow[("slow", i)]
        assert (err, hw, bases) == prompt[("slow", i)][:3] and recs == prompt[("slow", i)][3], i
