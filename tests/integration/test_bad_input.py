"""tests/integration/test_bad_input.py: malformed and hostile requests close only their own
connection or get Kafka's error codes; other clients and stored data are unaffected."""
import socket
import struct
import zlib

from confluent_kafka import Producer

from keelharness import wait_for
from test_clients import consume_all, create_topic


def frame(api_key, version, corr, body=b"", client=b"test"):
    hdr = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def conn(b):
    s = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    return s


def read_response(s):
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    return recv_exact(s, size)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def closed(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def still_works(b, topic):
    p = Producer({"bootstrap.servers": b.bootstrap})
    p.produce(topic, value=b"ok", partition=0)
    assert p.flush(10) == 0


def test_oversized_frame_closes_connection(cluster):
    b = cluster(1, {"socket.request.max.bytes": "1000000"})[0]
    create_topic(b.bootstrap, "bi", 1)
    s = conn(b)
    s.sendall(struct.pack(">i", 2_000_000_000) + b"\x00" * 8)
    assert closed(s)
    still_works(b, "bi")


def test_garbage_and_truncated_and_unknown_key(cluster):
    b = cluster(1)[0]
    create_topic(b.bootstrap, "bi", 1)
    for payload in [b"\xff" * 64,                                # negative size
                    struct.pack(">i", 6) + b"\x00\x12\x00",       # frame smaller than a header
                    frame(999, 0, 1),                            # unknown api key
                    frame(3, 99, 2),                             # unsupported Metadata version
                    frame(3, 1, 3, struct.pack(">i", 5) + b"\x00")]:  # truncated body
        s = conn(b)
        s.sendall(payload)
        assert closed(s), payload
        s.close()
    still_works(b, "bi")


def test_api_versions_unknown_version_fallback(cluster):
    b = cluster(1)[0]
    s = conn(b)
    s.sendall(frame(18, 77, 42, b"\x01\x02\x03"))
    r = read_response(s)
    corr, err, n = struct.unpack(">ihi", r[:10])
    assert (corr, err) == (42, 35)
    keys = [struct.unpack(">hhh", r[10 + 6 * i:16 + 6 * i]) for i in range(n)]
    assert keys == [(18, 0, 3)]
    # the connection stays usable: v0 after the fallback
    s.sendall(frame(18, 0, 43))
    r = read_response(s)
    assert struct.unpack(">ih", r[:6]) == (43, 0)


def test_api_versions_v3_bad_software_name(cluster):
    b = cluster(1)[0]
    s = conn(b)
    body = b"\x02-\x02x\x00"  # compact "-" (invalid), compact "x", no tags
    hdr = struct.pack(">hhih", 18, 3, 7, 1) + b"c" + b"\x00"
    s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
    r = read_response(s)
    assert struct.unpack(">ih", r[:6]) == (7, 42)


def produce_request(topic, records, acks=1):
    t = topic.encode()
    body = struct.pack(">hhi", -1, acks, 5000)  # null transactional id, acks, timeout
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(records)) + records
    return body


def batch(values, crc_ok=True):
    recs = b""
    for i, v in enumerate(values):
        rec = b"\x00" + zigzag(0) + zigzag(i) + zigzag(-1) + zigzag(len(v)) + v + zigzag(0)
        recs += zigzag(len(rec)) + rec
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, 1000, 1000, -1, -1, -1, len(values)) + recs
    crc = crc32c(after_crc)
    if not crc_ok:
        crc ^= 1
    head = struct.pack(">ib", -1, 2) + struct.pack(">I", crc) + after_crc
    return struct.pack(">qi", 0, len(head)) + head


