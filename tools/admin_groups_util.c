/* tools/admin_groups_util.c: keel-consumer-groups.sh's pure computations (see the header). The
 * parsers follow the Java classes Kafka's tool hands its arguments to (SimpleDateFormat,
 * java.time.Duration, String.split, Integer.parseInt), so a value Kafka takes is taken here and
 * one it refuses fails with the same message. */
#include "admin_groups_util.h"
#include "keel.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NANOS_PER_SEC 1000000000LL

/* Instant's range (java.time.Instant.MIN and MAX), in epoch seconds. */
#define INSTANT_MIN_SEC (-31557014167219200LL)
#define INSTANT_MAX_SEC 31556889864403199LL

const char *const cg_state_names[CG_NSTATES] = {
	"Unknown", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty",
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		abort();
	return d;
}

/* ---- String.split ---- */

int cg_split(const char *s, char sep, char ***out)
{
	int n = 0, cap = 4;
	char **v = malloc(sizeof(char *) * (size_t)cap);

	if (!v)
		abort();
	for (const char *p = s;; p++) {
		const char *q = strchr(p, sep);
		size_t len = q ? (size_t)(q - p) : strlen(p);
		if (n == cap && !(v = realloc(v, sizeof(char *) * (size_t)(cap *= 2))))
			abort();
		v[n++] = xstrndup(p, len);
		if (!q)
			break;
		p = q;
	}
	/* no separator at all leaves the string whole, even an empty one */
	while (n > 1 && v[n - 1][0] == '\0')
		free(v[--n]);
	if (n == 1 && v[0][0] == '\0' && strchr(s, sep))
		free(v[--n]);
	*out = v;
	return n;
}

void cg_strings_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- --to-datetime: SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS" + zone), not lenient ---- */

/* A SimpleDateFormat number: blanks skipped, DecimalFormat's optional '-', digits. Values out
 * of int range cannot be valid calendar fields, so they fail here. */
static int dt_number(const char **p, int64_t *v)
{
	const char *s = *p;
	bool neg;
	int64_t x = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if ((neg = *s == '-'))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++)
		if ((x = x * 10 + (*s - '0')) > INT32_MAX)
			return -1;
	*v = neg ? -x : x;
	*p = s;
	return 0;
}

