/* src/codec.c: the Kafka wire primitives behind codec.h. */
#include "codec.h"
#include "batch.h"

#include <stdlib.h>
#include <string.h>

void kr_init(kr_t *r, const uint8_t *buf, size_t len, bool flex)
{
	r->p = buf;
	r->end = buf + len;
	r->err = false;
	r->flex = flex;
}

static const uint8_t *kr_take(kr_t *r, size_t n)
{
	const uint8_t *p = r->p;
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = true;
		return NULL;
	}
	r->p += n;
	return p;
}

void kr_skip(kr_t *r, size_t n)
{
	(void)kr_take(r, n);
}

int8_t kr_i8(kr_t *r)
{
	const uint8_t *p = kr_take(r, 1);
	return p ? (int8_t)p[0] : 0;
}

int16_t kr_i16(kr_t *r)
{
	const uint8_t *p = kr_take(r, 2);
	return p ? kb_get16(p) : 0;
}

int32_t kr_i32(kr_t *r)
{
	const uint8_t *p = kr_take(r, 4);
	return p ? kb_get32(p) : 0;
}

int64_t kr_i64(kr_t *r)
{
	const uint8_t *p = kr_take(r, 8);
	return p ? kb_get64(p) : 0;
}

bool kr_bool(kr_t *r)
{
	return kr_i8(r) != 0;
}