def zigzag(n):
    z = (n << 1) ^ (n >> 63)
    out = b""
    while z >= 0x80:
        out += bytes([(z & 0x7f) | 0x80])
        z >>= 7
    return out + bytes([z])


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def produce_error(b, body):
    s = conn(b)
    s.sendall(frame(0, 3, 9, body))
    r = read_response(s)
    s.close()
    # corr, topics[1], name, partitions[1], index, error
    off = 4 + 4
    (tlen,) = struct.unpack(">h", r[off:off + 2])
    off += 2 + tlen + 4 + 4
    return struct.unpack(">h", r[off:off + 2])[0]


def test_corrupt_batch_gets_corrupt_message_and_data_is_untouched(cluster):
    b = cluster(1)[0]
    create_topic(b.bootstrap, "crc", 1)
    still_works(b, "crc")
    assert produce_error(b, produce_request("crc", batch([b"a", b"b"]))) == 0
    assert produce_error(b, produce_request("crc", batch([b"bad"], crc_ok=False))) == 2
    torn = batch([b"x" * 50])[:-10]
    assert produce_error(b, produce_request("crc", torn)) in (2, 87)
    got = consume_all(b.bootstrap, "crc", 3, 1)
    assert sorted(v[1] for v in got.values()) == [b"a", b"b", b"ok"]


def test_invalid_topic_name(cluster):
    b = cluster(1)[0]
    s = conn(b)
    name = b"bad/name"
    s.sendall(frame(3, 1, 5, struct.pack(">ih", 1, len(name)) + name))
    r = read_response(s)
    # corr, brokers array ... find the topic error after brokers/controller
    assert struct.unpack(">i", r[:4])[0] == 5
    assert struct.pack(">h", 17) + struct.pack(">h", len(name)) + name in r


def test_unknown_topic_produce_and_fetch_errors(cluster):
    b = cluster(1, {"auto.create.topics.enable": "false"})[0]
    assert produce_error(b, produce_request("nope", batch([b"a"]))) == 3


def test_acks0_produce_with_an_error_closes_the_connection(cluster):
    """acks=0 gets no response, so an error on one of its partitions closes the connection (as
    Kafka does): the producer's only sign to refresh its metadata. A good one keeps it open."""
    b = cluster(1, {"auto.create.topics.enable": "false"})[0]
    create_topic(b.bootstrap, "zero", 1)
    s = conn(b)
    s.sendall(frame(0, 3, 1, produce_request("zero", batch([b"kept"]), acks=0)))
    s.sendall(frame(18, 0, 2))  # ApiVersions: answered, so the connection is still open
    assert struct.unpack(">i", read_response(s)[:4])[0] == 2
    s.sendall(frame(0, 3, 3, produce_request("nope", batch([b"lost"]), acks=0)))
    assert closed(s)
    got = consume_all(b.bootstrap, "zero", 1, 1)
    assert [v[1] for v in got.values()] == [b"kept"]


def fetch_v4_error(b, topic):
    t = topic.encode()
    body = struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0)  # replica, max_wait, min_bytes, max_bytes, isolation
    body += struct.pack(">ih", 1, len(t)) + t + struct.pack(">iiqi", 1, 0, 0, 1 << 20)
    s = conn(b)
    s.sendall(frame(1, 4, 11, body))
    r = read_response(s)
    s.close()
    off = 4 + 4 + 4 + 2 + len(t) + 4 + 4  # corr, throttle, topics[1], name, partitions[1], index
    return struct.unpack(">h", r[off:off + 2])[0]