static int dt_literal(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* The zone: 'Z', or "+HH:mm" (colon true, pattern XXX) / "+HH" (pattern X, which stops after
 * the hours: Java reads "+0530" as +05:00 that way). Minutes east of UTC in *off. */
static int dt_zone(const char **p, bool colon, int64_t *off)
{
	const char *s = *p;
	int sign, h, m = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == 'Z') {
		*off = 0;
		*p = s + 1;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	s += 2;
	if (colon) {
		if (*s++ != ':' || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
			return -1;
		m = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
	}
	if (h > 23 || m > 59)
		return -1;
	*off = sign * (h * 60 + m);
	*p = s;
	return 0;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. (Java's GregorianCalendar
 * switches to the Julian one before 1582-10-15; such dates are no use for a reset.) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The calendar fields a non-lenient GregorianCalendar accepts. */
static bool dt_valid(const int64_t *f)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t y = f[0], mo = f[1], d = f[2];

	if (y < 1 || y > 292278994 || mo < 1 || mo > 12 || d < 1)
		return false;
	if (d > dim[mo - 1] + (mo == 2 && leap(y)))
		return false;
	return f[3] >= 0 && f[3] <= 23 && f[4] >= 0 && f[4] <= 59 && f[5] >= 0 && f[5] <= 59 &&
	       f[6] >= 0 && f[6] <= 999;
}

/* One attempt with the zone pattern XXX (colon) or X. Text after the zone is ignored, as
 * DateFormat.parse(String) ignores it. */
static int dt_parse(const char *s, bool colon, int64_t *ms)
{
	static const char seps[] = "--T::.";
	int64_t f[7], off;
	__int128 t;

	for (int i = 0; i < 7; i++)
		if ((i && dt_literal(&s, seps[i - 1]) < 0) || dt_number(&s, &f[i]) < 0)
			return -1;
	if (dt_zone(&s, colon, &off) < 0 || !dt_valid(f))
		return -1;
	t = (__int128)days_from_civil(f[0], f[1], f[2]) * 86400 + f[3] * 3600 + f[4] * 60 + f[5];
	t = t * 1000 + f[6] - (__int128)off * 60000;
	if (t < INT64_MIN || t > INT64_MAX)
		return -1;
	*ms = (int64_t)t;
	return 0;
}

int cg_parse_datetime(const char *s, int64_t *ms, char *err, size_t errlen)
{
	char **parts;
	int n = cg_split(s, 'T', &parts), rc;

	if (n < 2) {
		cg_strings_free(parts, n);
		return fail(err, errlen, "Error parsing timestamp. It does not contain a 'T' according "
			    "to ISO8601 format");
	}
	/* no sign and no Z after the T: Kafka reads the time as UTC */
	bool zoned = strpbrk(parts[1], "+-Z") != NULL;
	cg_strings_free(parts, n);
	char *full;
	if (asprintf(&full, "%s%s", s, zoned ? "" : "Z") < 0)
		abort();
	rc = dt_parse(full, true, ms) == 0 || dt_parse(full, false, ms) == 0
		     ? 0 : fail(err, errlen, "Unparseable date: \"%s\"", full);
	free(full);
	return rc;
}

/* ---- --by-duration: java.time.Duration.parse ---- */

/* [+-]?[0-9]+ at *i, the pattern's number; its bounds in *b, *e. */
static bool dur_number(const char *s, size_t *i, size_t *b, size_t *e)
{
	size_t j = *i + (s[*i] == '+' || s[*i] == '-');

	if (!isdigit((unsigned char)s[j]))
		return false;
	*b = *i;
	while (isdigit((unsigned char)s[j]))
		j++;
	*e = *i = j;
	return true;
}

/* An optional "<number><unit>" component; bounds left at -1 when absent. */
static void dur_part(const char *s, size_t *i, char unit, long *b, long *e)
{
	size_t j = *i, nb, ne;

	*b = *e = -1;
	if (dur_number(s, &j, &nb, &ne) && tolower((unsigned char)s[j]) == unit) {
		*b = (long)nb;
		*e = (long)ne;
		*i = j + 1;
	}
}

/* The seconds component, with its optional [.,] fraction of up to nine digits. */
static void dur_seconds(const char *s, size_t *i, long *b, long *e, long *fb, long *fe)
{
	size_t j = *i, nb, ne, f;

	*b = *e = *fb = *fe = -1;
	if (!dur_number(s, &j, &nb, &ne))
		return;
	f = j;
	if (s[j] == '.' || s[j] == ',') {
		f = ++j;
		while (isdigit((unsigned char)s[j]))
			j++;
		if (j - f > 9)
			return;
	}
	if (tolower((unsigned char)s[j]) != 's')
		return;
	*b = (long)nb;
	*e = (long)ne;
	if (f != ne) {
		*fb = (long)f;
		*fe = (long)j;
	}
	*i = j + 1;
}

/* Long.parseLong of s[b..e) times mult; absent (b < 0) is 0. */
static int dur_value(const char *s, long b, long e, int64_t mult, int64_t *v)
{
	char buf[32];
	char *end;
	long long x;

	*v = 0;
	if (b < 0)
		return 0;
	if (e - b >= (long)sizeof(buf))
		return -1;
	memcpy(buf, s + b, (size_t)(e - b));
	buf[e - b] = '\0';
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno || *end || __builtin_mul_overflow((int64_t)x, mult, v))
		return -1;
	return 0;
}

/* The fraction as nanoseconds: "5" is 500000000. */
static int32_t dur_fraction(const char *s, long b, long e)
{
	int32_t n = 0;

	for (long i = 0; i < 9; i++)
		n = n * 10 + (b >= 0 && b + i < e ? s[b + i] - '0' : 0);
	return n;
}

/* Duration.create: the parts summed, ofSeconds(secs, nanos), negated if the text was. */
static int dur_create(const int64_t *v, int64_t nanos, bool negate, cg_duration_t *d)
{
	__int128 total = (__int128)v[0] + v[1] + v[2] + v[3];
	__int128 x = total * NANOS_PER_SEC + nanos;

	if (total < INT64_MIN || total > INT64_MAX)
		return -1;
	if (negate)
		x = -x;
	__int128 secs = x >= 0 ? x / NANOS_PER_SEC : -((-x + NANOS_PER_SEC - 1) / NANOS_PER_SEC);
	if (secs < INT64_MIN || secs > INT64_MAX)
		return -1;
	d->secs = (int64_t)secs;
	d->nanos = (int32_t)(x - secs * NANOS_PER_SEC);
	return 0;
}

int cg_parse_duration(const char *s, cg_duration_t *d, char *err, size_t errlen)
{
	static const char *const names[] = {"days", "hours", "minutes", "seconds"};
	static const int64_t mult[] = {86400, 3600, 60, 1};
	size_t i = s[0] == '+' || s[0] == '-';
	long b[4] = {-1, -1, -1, -1}, e[4] = {-1, -1, -1, -1}, fb = -1, fe = -1;
	bool negate = s[0] == '-', t = false;
	int64_t v[4];

	if (tolower((unsigned char)s[i++]) != 'p')
		goto bad;
	dur_part(s, &i, 'd', &b[0], &e[0]);
	if ((t = tolower((unsigned char)s[i]) == 't')) {
		i++;
		dur_part(s, &i, 'h', &b[1], &e[1]);
		dur_part(s, &i, 'm', &b[2], &e[2]);
		dur_seconds(s, &i, &b[3], &e[3], &fb, &fe);
	}
	/* a T needs a time part after it, and something must be given at all */
	if (s[i] != '\0' || (t && b[1] < 0 && b[2] < 0 && b[3] < 0) || (b[0] < 0 && !t))
		goto bad;
	for (int k = 0; k < 4; k++)
		if (dur_value(s, b[k], e[k], mult[k], &v[k]) < 0)
			return fail(err, errlen, "Text cannot be parsed to a Duration: %s", names[k]);
	int64_t nanos = dur_fraction(s, fb, fe) * (b[3] >= 0 && s[b[3]] == '-' ? -1 : 1);
	if (dur_create(v, nanos, negate, d) < 0)
		return fail(err, errlen, "Text cannot be parsed to a Duration: overflow");
	return 0;
bad:
	return fail(err, errlen, "Text cannot be parsed to a Duration");
}

int cg_instant_minus(int64_t now_s, int32_t now_ns, cg_duration_t d, int64_t *ms, char *err,
		     size_t errlen)
{
	__int128 secs = (__int128)now_s - d.secs;
	__int128 ns = secs * NANOS_PER_SEC + now_ns - d.nanos;
	__int128 msx = ns >= 0 ? ns / 1000000 : -((-ns + 999999) / 1000000);

	if (secs < INSTANT_MIN_SEC || secs > INSTANT_MAX_SEC)
		return fail(err, errlen, "Instant exceeds minimum or maximum instant");
	if (msx < INT64_MIN || msx > INT64_MAX)
		return fail(err, errlen, "long overflow");
	*ms = (int64_t)msx;
	return 0;
}

/* ---- --topic t:0,2 ---- */

/* Integer.parseInt: an optional sign and decimal digits, in int range. */
static int parse_java_int(const char *s, int32_t *v)
{
	const char *p = s + (*s == '+' || *s == '-');
	char *end;
	long long x;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || x < INT32_MIN || x > INT32_MAX)
		return -1;
	*v = (int32_t)x;
	return 0;
}

