/* src/group_records.c: __consumer_offsets keys and values as Kafka writes and reads them, the
 * consumer protocol inside group membership bytes, and the group -> partition hash. */
#include "group_records.h"

#include <stdlib.h>
#include <string.h>

/* Smallest encoded sizes of array elements, flexible or not, so that kr_count can bound a
 * count by the bytes left before anything is allocated. */
#define MIN_TOPIC_PARTS 3 /* name, partition array, tags (flexible); 6 when classic */
#define MIN_MEMBER 10     /* four strings/bytes, session timeout, tags (flexible) */

/* ---- keys ---- */

int keel_gkey_decode(const uint8_t *buf, size_t len, keel_gkey_t *key)
{
	kr_t r;
	memset(key, 0, sizeof(*key));
	kr_init(&r, buf, len, false);
	key->version = kr_i16(&r);
	if (!kr_ok(&r) || key->version < 0)
		return -1;
	if (key->version > 2) {
		/* Kafka 3.7+ stores other record types under higher key versions; they are
		 * well-formed records keel has no use for, not corruption. */
		key->kind = KEEL_GKEY_OTHER;
		return 0;
	}
	key->group = kr_str(&r, NULL);
	if (key->version == 2) {
		key->kind = KEEL_GKEY_GROUP;
	} else {
		key->kind = KEEL_GKEY_OFFSET;
		key->topic = kr_str(&r, NULL);
		key->partition = kr_i32(&r);
	}
	/* Trailing bytes are refused: compaction tells keys apart by their bytes, and neither
	 * Kafka nor keel writes any. */
	return kr_done(&r) ? 0 : -1;
}

int keel_gkey_encode(kw_t *w, const keel_gkey_t *k)
{
	w->flex = false;
	if (k->kind == KEEL_GKEY_OFFSET) {
		kw_i16(w, 1);
		kw_sstr(w, k->group, false);
		kw_sstr(w, k->topic, false);
		kw_i32(w, k->partition);
	} else if (k->kind == KEEL_GKEY_GROUP) {
		kw_i16(w, 2);
		kw_sstr(w, k->group, false);
	} else {
		return -1;
	}
	return w->oom ? -1 : 0;
}

/* ---- offset commit values ---- */

int keel_offset_value_decode(const uint8_t *buf, size_t len, keel_offset_value_t *v)
{
	kr_t r;
	memset(v, 0, sizeof(*v));
	kr_init(&r, buf, len, false);
	v->version = kr_i16(&r);
	if (!kr_ok(&r) || v->version < 0 || v->version > 4)
		return -1;
	r.flex = v->version >= 4;
	v->offset = kr_i64(&r);
	v->leader_epoch = v->version >= 3 ? kr_i32(&r) : -1;
	v->metadata = kr_str(&r, NULL);
	v->commit_ts = kr_i64(&r);
	v->expire_ts = v->version == 1 ? kr_i64(&r) : -1;
	kr_tags(&r);
	return kr_done(&r) ? 0 : -1;
}

int keel_offset_value_encode(kw_t *w, const keel_offset_value_t *v)
{
	/* Version 1 is the only one with an expire timestamp; Kafka still writes it for
	 * commits that ask for a retention time (OffsetCommit v2-4), and v3 otherwise. */
	bool v1 = v->expire_ts >= 0;
	w->flex = false;
	kw_i16(w, v1 ? 1 : 3);
	kw_i64(w, v->offset);
	if (!v1)
		kw_i32(w, v->leader_epoch);
	kw_sstr(w, v->metadata, false);
	kw_i64(w, v->commit_ts);
	if (v1)
		kw_i64(w, v->expire_ts);
	return w->oom ? -1 : 0;
}

/* ---- group metadata values ---- */

static void read_member(kr_t *r, int16_t version, keel_group_member_rec_t *m)
{
	m->member_id = kr_str(r, NULL);
	if (version >= 3)
		m->group_instance_id = kr_nstr(r);
	m->client_id = kr_str(r, NULL);
	m->client_host = kr_str(r, NULL);
	if (version >= 1)
		m->rebalance_timeout = kr_i32(r);
	m->session_timeout = kr_i32(r);
	if (version == 0)
		m->rebalance_timeout = m->session_timeout; /* what Kafka 2.8 assumes for v0 */
	m->subscription = kr_bytes(r, NULL);
	m->assignment = kr_bytes(r, NULL);
	kr_tags(r);
}

