/* src/api_versions.c: ApiVersions v0-3, including Kafka's fallback for unknown versions. */
#include "api.h"

#include <ctype.h>

/* AK's rule for the v3 client software strings: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool software_string_ok(keel_slice_t s)
{
	if (s.len == 0 || !isalnum(s.ptr[0]) || !isalnum(s.ptr[s.len - 1]))
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!isalnum(s.ptr[i]) && s.ptr[i] != '-' && s.ptr[i] != '.')
			return false;
	return true;
}

static void write_entries(kw_t *w, bool only_self)
{
	int32_t n = 0;
	for (int k = 0; k < KAPI_MAX; k++)
		n += keel_apis[k].fn && (!only_self || k == KAPI_API_VERSIONS);
	kw_array(w, n);
	for (int k = 0; k < KAPI_MAX; k++) {
		if (!keel_apis[k].fn || (only_self && k != KAPI_API_VERSIONS))
			continue;
		kw_i16(w, (int16_t)k);
		kw_i16(w, keel_apis[k].min);
		kw_i16(w, keel_apis[k].max);
		kw_tags(w);
	}
}

int keel_api_versions(keel_request_t *req)
{
	keel_resp_t r;
	int16_t v = req->api_version;
	int16_t err = 0;

	if (v > keel_apis[KAPI_API_VERSIONS].max || v < 0) {
		/* KIP-511: a v0 body with UNSUPPORTED_VERSION and our own range, header v0 */
		req->flex = false;
		keel_resp_begin(req, &r);
		kw_i16(&r.w, KERR_UNSUPPORTED_VERSION);
		write_entries(&r.w, true);
		keel_resp_send(req, &r);
		return KEEL_HANDLED;
	}
	if (v >= 3) {
		keel_slice_t name = kr_str(&req->body, NULL);
		keel_slice_t ver = kr_str(&req->body, NULL);
		kr_tags(&req->body);
		if (!kr_ok(&req->body))
			return KEEL_CLOSE;
		if (!software_string_ok(name) || !software_string_ok(ver))
			err = KERR_INVALID_REQUEST;
	}
	keel_resp_begin(req, &r); /* ApiVersions responses always use header v0 */
	kw_i16(&r.w, err);
	write_entries(&r.w, false);
	if (v >= 1)
		kw_i32(&r.w, 0); /* throttle_time_ms */
	kw_tags(&r.w);
	keel_resp_send(req, &r);
	return KEEL_HANDLED;
}