int cg_parse_topic_arg(const char *arg, cg_topic_arg_t *out, char *err, size_t errlen)
{
	char **pieces, **parts;
	int n, np, rc = 0;

	memset(out, 0, sizeof(*out));
	out->npartitions = -1;
	if (!strchr(arg, ':')) {
		out->topic = xstrndup(arg, strlen(arg));
		return 0;
	}
	/* Kafka splits at ':' and reads only the second piece ("t:0:1" is t:0) */
	n = cg_split(arg, ':', &pieces);
	if (n < 2) {
		cg_strings_free(pieces, n);
		return fail(err, errlen, "Index 1 out of bounds for length %d", n);
	}
	out->topic = xstrndup(pieces[0], strlen(pieces[0]));
	np = cg_split(pieces[1], ',', &parts);
	if (!(out->partitions = calloc((size_t)np + 1, sizeof(int32_t))))
		abort();
	for (int i = 0; i < np && rc == 0; i++)
		if (parse_java_int(parts[i], &out->partitions[i]) < 0)
			rc = fail(err, errlen, "For input string: \"%s\"", parts[i]);
	out->npartitions = np;
	cg_strings_free(parts, np);
	cg_strings_free(pieces, n);
	if (rc)
		cg_topic_arg_free(out);
	return rc;
}