int keel_group_value_decode(const uint8_t *buf, size_t len, keel_group_value_t *g)
{
	kr_t r;
	int32_t n;
	memset(g, 0, sizeof(*g));
	kr_init(&r, buf, len, false);
	g->version = kr_i16(&r);
	if (!kr_ok(&r) || g->version < 0 || g->version > 4)
		return -1;
	r.flex = g->version >= 4;
	g->protocol_type = kr_str(&r, NULL);
	g->generation = kr_i32(&r);
	g->protocol = kr_nstr(&r);
	g->leader = kr_nstr(&r);
	g->current_state_ts = g->version >= 2 ? kr_i64(&r) : -1;
	n = kr_count(&r, MIN_MEMBER);
	g->members = kr_calloc(&r, n, sizeof(*g->members));
	g->nmembers = g->members ? n : 0;
	for (int32_t i = 0; i < g->nmembers && kr_ok(&r); i++)
		read_member(&r, g->version, &g->members[i]);
	kr_tags(&r);
	if (!kr_done(&r)) {
		keel_group_value_free(g);
		return -1;
	}
	return 0;
}

int keel_group_value_encode(kw_t *w, const keel_group_value_t *g)
{
	w->flex = false;
	kw_i16(w, 3);
	kw_sstr(w, g->protocol_type, false);
	kw_i32(w, g->generation);
	kw_sstr(w, g->protocol, true);
	kw_sstr(w, g->leader, true);
	kw_i64(w, g->current_state_ts);
	kw_array(w, g->nmembers);
	for (int32_t i = 0; i < g->nmembers; i++) {
		const keel_group_member_rec_t *m = &g->members[i];
		kw_sstr(w, m->member_id, false);
		kw_sstr(w, m->group_instance_id, true);
		kw_sstr(w, m->client_id, false);
		kw_sstr(w, m->client_host, false);
		kw_i32(w, m->rebalance_timeout);
		kw_i32(w, m->session_timeout);
		kw_sbytes(w, m->subscription, false);
		kw_sbytes(w, m->assignment, false);
	}
	return w->oom ? -1 : 0;
}

void keel_group_value_free(keel_group_value_t *g)
{
	free(g->members);
	g->members = NULL;
	g->nmembers = 0;
}

/* ---- the consumer protocol ---- */

bool keel_topic_parts_read(kr_t *r, bool nullable, int32_t *n, keel_topic_parts_t **out)
{
	int32_t count = nullable ? kr_array(r, MIN_TOPIC_PARTS) : kr_count(r, MIN_TOPIC_PARTS);
	keel_topic_parts_t *t = kr_calloc(r, count, sizeof(*t));
	*n = 0;
	*out = NULL;
	for (int32_t i = 0; t && i < count && kr_ok(r); i++) {
		int32_t np;
		t[i].topic = kr_str(r, NULL);
		np = kr_count(r, 4);
		t[i].partitions = kr_calloc(r, np, sizeof(int32_t));
		t[i].npartitions = t[i].partitions ? np : 0;
		for (int32_t j = 0; j < t[i].npartitions; j++)
			t[i].partitions[j] = kr_i32(r);
		kr_tags(r);
	}
	if (!kr_ok(r)) {
		keel_topic_parts_free(t, count);
		return false;
	}
	*n = count; /* -1 for a null array, with t NULL */
	*out = t;
	return true;
}

void keel_topic_parts_free(keel_topic_parts_t *t, int32_t n)
{
	for (int32_t i = 0; t && i < n; i++)
		free(t[i].partitions);
	free(t);
}

/* The version of a consumer protocol message (stored in *raw), and the one to read it as:
 * Kafka reads a version above the ones it knows as the highest it knows, since later
 * versions only append fields. -1 if malformed (negative). */
static int16_t cp_version(kr_t *r, int16_t highest, int16_t *raw)
{
	*raw = kr_i16(r);
	if (!kr_ok(r) || *raw < 0)
		return -1;
	return *raw > highest ? highest : *raw;
}

int keel_cp_subscription_decode(const uint8_t *buf, size_t len, keel_cp_subscription_t *s)
{
	kr_t r;
	int16_t v;
	int32_t n;
	memset(s, 0, sizeof(*s));
	s->generation_id = -1;
	kr_init(&r, buf, len, false);
	v = cp_version(&r, 3, &s->version);
	if (v < 0)
		return -1;
	n = kr_count(&r, 2);
	s->topics = kr_calloc(&r, n, sizeof(*s->topics));
	s->ntopics = s->topics ? n : 0;
	for (int32_t i = 0; i < s->ntopics; i++)
		s->topics[i] = kr_str(&r, NULL);
	s->user_data = kr_nbytes(&r);
	if (v >= 1 && kr_ok(&r))
		(void)keel_topic_parts_read(&r, false, &s->nowned, &s->owned);
	if (v >= 2)
		s->generation_id = kr_i32(&r);
	if (v >= 3)
		s->rack_id = kr_nstr(&r);
	if (!kr_ok(&r)) { /* trailing bytes are fine: a later version's fields */
		keel_cp_subscription_free(s);
		return -1;
	}
	return 0;
}

