"""tests/integration/test_produce_configs.py: configs that change what a leader does with a
produced batch: compression.type (broker key and topic config) rebuilds it with another codec,
checked on the .log files themselves and by consuming it back; message.timestamp.difference.max.ms
refuses records whose CreateTime is too far from the broker's clock."""
import glob
import gzip
import os
import struct
import time

import pytest

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from keelharness import wait_for
from test_bad_input import batch, crc32c, fetch_v4_error, produce_error, produce_request
from test_clients import consume_all, create_topic, produce_all

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def stored_batches(b, topic, partition=0):
    """(attributes, record count) of every batch in the partition's segment files, in order."""
    out = []
    for seg in sorted(glob.glob(os.path.join(b.logdir, "%s-%d" % (topic, partition), "*.log"))):
        raw = open(seg, "rb").read()
        pos = 0
        while pos + 61 <= len(raw):
            length = struct.unpack(">i", raw[pos + 8:pos + 12])[0]
            attrs = struct.unpack(">h", raw[pos + 21:pos + 23])[0]
            count = struct.unpack(">i", raw[pos + 57:pos + 61])[0]
            out.append((attrs, count))
            pos += 12 + length
    return out


def stored_codecs(b, topic):
    return {attrs & 7 for attrs, _ in stored_batches(b, topic)}


def records(n, tag):
    """n records for partition 0 with keys, headers, empty and null values, compressible."""
    recs = []
    for i in range(n):
        key = None if i % 5 == 0 else b"%s-key-%d" % (tag, i)
        value = (None if i % 7 == 3 and key else b"" if i % 7 == 4 else
                 (b"%s-value-%d " % (tag, i)) * (1 + i % 9))
        headers = [("h", b"x%d" % i), ("empty", b"")] if i % 3 == 0 else None
        recs.append((key, value, headers, 0))
    return recs


def produce_kafka_python(b, topic, recs, codec, api_version=None):
    """kafka-python's producer; api_version picks its Produce version and message format
    (None: what the broker's ApiVersions suggest, magic 2)."""
    from kafka import KafkaProducer
    prod = KafkaProducer(bootstrap_servers=b.bootstrap, compression_type=codec, acks="all", linger_ms=5,
                         api_version=api_version)
    futs = [(prod.send(topic, key=k, value=v, headers=h or [], partition=p), (k, v, h, p)) for k, v, h, p in recs]
    prod.flush(30)
    acked = {(f.get(30).partition, f.get(30).offset): rec for f, rec in futs}
    prod.close()
    return acked


def round_trip(b, topic, n, codec, client="confluent"):
    """Produce n records with the client's codec, consume them back and compare."""
    recs = records(n, topic.encode())
    if client == "confluent":
        acked = produce_all(b.bootstrap, topic, recs, **{"compression.codec": codec, "acks": "all"})
    else:
        acked = produce_kafka_python(b, topic, recs, codec)
    got = consume_all(b.bootstrap, topic, n, 1)
    assert len(acked) == n and len(got) == n
    for pos, rec in acked.items():
        key, value, headers, _ = got[pos]
        assert (key, value) == (rec[0], rec[1])
        assert (headers or None) == (rec[2] or None)


def test_topic_compression_type_gzip_rewrites_uncompressed_batches(cluster):
    """A topic with compression.type=gzip stores gzip batches whatever the producer sent (here
    uncompressed), as Kafka's LogValidator does; the records come back unchanged."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "tgz", 1, {"compression.type": "gzip"})
    round_trip(b, "tgz", 300, "none")
    batches = stored_batches(b, "tgz")
    assert batches and sum(c for _, c in batches) == 300
    assert stored_codecs(b, "tgz") == {CODECS["gzip"]}


def test_topic_compression_type_uncompressed_stores_lz4_batches_plain(cluster):
    """Producer sends lz4, the topic says uncompressed: the batches are stored uncompressed
    (and lz4 to a topic without the config stays lz4)."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "tplain", 1, {"compression.type": "uncompressed"})
    create_topic(b.bootstrap, "tasis", 1)
    round_trip(b, "tplain", 300, "lz4", "kafka-python")
    round_trip(b, "tasis", 300, "lz4", "kafka-python")
    assert stored_codecs(b, "tplain") == {CODECS["none"]}
    assert stored_codecs(b, "tasis") == {CODECS["lz4"]}


def test_broker_compression_type_and_topic_override(cluster):
    """The broker key sets every topic's codec; a topic's compression.type overrides it, and
    producer there keeps what the producer sent."""
    b = cluster(1, {"compression.type": "gzip"})[0]
    create_topic(b.bootstrap, "bdefault", 1)
    create_topic(b.bootstrap, "bproducer", 1, {"compression.type": "producer"})
    create_topic(b.bootstrap, "bsnappy", 1, {"compression.type": "snappy"})
    round_trip(b, "bdefault", 100, "none")
    round_trip(b, "bproducer", 100, "lz4", "kafka-python")
    round_trip(b, "bsnappy", 100, "zstd", "kafka-python")
    assert stored_codecs(b, "bdefault") == {CODECS["gzip"]}
    assert stored_codecs(b, "bproducer") == {CODECS["lz4"]}
    assert stored_codecs(b, "bsnappy") == {CODECS["snappy"]}