void cg_topic_arg_free(cg_topic_arg_t *t)
{
	free(t->topic);
	free(t->partitions);
	memset(t, 0, sizeof(*t));
	t->npartitions = -1;
}

int64_t cg_clamp_offset(int64_t off, int64_t start, int64_t end, int *moved)
{
	*moved = 0;
	if (end >= 0 && off > end) {
		*moved = 1;
		return end;
	}
	if (start >= 0 && off < start) {
		*moved = -1;
		return start;
	}
	return off;
}

/* ---- --state ---- */

int cg_parse_states(const char *s, unsigned *mask, char *err, size_t errlen)
{
	char **v;
	int n = cg_split(s, ',', &v), rc = 0;

	*mask = 0;
	for (int i = 0; i < n; i++) {
		/* String.trim, then ConsumerGroupState.parse: exact names, "Unknown" refused */
		char *b = v[i], *e = b + strlen(b);
		while (*b && (unsigned char)*b <= ' ')
			b++;
		while (e > b && (unsigned char)e[-1] <= ' ')
			e--;
		int k = CG_NSTATES - 1;
		while (k > 0 && (strlen(cg_state_names[k]) != (size_t)(e - b) ||
				 strncmp(cg_state_names[k], b, (size_t)(e - b)) != 0))
			k--;
		if (k == 0)
			rc = -1;
		*mask |= 1u << k;
	}
	cg_strings_free(v, n);
	if (rc)
		return fail(err, errlen, "Invalid state list '%s'. Valid states are: PreparingRebalance, "
			    "CompletingRebalance, Stable, Dead, Empty", s);
	return 0;
}

/* ---- the reset-offsets CSV ---- */

/* Jackson's CSV writer quotes a value starting with '#' or holding any character below
 * ',' + 1 (its "loose" check: separators, quotes, blanks, line ends), doubling quotes. */