void keel_cp_subscription_free(keel_cp_subscription_t *s)
{
	free(s->topics);
	keel_topic_parts_free(s->owned, s->nowned);
	s->topics = NULL;
	s->owned = NULL;
	s->ntopics = s->nowned = 0;
}

int keel_cp_assignment_decode(const uint8_t *buf, size_t len, keel_cp_assignment_t *a)
{
	kr_t r;
	memset(a, 0, sizeof(*a));
	kr_init(&r, buf, len, false);
	if (cp_version(&r, 3, &a->version) < 0)
		return -1;
	if (!keel_topic_parts_read(&r, false, &a->ntopics, &a->topics))
		return -1;
	a->user_data = kr_nbytes(&r);
	if (!kr_ok(&r)) {
		keel_cp_assignment_free(a);
		return -1;
	}
	return 0;
}

void keel_cp_assignment_free(keel_cp_assignment_t *a)
{
	keel_topic_parts_free(a->topics, a->ntopics);
	a->topics = NULL;
	a->ntopics = 0;
}

/* ---- coordinator placement ---- */

#define REPLACEMENT 0xfffd

static bool utf8_cont(uint8_t b)
{
	return (b & 0xc0) == 0x80;
}

/* A three-byte lead at s[0] (E0..EF), n >= 1 bytes available. */
static size_t utf8_step3(const uint8_t *s, size_t n, uint16_t *u)
{
	/* after E0 the next byte must be A0..BF, or the form is overlong */
	bool bad2 = n < 2 || !utf8_cont(s[1]) || (s[0] == 0xe0 && s[1] < 0xa0);
	uint16_t c;
	if (bad2)
		return 1;
	if (n < 3)
		return n; /* a truncated tail is one replacement */
	if (!utf8_cont(s[2]))
		return 2;
	c = (uint16_t)((s[0] & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f));
	if (c < 0xd800 || c > 0xdfff) /* an encoded surrogate is one replacement for 3 bytes */
		u[0] = c;
	return 3;
}

/* A four-byte lead at s[0] (F0..F7), n >= 1 bytes available; *nu = 2 for a pair. */
static size_t utf8_step4(const uint8_t *s, size_t n, uint16_t *u, int *nu)
{
	/* beyond U+10FFFF (F4 90+, F5+) or overlong (F0 80..8F) fails at the second byte */
	bool bad2 = n < 2 || !utf8_cont(s[1]) || s[0] > 0xf4 || (s[0] == 0xf0 && s[1] < 0x90) ||
		    (s[0] == 0xf4 && s[1] > 0x8f);
	uint32_t cp;
	if (bad2)
		return 1;
	if (n >= 3 && !utf8_cont(s[2]))
		return 2;
	if (n < 4)
		return n;
	if (!utf8_cont(s[3]))
		return 3;
	cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	u[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
	u[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
	*nu = 2;
	return 4;
}

/* One step of Java's UTF-8 decoding with replacement (new String(bytes, UTF_8), as checked
 * against JDK 17): the UTF-16 units of the sequence at s[0..n) go to u (*nu of them, 1 or 2)
 * and the bytes it took are returned. Malformed input is one U+FFFD per step, and the bytes a
 * step takes follow the JDK, so a group id that is not UTF-8 lands where Kafka puts it. */
static size_t utf8_step(const uint8_t *s, size_t n, uint16_t u[2], int *nu)
{
	*nu = 1;
	u[0] = REPLACEMENT;
	if (s[0] < 0x80) {
		u[0] = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		if (n < 2 || !utf8_cont(s[1]))
			return 1;
		u[0] = (uint16_t)((s[0] & 0x1f) << 6 | (s[1] & 0x3f));
		return 2;
	}
	if (s[0] >= 0xe0 && s[0] <= 0xef)
		return utf8_step3(s, n, u);
	if (s[0] >= 0xf0 && s[0] <= 0xf7)
		return utf8_step4(s, n, u, nu);
	return 1; /* a stray continuation byte, C0/C1, F8..FF */
}

int32_t keel_java_string_hash(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t h = 0; /* unsigned: Java's int overflow wraps, C's signed overflow is undefined */
	while (len > 0) {
		uint16_t u[2];
		int nu;
		size_t used = utf8_step(p, len, u, &nu);
		for (int i = 0; i < nu; i++)
			h = 31 * h + u[i];
		p += used;
		len -= used;
	}
	return (int32_t)h;
}

int32_t keel_group_partition(const char *group_id, size_t len, int32_t npartitions)
{
	int32_t h = keel_java_string_hash(group_id, len);
	if (npartitions <= 0)
		return -1;
	/* Kafka's Utils.abs: Math.abs(INT32_MIN) stays negative, Kafka makes it 0 */
	if (h == INT32_MIN)
		return 0;
	return (h < 0 ? -h : h) % npartitions;
}