uint32_t kr_uvarint(kr_t *r)
{
	uint32_t v = 0;
	for (int shift = 0; shift < 35; shift += 7) {
		const uint8_t *p = kr_take(r, 1);
		if (!p)
			return 0;
		if (shift == 28 && (*p & 0xf0)) /* more than 32 bits */
			break;
		v |= (uint32_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->err = true;
	return 0;
}

/* Length of a string/bytes field: classic uses a fixed-width prefix, flex uvarint(len+1). */
static int64_t kr_len(kr_t *r, bool wide)
{
	if (r->flex)
		return (int64_t)kr_uvarint(r) - 1;
	return wide ? kr_i32(r) : kr_i16(r);
}

static keel_slice_t kr_sized(kr_t *r, bool *is_null, bool wide)
{
	keel_slice_t s = {NULL, 0};
	int64_t n = kr_len(r, wide);
	if (is_null)
		*is_null = false;
	if (r->err)
		return s;
	if (n < 0) {
		if (n != -1 || !is_null)
			r->err = true; /* null where null is not allowed, or a bad length */
		else
			*is_null = true;
		return s;
	}
	s.ptr = kr_take(r, (size_t)n);
	s.len = s.ptr ? (size_t)n : 0;
	return s;
}

keel_slice_t kr_str(kr_t *r, bool *is_null)
{
	return kr_sized(r, is_null, false);
}

keel_slice_t kr_bytes(kr_t *r, bool *is_null)
{
	return kr_sized(r, is_null, true);
}

bool kr_str_buf(kr_t *r, char *out, size_t n)
{
	keel_slice_t s = kr_str(r, NULL);
	if (r->err || s.len >= n) {
		r->err = true;
		if (n)
			out[0] = '\0';
		return false;
	}
	memcpy(out, s.ptr, s.len);
	out[s.len] = '\0';
	return true;
}

int32_t kr_array(kr_t *r, size_t min_elem_size)
{
	int64_t n = r->flex ? (int64_t)kr_uvarint(r) - 1 : kr_i32(r);
	if (r->err)
		return 0;
	if (n < -1 || (n > 0 && min_elem_size && (uint64_t)n * min_elem_size > kr_remaining(r))) {
		r->err = true;
		return 0;
	}
	return (int32_t)n;
}

int32_t kr_count(kr_t *r, size_t min_elem_size)
{
	int32_t n = kr_array(r, min_elem_size);
	if (n < 0) {
		r->err = true;
		return 0;
	}
	return n;
}

void *kr_calloc(kr_t *r, int32_t n, size_t size)
{
	void *p;
	if (n <= 0 || r->err)
		return NULL;
	p = calloc((size_t)n, size);
	if (!p)
		r->err = true;
	return p;
}

void kr_tags(kr_t *r)
{
	if (!r->flex)
		return;
	uint32_t n = kr_uvarint(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		(void)kr_uvarint(r); /* tag */
		kr_skip(r, kr_uvarint(r));
	}
}

/* ---- writer ---- */

void kw_init(kw_t *w, size_t cap, bool flex)
{
	w->cap = cap ? cap : 256;
	w->buf = malloc(w->cap);
	w->len = 0;
	w->flex = flex;
	w->oom = w->buf == NULL;
	if (w->oom)
		w->cap = 0;
}

void kw_free(kw_t *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

size_t kw_reserve(kw_t *w, size_t n)
{
	size_t pos = w->len;
	if (w->oom)
		return 0;
	if (w->len + n > w->cap) {
		size_t cap = w->cap * 2;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *nb = realloc(w->buf, cap);
		if (!nb) {
			w->oom = true;
			return 0;
		}
		w->buf = nb;
		w->cap = cap;
	}
	w->len += n;
	return pos;
}

void kw_raw(kw_t *w, const void *p, size_t n)
{
	size_t pos = kw_reserve(w, n);
	if (!w->oom && n)
		memcpy(w->buf + pos, p, n);
}

void kw_i8(kw_t *w, int8_t v)
{
	kw_raw(w, &v, 1);
}

void kw_i16(kw_t *w, int16_t v)
{
	size_t pos = kw_reserve(w, 2);
	if (!w->oom)
		kb_put16(w->buf + pos, v);
}

void kw_i32(kw_t *w, int32_t v)
{
	size_t pos = kw_reserve(w, 4);
	if (!w->oom)
		kb_put32(w->buf + pos, v);
}

void kw_i64(kw_t *w, int64_t v)
{
	size_t pos = kw_reserve(w, 8);
	if (!w->oom)
		kb_put64(w->buf + pos, v);
}

void kw_bool(kw_t *w, bool v)
{
	kw_i8(w, v ? 1 : 0);
}

void kw_uvarint(kw_t *w, uint32_t v)
{
	uint8_t b[5];
	size_t n = 0;
	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	kw_raw(w, b, n);
}

static void kw_len(kw_t *w, int64_t n, bool wide)
{
	if (w->flex)
		kw_uvarint(w, (uint32_t)(n + 1));
	else if (wide)
		kw_i32(w, (int32_t)n);
	else
		kw_i16(w, (int16_t)n);
}

void kw_strn(kw_t *w, const char *p, size_t n)
{
	if (!p) {
		kw_len(w, -1, false);
		return;
	}
	kw_len(w, (int64_t)n, false);
	kw_raw(w, p, n);
}

void kw_str(kw_t *w, const char *s)
{
	kw_strn(w, s, s ? strlen(s) : 0);
}

void kw_bytes(kw_t *w, const void *p, size_t n, bool is_null)
{
	if (is_null) {
		kw_len(w, -1, true);
		return;
	}
	kw_len(w, (int64_t)n, true);
	kw_raw(w, p, n);
}

void kw_sstr(kw_t *w, keel_slice_t s, bool nullable)
{
	if (!s.ptr)
		kw_strn(w, nullable ? NULL : "", 0);
	else
		kw_strn(w, (const char *)s.ptr, s.len);
}

void kw_sbytes(kw_t *w, keel_slice_t s, bool nullable)
{
	kw_bytes(w, s.ptr, s.len, !s.ptr && nullable);
}

void kw_array(kw_t *w, int32_t n)
{
	if (w->flex)
		kw_uvarint(w, (uint32_t)(n + 1));
	else
		kw_i32(w, n);
}

void kw_i32s(kw_t *w, int32_t n, const int32_t *v)
{
	kw_array(w, n);
	for (int32_t i = 0; i < n; i++)
		kw_i32(w, v[i]);
}

void kw_tags(kw_t *w)
{
	if (w->flex)
		kw_uvarint(w, 0);
}

void kw_patch32(kw_t *w, size_t pos, int32_t v)
{
	if (!w->oom)
		kb_put32(w->buf + pos, v);
}