static void csv_field(FILE *f, const char *s)
{
	bool quote = *s == '#';

	for (const char *p = s; *p && !quote; p++)
		quote = (unsigned char)*p <= ',';
	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

void cg_csv_write(FILE *f, const char *group, const char *topic, int32_t partition, int64_t offset)
{
	if (group) {
		csv_field(f, group);
		fputc(',', f);
	}
	csv_field(f, topic);
	fprintf(f, ",%d,%lld\n", partition, (long long)offset);
}

/* Split one line into fields, unquoting. The count, or -1 if a quote is unbalanced. */
static int csv_fields(const char *line, char ***out)
{
	int n = 0;
	char **v = NULL;
	const char *p = line;

	for (;;) {
		char *buf = malloc(strlen(p) + 1), *w = buf;
		if (!buf || !(v = realloc(v, sizeof(char *) * (size_t)(n + 1))))
			abort();
		v[n++] = buf;
		if (*p == '"') {
			for (p++; *p && !(*p == '"' && p[1] != '"'); p++)
				*w++ = *p == '"' ? *++p : *p;
			if (*p++ != '"' || (*p && *p != ',')) {
				*w = '\0';
				*out = v;
				return -n;
			}
		} else {
			while (*p && *p != ',')
				*w++ = *p++;
		}
		*w = '\0';
		if (*p++ != ',')
			break;
	}
	*out = v;
	return n;
}

static int parse_i64(const char *s, int64_t *v)
{
	char *end;

	if (!isdigit((unsigned char)*s) && !((*s == '-' || *s == '+') && isdigit((unsigned char)s[1])))
		return -1;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

/* A line's fields into e when there are want of them (3: no group). */
static int csv_entry(const char *line, int want, cg_plan_entry_t *e)
{
	char **f;
	int n = csv_fields(line, &f), rc = -1;
	int64_t off;
	int32_t part;

	if (n == want && parse_java_int(f[want - 2], &part) == 0 && parse_i64(f[want - 1], &off) == 0) {
		e->group = want == 4 ? xstrndup(f[0], strlen(f[0])) : NULL;
		e->topic = xstrndup(f[want - 3], strlen(f[want - 3]));
		e->partition = part;
		e->offset = off;
		rc = 0;
	}
	cg_strings_free(f, n < 0 ? -n : n);
	return rc;
}

int cg_csv_parse(const char *text, bool single_group, cg_plan_entry_t **out, int *n, char *err,
		 size_t errlen)
{
	char **lines;
	int nl = cg_split(text, '\n', &lines), want = 4, rc = 0;
	cg_plan_entry_t probe;

	*n = 0;
	if (!(*out = calloc((size_t)nl + 1, sizeof(**out))))
		abort();
	for (int i = 0; i < nl; i++) {
		size_t len = strlen(lines[i]);
		if (len && lines[i][len - 1] == '\r')
			lines[i][len - 1] = '\0';
	}
	if (single_group && nl && csv_entry(lines[0], 3, &probe) == 0) {
		want = 3;
		free(probe.topic);
	}
	for (int i = 0; i < nl && rc == 0; i++) {
		if (lines[i][0] == '\0')
			continue;
		if (csv_entry(lines[i], want, &(*out)[*n]) < 0)
			rc = fail(err, errlen, "line %d of the reset plan is not %s: %s", i + 1,
				  want == 3 ? "topic,partition,offset" : "group,topic,partition,offset",
				  lines[i]);
		else
			(*n)++;
	}
	cg_strings_free(lines, nl);
	if (rc) {
		cg_plan_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void cg_plan_free(cg_plan_entry_t *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].group);
		free(v[i].topic);
	}
	free(v);
}

/* ---- tables ---- */

int cg_text_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

void cg_fit_width(int *width, const char *s)
{
	int w = cg_text_width(s);
	if (w > *width)
		*width = w;
}

void cg_print_row(FILE *f, const int *widths, const char *const *cells, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(' ', f);
		fputs(cells[i], f);
		for (int pad = widths[i] - cg_text_width(cells[i]); pad > 0; pad--)
			fputc(' ', f);
	}
	fputc('\n', f);
}

/* ---- --members --verbose ---- */

typedef struct {
	const char *topic;
	int32_t partition;
} tp_ref_t;

static int cmp_tp_ref(const void *a, const void *b)
{
	const tp_ref_t *x = a, *y = b;
	int d = strcmp(x->topic, y->topic);
	return d ? d : (x->partition > y->partition) - (x->partition < y->partition);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *cg_assignment_str(const char *const *topics, const int32_t *partitions, int n)
{
	tp_ref_t *v = calloc((size_t)n + 1, sizeof(*v));
	char **groups = calloc((size_t)n + 1, sizeof(char *)), *out = NULL;
	size_t len = 0;
	int ng = 0;

	if (!v || !groups)
		abort();
	for (int i = 0; i < n; i++)
		v[i] = (tp_ref_t){topics[i], partitions[i]};
	keel_qsort(v, (size_t)n, sizeof(*v), cmp_tp_ref);
	/* "topic(p,p)" per topic, then those strings sorted as Kafka sorts them */
	for (int i = 0; i < n;) {
		FILE *f = open_memstream(&groups[ng], &len);
		if (!f)
			abort();
		fprintf(f, "%s(", v[i].topic);
		for (int j = i; i < n && strcmp(v[i].topic, v[j].topic) == 0; i++)
			fprintf(f, i > j ? ",%d" : "%d", v[i].partition);
		fputc(')', f);
		fclose(f);
		ng++;
	}
	keel_qsort(groups, (size_t)ng, sizeof(char *), cmp_str);
	FILE *f = open_memstream(&out, &len);
	if (!f)
		abort();
	fputs(ng ? "" : "-", f);
	for (int i = 0; i < ng; i++)
		fprintf(f, i ? ", %s" : "%s", groups[i]);
	fclose(f);
	cg_strings_free(groups, ng);
	free(v);
	return out;
}