def test_recompressed_log_append_time_topic(cluster):
    """LogAppendTime still applies to a rebuilt batch: timestamp-type bit, broker time."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "tlat", 1, {"compression.type": "zstd", "message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    produce_all(b.bootstrap, "tlat", [(b"k", b"v" * 100, None, 0)], **{"compression.codec": "gzip"})
    assert [(attrs & 7, attrs & 8) for attrs, _ in stored_batches(b, "tlat")] == [(CODECS["zstd"], 8)]
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "x"})
    c.assign([TopicPartition("tlat", 0, OFFSET_BEGINNING)])
    m = wait_for(lambda: c.poll(0.5), 20, "the record")
    c.close()
    assert (m.key(), m.value()) == (b"k", b"v" * 100)
    ts_type, ts = m.timestamp()
    assert ts_type == 2  # TIMESTAMP_LOG_APPEND_TIME
    assert before - 1000 <= ts <= int(time.time() * 1000) + 1000


def with_attributes(raw, attrs, section=None):
    """A batch from test_bad_input with other attributes, perhaps another records section,
    its length and CRC fixed."""
    after_crc = struct.pack(">h", attrs) + raw[23:61] + (raw[61:] if section is None else section)
    head = raw[12:17] + struct.pack(">I", crc32c(after_crc)) + after_crc
    return raw[:8] + struct.pack(">i", len(head)) + head


def gzip_batch(values):
    """test_bad_input's uncompressed batch with its records section gzipped."""
    raw = batch(values)
    return with_attributes(raw, CODECS["gzip"], gzip.compress(raw[61:]))


def test_recompressed_batch_over_max_message_bytes_is_refused(cluster):
    """Kafka applies max.message.bytes to the batch as written: a gzip batch that fits, stored
    uncompressed by compression.type, gets MESSAGE_TOO_LARGE and nothing is written."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "tbig", 1, {"compression.type": "uncompressed", "max.message.bytes": "2000"})
    big = gzip_batch([b"\0" * 20000])
    assert len(big) < 2000
    assert produce_error(b, produce_request("tbig", big)) == 10  # MESSAGE_TOO_LARGE
    assert produce_error(b, produce_request("tbig", gzip_batch([b"small"]))) == 0
    assert [v[1] for v in consume_all(b.bootstrap, "tbig", 1, 1).values()] == [b"small"]
    assert stored_batches(b, "tbig") == [(0, 1)]


def test_zstd_topic_keeps_fetch_below_v10_out(cluster):
    """A batch produced uncompressed with Produce v3 to a zstd topic is stored zstd: a Fetch
    below v10 then gets UNSUPPORTED_COMPRESSION_TYPE, as it does for batches produced zstd."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "tzstd", 1, {"compression.type": "zstd"})
    assert produce_error(b, produce_request("tzstd", batch([b"a" * 500, b"b" * 500]))) == 0
    assert stored_codecs(b, "tzstd") == {CODECS["zstd"]}
    assert fetch_v4_error(b, "tzstd") == 76  # UNSUPPORTED_COMPRESSION_TYPE
    got = consume_all(b.bootstrap, "tzstd", 2, 1)
    assert sorted(v[1] for v in got.values()) == [b"a" * 500, b"b" * 500]


HOUR = 3600 * 1000


def produce_at(b, topic, value, ts, codec="none"):
    """Produce one record with CreateTime ts in a batch of its own; the delivery error code
    (KafkaError.NO_ERROR if stored)."""
    errs = []
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "retries": 0, "compression.codec": codec})
    p.produce(topic, value=value, partition=0, timestamp=ts, on_delivery=lambda e, m: errs.append(e))
    assert p.flush(30) == 0
    assert len(errs) == 1
    return errs[0].code() if errs[0] else KafkaError.NO_ERROR


