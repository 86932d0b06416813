/* src/codec.h: Kafka wire primitives: a bounds-checked reader with a sticky error flag and a
 * growable writer with back-patching; both know classic and flexible (KIP-482) encodings. */
#ifndef KEEL_CODEC_H
#define KEEL_CODEC_H

#include "keel.h"

#include <stdint.h>
#include <sys/types.h>

/* Reader over borrowed bytes. Any read past the end sets err and returns zero values; check
 * kr_ok() once at the end instead of after every field. */
typedef struct {
	const uint8_t *p;
	const uint8_t *end;
	bool err;
	bool flex; /* compact strings/arrays and tagged fields */
} kr_t;

void kr_init(kr_t *r, const uint8_t *buf, size_t len, bool flex);
static inline bool kr_ok(const kr_t *r) { return !r->err; }
static inline size_t kr_remaining(const kr_t *r) { return r->err ? 0 : (size_t)(r->end - r->p); }
/* Everything read without error and nothing left over: a whole message decoded. */
static inline bool kr_done(const kr_t *r) { return !r->err && r->p == r->end; }
int8_t kr_i8(kr_t *r);
int16_t kr_i16(kr_t *r);
int32_t kr_i32(kr_t *r);
int64_t kr_i64(kr_t *r);
bool kr_bool(kr_t *r);
uint32_t kr_uvarint(kr_t *r);
/* STRING / COMPACT_STRING (and nullable): a slice into the buffer; *is_null set if given. */
keel_slice_t kr_str(kr_t *r, bool *is_null);
/* Same as kr_str but copies into a NUL-terminated buffer of size n (truncation = error). */
bool kr_str_buf(kr_t *r, char *out, size_t n);
/* BYTES / COMPACT_BYTES (nullable). */
keel_slice_t kr_bytes(kr_t *r, bool *is_null);
/* Nullable STRING / BYTES: a null value is the slice {NULL, 0}. */
static inline keel_slice_t kr_nstr(kr_t *r) { bool n; return kr_str(r, &n); }
static inline keel_slice_t kr_nbytes(kr_t *r) { bool n; return kr_bytes(r, &n); }
/* ARRAY / COMPACT_ARRAY length: -1 for null. A count that cannot fit in the remaining bytes
 * (min_elem_size bytes each) sets err, so callers may allocate count elements safely. */
int32_t kr_array(kr_t *r, size_t min_elem_size);
/* Same as kr_array for an array that is not nullable: null sets err (Kafka's generated readers
 * reject it too) and reads as 0. */
int32_t kr_count(kr_t *r, size_t min_elem_size);
/* calloc for n decoded elements, n from kr_count/kr_array (so bounded by the input). NULL for
 * n <= 0; an allocation failure sets err, so the decode fails as a whole. The caller frees. */
void *kr_calloc(kr_t *r, int32_t n, size_t size);
/* Skip a tagged-field section (only when flex). */
void kr_tags(kr_t *r);
void kr_skip(kr_t *r, size_t n);

/* Writer into a malloc'd growable buffer. Allocation failure sets oom; the bytes are then junk. */
typedef struct {
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool flex;
	bool oom;
} kw_t;

void kw_init(kw_t *w, size_t cap, bool flex);
void kw_free(kw_t *w);
/* Reserve n bytes at the end and return their position (for back-patching). */
size_t kw_reserve(kw_t *w, size_t n);
void kw_raw(kw_t *w, const void *p, size_t n);
void kw_i8(kw_t *w, int8_t v);
void kw_i16(kw_t *w, int16_t v);
void kw_i32(kw_t *w, int32_t v);
void kw_i64(kw_t *w, int64_t v);
void kw_bool(kw_t *w, bool v);
void kw_uvarint(kw_t *w, uint32_t v);
/* (COMPACT_)(NULLABLE_)STRING from p/n; p == NULL writes null. */
void kw_strn(kw_t *w, const char *p, size_t n);
void kw_str(kw_t *w, const char *s); /* NUL-terminated, or NULL for null */
void kw_bytes(kw_t *w, const void *p, size_t n, bool is_null);
/* A slice as a string or bytes field. A slice whose ptr is NULL stands for null: written as
 * null when the field is nullable, as empty when it is not (never an invalid null). */
void kw_sstr(kw_t *w, keel_slice_t s, bool nullable);
void kw_sbytes(kw_t *w, keel_slice_t s, bool nullable);
/* Array count (n = -1 for null). */
void kw_array(kw_t *w, int32_t n);
/* An array of n int32 (v may be NULL when n <= 0). */
void kw_i32s(kw_t *w, int32_t n, const int32_t *v);
/* Empty tagged-field section (only when flex). */
void kw_tags(kw_t *w);
void kw_patch32(kw_t *w, size_t pos, int32_t v);

#endif