def test_zstd_needs_produce_v7_and_fetch_v10(cluster):
    import os
    import subprocess
    b = cluster(1)[0]
    create_topic(b.bootstrap, "zs", 1)
    subprocess.run(["kcat", "-b", b.bootstrap, "-P", "-t", "zs", "-p", "0", "-z", "zstd"],
                   input=b"zstd " + b"a" * 2000 + b"\n" + b"zstd " + b"b" * 2000 + b"\n", check=True, timeout=30)
    # the batch kcat wrote, as stored; a client batch carries base offset 0 (outside the CRC)
    raw = open(os.path.join(b.logdir, "zs-0", "00000000000000000000.log"), "rb").read()
    length = struct.unpack(">i", raw[8:12])[0]
    zb = bytearray(raw[:12 + length])
    assert zb[22] & 7 == 4  # attributes: zstd
    zb[0:8] = b"\x00" * 8
    create_topic(b.bootstrap, "zs2", 1)
    s = conn(b)
    s.sendall(frame(0, 3, 9, produce_request("zs2", bytes(zb))))
    r = read_response(s)
    s.close()
    off = 4 + 4 + 2 + 3 + 4 + 4
    assert struct.unpack(">h", r[off:off + 2])[0] == 76  # UNSUPPORTED_COMPRESSION_TYPE
    assert fetch_v4_error(b, "zs") == 76
    still_works(b, "zs2")
    assert fetch_v4_error(b, "zs2") == 0  # no zstd there: Fetch v4 is fine


def test_replication_factor_above_keel_limit(cluster):
    from confluent_kafka.admin import AdminClient, NewTopic
    b = cluster(1)[0]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    f = admin.create_topics([NewTopic("rf17", 1, 17)])["rf17"]
    try:
        f.result(30)
        raise AssertionError("RF 17 was accepted")
    except Exception as e:  # KafkaException(INVALID_REPLICATION_FACTOR)
        assert "above 16" in str(e), e


def fetch_v11(topic, leader_epoch):
    t = topic.encode()
    body = struct.pack(">iiiibii", -1, 0, 0, 1 << 20, 0, 0, -1)
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">iiqqi", 0, leader_epoch, 0, -1, 1 << 20)
    body += struct.pack(">i", 0) + struct.pack(">h", 0)  # no forgotten topics, rack ""
    return body


def test_fetch_leader_epoch_fencing_codes(cluster):
    """KIP-320: a fetch naming a newer leader epoch than the broker knows gets
    UNKNOWN_LEADER_EPOCH (75); -1 skips the check; the current epoch (0) passes."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "fe", 1)
    s = conn(b)
    for corr, epoch, want in ((1, 5, 75), (2, -1, 0), (3, 0, 0)):
        s.sendall(frame(1, 11, corr, fetch_v11("fe", epoch)))
        r = read_response(s)
        got_corr, _thr, err, _sid, nt = struct.unpack_from(">iihii", r)
        assert (got_corr, err, nt) == (corr, 0, 1)
        off = 18
        tlen = struct.unpack_from(">h", r, off)[0]
        off += 2 + tlen
        _np, part, perr = struct.unpack_from(">iih", r, off)
        assert (part, perr) == (0, want), (epoch, perr)
    s.close()


def test_batches_over_max_message_bytes_are_refused(cluster):
    """message.max.bytes (broker) and max.message.bytes (topic) bound a batch: a larger one gets
    MESSAGE_TOO_LARGE and is not stored; one at the limit is."""
    from confluent_kafka.admin import AdminClient, NewTopic
    b = cluster(1, {"message.max.bytes": "3000"})[0]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("small", 1, 1, config={"max.message.bytes": "1000"})])["small"].result(30)
    create_topic(b.bootstrap, "dflt", 1)
    wait_for(lambda: admin.list_topics("small", timeout=5).topics["small"].partitions[0].leader >= 0, 30, "leader")
    big, fits = batch([b"x" * 1200]), batch([b"y" * 900])
    assert len(fits) <= 1000 < len(big)
    assert produce_error(b, produce_request("small", big)) == 10  # MESSAGE_TOO_LARGE
    assert produce_error(b, produce_request("small", fits)) == 0
    assert produce_error(b, produce_request("dflt", batch([b"z" * 3100]))) == 10
    assert produce_error(b, produce_request("dflt", big)) == 0  # under the broker's 3000
    got = consume_all(b.bootstrap, "small", 1, 1)
    assert [v[1] for v in got.values()] == [b"y" * 900]