def test_timestamp_difference_max_ms_topic(cluster):
    """message.timestamp.difference.max.ms bounds every record's CreateTime around the broker's
    clock, before and after, in compressed batches too: out of bounds is INVALID_TIMESTAMP and
    nothing is written. A LogAppendTime topic does not check."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "tsdiff", 1, {"message.timestamp.difference.max.ms": "60000"})
    create_topic(b.bootstrap, "tslat", 1, {"message.timestamp.difference.max.ms": "60000",
                                           "message.timestamp.type": "LogAppendTime"})
    now = int(time.time() * 1000)
    assert produce_at(b, "tsdiff", b"old", now - HOUR) == KafkaError.INVALID_TIMESTAMP
    assert produce_at(b, "tsdiff", b"future", now + HOUR) == KafkaError.INVALID_TIMESTAMP
    assert produce_at(b, "tsdiff", b"old zstd", now - HOUR, "zstd") == KafkaError.INVALID_TIMESTAMP
    assert produce_at(b, "tsdiff", b"now", int(time.time() * 1000)) == KafkaError.NO_ERROR
    assert produce_at(b, "tsdiff", b"now zstd", int(time.time() * 1000), "zstd") == KafkaError.NO_ERROR
    assert produce_at(b, "tslat", b"old", now - HOUR) == KafkaError.NO_ERROR
    got = consume_all(b.bootstrap, "tsdiff", 2, 1)
    assert sorted(got) == [(0, 0), (0, 1)]
    assert sorted(v[1] for v in got.values()) == [b"now", b"now zstd"]
    assert [v[1] for v in consume_all(b.bootstrap, "tslat", 1, 1).values()] == [b"old"]


def test_timestamp_difference_max_ms_broker_key(cluster):
    """The broker key log.message.timestamp.difference.max.ms bounds every topic; a topic's
    message.timestamp.difference.max.ms overrides it."""
    b = cluster(1, {"log.message.timestamp.difference.max.ms": "60000"})[0]
    create_topic(b.bootstrap, "tsbroker", 1)
    create_topic(b.bootstrap, "tsloose", 1, {"message.timestamp.difference.max.ms": str(24 * HOUR)})
    now = int(time.time() * 1000)
    assert produce_at(b, "tsbroker", b"old", now - HOUR) == KafkaError.INVALID_TIMESTAMP
    assert produce_at(b, "tsloose", b"old", now - HOUR) == KafkaError.NO_ERROR
    assert produce_at(b, "tsloose", b"older", now - 25 * HOUR) == KafkaError.INVALID_TIMESTAMP
    assert produce_at(b, "tsbroker", b"now", int(time.time() * 1000)) == KafkaError.NO_ERROR
    assert [v[1] for v in consume_all(b.bootstrap, "tsbroker", 1, 1).values()] == [b"now"]
    assert [v[1] for v in consume_all(b.bootstrap, "tsloose", 1, 1).values()] == [b"old"]


def test_client_batch_claiming_log_append_time_is_refused(cluster):
    """Only the broker sets LogAppendTime: a produced batch with that attribute bit gets
    INVALID_TIMESTAMP (Kafka's validateTimestamp), whatever the topic's timestamp type."""
    b = cluster(1)[0]
    create_topic(b.bootstrap, "tsclaim", 1)
    create_topic(b.bootstrap, "tsclaimlat", 1, {"message.timestamp.type": "LogAppendTime"})
    claimed = with_attributes(batch([b"claimed"]), 8)
    assert produce_error(b, produce_request("tsclaim", claimed)) == 32  # INVALID_TIMESTAMP
    assert produce_error(b, produce_request("tsclaimlat", claimed)) == 32
    assert produce_error(b, produce_request("tsclaim", batch([b"plain"]))) == 0
    assert [v[1] for v in consume_all(b.bootstrap, "tsclaim", 1, 1).values()] == [b"plain"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_librdkafka_compresses_with_every_codec(cluster, codec):
    """librdkafka up to 2.11.0 compresses with gzip, snappy or lz4 only if the broker's Produce
    versions start at 0 (zstd needs Produce 7): keel takes Produce v0-v2 as Kafka does, so
    those clients store compressed batches."""
    b = cluster(1)[0]
    topic = "lrk-" + codec
    create_topic(b.bootstrap, topic, 1)
    round_trip(b, topic, 300, codec)
    # (librdkafka sends a batch plain when compressing would make it larger)
    batches = stored_batches(b, topic)
    assert {attrs & 7 for attrs, _ in batches} <= {0, CODECS[codec]}, batches
    assert sum(n for attrs, n in batches if attrs & 7 == CODECS[codec]) >= 200, batches


@pytest.mark.parametrize("api_version,magic,codec",
                         [(v, m, c) for v, m in [((0, 8, 2), 0), ((0, 9), 0), ((0, 10, 1), 1)]
                          for c in [None, "gzip", "snappy", "lz4"] if m or c != "lz4"])
def test_legacy_message_formats_are_converted(cluster, api_version, magic, codec):
    """kafka-python speaking as a client of Kafka 0.8.2-0.10 sends Produce v0-v2 with message
    sets of magic 0 or 1, plain or compressed: each becomes one magic-2 batch with the same
    codec, and the records come back with their keys, values and (magic 1) timestamps.
    (kafka-python writes magic-0 lz4 only with a Python module Debian does not package; the
    unit tests cover that framing.)"""
    b = cluster(1)[0]
    topic = "legacy-%d-%s" % (api_version[1], codec or "none")
    create_topic(b.bootstrap, topic, 1)
    now = int(time.time() * 1000)
    recs = [(None if i % 4 == 0 else b"k%d" % i, None if i % 7 == 6 and i % 4 else b"value-%d " % i * (1 + i % 5), None, 0)
            for i in range(60)]
    from kafka import KafkaProducer
    prod = KafkaProducer(bootstrap_servers=b.bootstrap, compression_type=codec, acks=1, linger_ms=20,
                         api_version=api_version)
    futs = [prod.send(topic, key=k, value=v, partition=0, timestamp_ms=now - 1000 + i if magic else None)
            for i, (k, v, _, _) in enumerate(recs)]
    prod.flush(30)
    offsets = [f.get(30).offset for f in futs]
    prod.close()
    assert offsets == list(range(60))
    assert stored_codecs(b, topic) == {CODECS[codec or "none"]}
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = []
        while len(got) < 60:
            m = c.poll(10)
            assert m is not None and not m.error(), m and m.error()
            got.append(m)
    finally:
        c.close()
    assert [(m.offset(), m.key(), m.value()) for m in got] == [(i, k, v) for i, (k, v, _, _) in enumerate(recs)]
    if magic:
        assert [m.timestamp()[1] for m in got] == [now - 1000 + i for i in range(60)]
    else:
        assert all(m.timestamp()[1] == -1 for m in got)


@pytest.mark.parametrize("api_version,magic,codec",
                         [(v, m, c) for v, m in [((0, 8, 2), 0), ((0, 9), 0), ((0, 10, 1), 1)]
                          for c in ["none", "gzip", "lz4"] if m or c != "lz4"])
def test_old_consumers_read_down_converted_records(cluster, api_version, magic, codec):
    """kafka-python as a client of Kafka 0.8.2-0.10 fetches with Fetch v0-v3: keel converts the
    stored batches (here from librdkafka, with headers) down to message sets of magic 0 or 1, as
    Kafka does, and every record comes back at its offset with its key, value and (magic 1)
    timestamp. (kafka-python reads magic-0 lz4 only with a Python module Debian does not
    package; the unit tests cover that framing.)"""
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP
    b = cluster(1)[0]
    topic = "old-%d-%s" % (api_version[1], codec)
    create_topic(b.bootstrap, topic, 1)
    recs = records(120, topic.encode())
    acked = produce_all(b.bootstrap, topic, recs, **{"compression.codec": codec, "acks": "all"})
    assert len(acked) == 120
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, api_version=api_version, enable_auto_commit=False,
                      group_id=None, consumer_timeout_ms=15000)
    try:
        c.assign([KTP(topic, 0)])
        c.seek_to_beginning()
        got = []
        for m in c:
            got.append(m)
            if len(got) == 120:
                break
    finally:
        c.close()
    assert [m.offset for m in got] == list(range(120))
    for m in got:
        key, value = acked[(0, m.offset)][:2]
        assert (m.key, m.value) == (key, value)
        if magic == 0:
            assert m.timestamp in (None, -1)
        else:
            assert m.timestamp > 1_600_000_000_000  # the producer's CreateTime


def fetch_v0(port, topic):
    """A raw Fetch v0 from offset 0 of partition 0: (error, records bytes)."""
    from kwire import classic_call
    name = topic.encode()
    body = struct.pack(">iii", -1, 0, 0) + struct.pack(">i", 1) + struct.pack(">h", len(name)) + name + \
        struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20)
    r = classic_call(port, 1, 0, body)
    pos = 4 + 2 + struct.unpack_from(">h", r, 4)[0] + 4  # topics count, name, partitions count
    _, err, _, size = struct.unpack_from(">ihqi", r, pos)
    return err, r[pos + 18:pos + 18 + size]


def test_message_downconversion_enable_false_refuses_old_fetchers(cluster):
    """A topic with message.downconversion.enable=false answers Fetch v0-v3 with
    UNSUPPORTED_VERSION, as Kafka does; others get magic-0 messages for Fetch v0."""
    from confluent_kafka.admin import AdminClient, NewTopic
    b = cluster(1)[0]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in admin.create_topics([NewTopic("nodown", 1, 1, config={"message.downconversion.enable": "false"}),
                                  NewTopic("down", 1, 1)]).values():
        f.result(30)
    for t in ("nodown", "down"):
        produce_all(b.bootstrap, t, [(b"k", b"v", None, 0)])
    err, recs = fetch_v0(b.port, "nodown")
    assert err == 35 and recs == b""
    err, recs = fetch_v0(b.port, "down")
    assert err == 0 and struct.unpack_from(">q", recs, 0)[0] == 0 and recs[16] == 0  # offset 0, magic 0
