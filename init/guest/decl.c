/*
 * The nestbox-guests declaration: the L2 guests a user wants, as JSON
 *
 *   {"version": 1, "guests": [{"name": "web", "memory": "1G", "disks":
 *     [{"source": "gs://my-images/debian.qcow2", "format": "qcow2",
 *       "overlay": true, "size": "20G"}], ...}, ...]}
 *
 * docs/guests.md describes every field and the error for each rule;
 * tests/unit/init/guest.c holds the same errors as a table.
 *
 * guests_parse() is pure: it reads the text and nothing else. A guest with
 * any error is reported once (its first error, in the document's order) and
 * left out; the others are kept. Checks between guests (names, MACs, static
 * IPs, forwarded ports, alias IPs, disks used in place) compare a guest with
 * the guests before it, so the later one is the one reported. Errors that
 * concern the whole document (not JSON, wrong version, too large) reject it
 * whole: no guest is kept, so a broken edit does not stop every guest.
 * The caller decides what "rejected" means (keep the last good set).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "guest/guest-internal.h"

#define DOC		"nestbox-guests: "
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define ERRLEN		GUEST_ERR_MAX

static const char *const qemu_options[] = { "-device", "-smbios", "-rtc" };
static const char *const device_models[] = {
	"virtio-rng-pci", "virtio-balloon-pci", "pvpanic", "vmcoreinfo",
};
static const char *const device_props[] = {
	"id", "addr", "max-bytes", "period", "deflate-on-oom",
	"free-page-reporting", "events",
};
static const char *const smbios_keys[] = {
	"type", "vendor", "version", "date", "release", "manufacturer", "product",
	"serial", "uuid", "sku", "family", "asset", "location", "value",
};
static const char *const smbios_types[] = {
	"type=0", "type=1", "type=2", "type=3", "type=11",
};
static const char *const rtc_keys[] = { "base", "clock", "driftfix" };

static int
bad(char *err, const char *fmt, ...) NB_PRINTF(2, 3);

static int
bad(char *err, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, ERRLEN, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

int
guest_errors_add(struct guest_errors *e, const char *fmt, ...)
{
	va_list	 ap;
	char	**v, *s;

	if ((s = malloc(ERRLEN)) == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(s, ERRLEN, fmt, ap);
	va_end(ap);
	if ((v = realloc(e->v, (e->n + 1) * sizeof(*v))) == NULL) {
		free(s);
		return -1;
	}
	e->v = v;
	e->v[e->n++] = s;
	return 0;
}

static int
in_list(const char *s, size_t len, const char *const *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncmp(s, list[i], len) == 0)
			return 1;
	return 0;
}

static int
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

const char *
restart_str(enum restart_policy r)
{
	return r == RESTART_ON_FAILURE ? "on-failure" : r == RESTART_NEVER ? "never" : "always";
}

const char *
accel_str(enum accel_mode a)
{
	return a == ACCEL_KVM ? "kvm" : a == ACCEL_TCG ? "tcg" : "auto";
}

const char *
guest_mac_str(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
	    m[4], m[5]);
	return buf;
}

/*
 * "512M", "2G", "1536MiB", "1TiB": a decimal integer and a binary unit
 * (K, M, G, T, with or without "iB"). 0, or -1 with EINVAL (also on
 * overflow).
 */
int
guest_size_parse(const char *s, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	const char	*u;
	uint64_t	 v = 0;
	size_t		 i, digits = 0;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (++digits > 15)
			goto bad;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (digits == 0 || s[i] == '\0' || (u = strchr(units, s[i])) == NULL)
		goto bad;
	if (strcmp(s + i + 1, "") != 0 && strcmp(s + i + 1, "iB") != 0)
		goto bad;
	if (v > (UINT64_MAX >> (10 * (u - units + 1))))
		goto bad;
	*bytes = v << (10 * (u - units + 1));
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

static int
parse_size(const cJSON *v, const char *field, uint64_t min, uint64_t max,
    uint64_t *out, char *err)
{
	char	 q[48];
	uint64_t b;

	if (!cJSON_IsString(v))
		return bad(err, "%s: not a string with a unit (\"2G\")", field);
	if (guest_size_parse(v->valuestring, &b) == -1)
		return bad(err, "%s: \"%s\" is not a size (use M, G, MiB, GiB)", field,
		    str_quote(v->valuestring, q, sizeof(q)));
	if (b % (1 << 20) != 0)
		return bad(err, "%s: \"%s\" is not a whole number of MiB", field,
		    str_quote(v->valuestring, q, sizeof(q)));
	if (b < min)
		return bad(err, "%s: \"%s\" is less than %llu MiB", field,
		    str_quote(v->valuestring, q, sizeof(q)), (unsigned long long)(min >> 20));
	if (b > max)
		return bad(err, "%s: \"%s\" is more than %llu TiB", field,
		    str_quote(v->valuestring, q, sizeof(q)), (unsigned long long)(max >> 40));
	*out = b;
	return 0;
}

static int
parse_uint(const cJSON *v, const char *field, double min, double max,
    unsigned *out, char *err)
{
	double	 d;

	if (!cJSON_IsNumber(v))
		return bad(err, "%s: not a number", field);
	d = v->valuedouble;
	if (!(d >= min && d <= max) || d != (double)(unsigned)d)
		return bad(err, "%s: %.15g is out of range (%.0f..%.0f)", field, d, min, max);
	*out = (unsigned)d;
	return 0;
}

static int
parse_enum(const cJSON *v, const char *field, const char *what,
    const char *const *names, size_t n, int *out, char *err)
{
	char	 q[48], list[96] = "";
	size_t	 i;

	if (!cJSON_IsString(v))
		return bad(err, "%s: not a string", field);
	for (i = 0; i < n; i++)
		if (strcmp(v->valuestring, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	for (i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		    i ? ", " : "", names[i]);
	return bad(err, "%s: \"%s\" is not %s (%s)", field,
	    str_quote(v->valuestring, q, sizeof(q)), what, list);
}

static int
parse_ip(const cJSON *v, const char *field, uint32_t *out, char *err)
{
	char	 q[48];
	uint32_t a;

	if (!cJSON_IsString(v))
		return bad(err, "%s: not a string", field);
	if (ip4_parse(v->valuestring, strlen(v->valuestring), &a) == -1)
		return bad(err, "%s: \"%s\" is not an IPv4 address (a.b.c.d)", field,
		    str_quote(v->valuestring, q, sizeof(q)));
	if (a == 0 || a == 0xffffffff || (a >> 24) == 127 || (a >> 28) == 0xe)
		return bad(err, "%s: %s is not a unicast address", field,
		    str_quote(v->valuestring, q, sizeof(q)));
	*out = a;
	return 0;
}

/* The members of an object: each a known field, none twice. */
static int
check_members(const cJSON *obj, const char *field, const char *const *names,
    size_t n, const cJSON **seen, char *err)
{
	const cJSON	*v;
	char		 q[48];
	size_t		 i;

	for (i = 0; i < n; i++)
		seen[i] = NULL;
	for (v = obj->child; v != NULL; v = v->next) {
		for (i = 0; i < n; i++)
			if (strcmp(v->string, names[i]) == 0)
				break;
		if (i == n)
			return bad(err, "%s%s%s: unknown field", field, *field ? "." : "",
			    str_quote(v->string, q, sizeof(q)));
		if (seen[i] != NULL)
			return bad(err, "%s%s%s: given twice", field, *field ? "." : "",
			    names[i]);
		seen[i] = v;
	}
	return 0;
}

/*
 * GCE resource and device names: [a-z]([-a-z0-9]{0,61}[a-z0-9])?, a guest
 * name that does not end with a hyphen (an RFC 1123 label in lower case
 * that starts with a letter).
 */
static int
device_name_ok(const char *s)
{
	return guest_name_ok(s) && s[strlen(s) - 1] != '-';
}

static int
url_ok(const char *s)
{
	size_t	 i, host = 0;
	int	 in_host = 1;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
		if (in_host) {
			if (s[i] == '/' || s[i] == '?' || s[i] == '#') {
				in_host = 0;
				continue;
			}
			if (!is_lower_alnum(s[i] | 0x20) && s[i] != '.' && s[i] != '-' &&
			    s[i] != ':' && s[i] != '[' && s[i] != ']')
				return 0;	/* no user@ (credentials) either */
			host++;
		}
	}
	return host > 0;
}

static int
state_path_ok(const char *p, char *why, size_t size)
{
	const char	*c;
	size_t		 len;

	if (*p == '/') {
		snprintf(why, size, "must be relative to the state partition");
		return 0;
	}
	if (strlen(p) > 255) {
		snprintf(why, size, "is longer than 255 bytes");
		return 0;
	}
	for (c = p; ; c += len + 1) {
		len = strcspn(c, "/");
		if (len == 0) {
			snprintf(why, size, "has an empty path component");
			return 0;
		}
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) {
			snprintf(why, size, "may not contain . or ..");
			return 0;
		}
		if (strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._+-") < len) {
			snprintf(why, size, "has a character other than A-Z a-z 0-9 . _ + - /");
			return 0;
		}
		if (c[len] == '\0')
			return 1;
	}
}

static int
parse_source(const cJSON *v, const char *field, struct guest_source *src, char *err)
{
	const char	*s, *obj;
	char		 q[48], why[80];
	size_t		 skip;

	if (!cJSON_IsString(v))
		return bad(err, "%s: not a string", field);
	s = v->valuestring;
	if (strlen(s) > GUEST_SOURCE_MAX)
		return bad(err, "%s: longer than %d bytes", field, GUEST_SOURCE_MAX);
	if (strncmp(s, "https://", 8) == 0) {
		src->kind = SRC_HTTPS;
		skip = 8;
		if (!url_ok(s + 8))
			return bad(err, "%s: \"%s\" is not a valid https:// URL", field,
			    str_quote(s, q, sizeof(q)));
	} else if (strncmp(s, "http://", 7) == 0) {
		src->kind = SRC_HTTP;
		skip = 7;
		if (!url_ok(s + 7))
			return bad(err, "%s: \"%s\" is not a valid http:// URL", field,
			    str_quote(s, q, sizeof(q)));
	} else if (strncmp(s, "gs://", 5) == 0) {
		src->kind = SRC_GS;
		skip = 5;
		if ((obj = strchr(s + 5, '/')) == NULL || obj[1] == '\0')
			return bad(err, "%s: \"%s\" has no object (gs://BUCKET/OBJECT)",
			    field, str_quote(s, q, sizeof(q)));
		if (!gcs_bucket_ok(s + 5, obj - (s + 5)))
			return bad(err, "%s: \"%s\": not a valid bucket name (3-63 of "
			    "a-z 0-9 - _ .)", field, str_quote(s, q, sizeof(q)));
		obj++;
		if (strlen(obj) > 1024 || strcmp(obj, ".") == 0 || strcmp(obj, "..") == 0 ||
		    strpbrk(obj, "\r\n") != NULL)
			return bad(err, "%s: \"%s\": not a valid object name", field,
			    str_quote(s, q, sizeof(q)));
		for (; *obj != '\0'; obj++)
			if ((unsigned char)*obj < 0x20 || *obj == 0x7f)
				return bad(err, "%s: \"%s\": not a valid object name",
				    field, str_quote(s, q, sizeof(q)));
	} else if (strncmp(s, "pd:", 3) == 0) {
		src->kind = SRC_PD;
		skip = 3;
		if (!device_name_ok(s + 3))
			return bad(err, "%s: \"%s\" is not a valid device name "
			    "(pd:[a-z]([-a-z0-9]{0,61}[a-z0-9])?)", field, str_quote(s, q, sizeof(q)));
	} else if (strncmp(s, "state:", 6) == 0) {
		src->kind = SRC_STATE;
		skip = 6;
		if (!state_path_ok(s + 6, why, sizeof(why)))
			return bad(err, "%s: \"%s\" %s", field, str_quote(s, q, sizeof(q)), why);
	} else
		return bad(err, "%s: \"%s\" is not a source (https://, http:// with "
		    "sha256, gs://, pd:, state:)", field, str_quote(s, q, sizeof(q)));
	if ((src->uri = strdup(s)) == NULL)
		return bad(err, "%s: out of memory", field);
	src->ref = src->uri + skip;
	return 0;
}

static int
parse_sha256(const cJSON *v, const char *field, char out[65], char *err)
{
	char	 q[48];
	size_t	 i;

	if (!cJSON_IsString(v))
		return bad(err, "%s: not a string", field);
	if (!sha256_hex_ok(v->valuestring))
		return bad(err, "%s: \"%s\" is not a sha256 (64 hex digits)", field,
		    str_quote(v->valuestring, q, sizeof(q)));
	for (i = 0; i < 64; i++)
		out[i] = v->valuestring[i] | 0x20;
	out[64] = '\0';
	return 0;
}

/* After the source and the sha256 of a disk, kernel or initrd. */
static int
check_source(const struct guest_source *src, const char *field, char *err)
{
	int	 fetched = src->kind == SRC_HTTPS || src->kind == SRC_HTTP ||
		    src->kind == SRC_GS;

	if (src->kind == SRC_HTTP && src->sha256[0] == '\0')
		return bad(err, "%s.source: http:// needs a sha256 (or use https://)", field);
	if (src->sha256[0] != '\0' && !fetched)
		return bad(err, "%s.sha256: only for downloads (https://, http://, gs://)",
		    field);
	return 0;
}

static int
parse_boot_source(const cJSON *v, const char *field, struct guest_source *src,
    char *err)
{
	static const char *const names[] = { "source", "sha256" };
	const cJSON	*seen[NELEM(names)];
	char		 f[64];

	if (!cJSON_IsObject(v))
		return bad(err, "%s: not an object ({\"source\": ...})", field);
	if (check_members(v, field, names, NELEM(names), seen, err) == -1)
		return -1;
	if (seen[0] == NULL)
		return bad(err, "%s.source: missing", field);
	snprintf(f, sizeof(f), "%s.source", field);
	if (parse_source(seen[0], f, src, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%s.sha256", field);
	if (seen[1] != NULL && parse_sha256(seen[1], f, src->sha256, err) == -1)
		return -1;
	return check_source(src, field, err);
}

static int
parse_disk(const cJSON *v, size_t i, struct guest_disk *d, char *err)
{
	static const char *const names[] = { "source", "sha256", "format", "overlay", "size",
	    "max-size" };
	static const char *const formats[] = { "raw", "qcow2" };
	const cJSON	*seen[NELEM(names)];
	char		 field[32], f[48];
	int		 fmt;

	snprintf(field, sizeof(field), "disks[%zu]", i);
	if (!cJSON_IsObject(v))
		return bad(err, "%s: not an object ({\"source\": ...})", field);
	if (check_members(v, field, names, NELEM(names), seen, err) == -1)
		return -1;
	if (seen[0] == NULL)
		return bad(err, "%s.source: missing", field);
	snprintf(f, sizeof(f), "%s.source", field);
	if (parse_source(seen[0], f, &d->src, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%s.sha256", field);
	if (seen[1] != NULL && parse_sha256(seen[1], f, d->src.sha256, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%s.format", field);
	if (seen[2] != NULL) {
		if (parse_enum(seen[2], f, "a format", formats, NELEM(formats), &fmt,
		    err) == -1)
			return -1;
		d->format = fmt;
	}
	if (seen[3] != NULL) {
		if (!cJSON_IsBool(seen[3]))
			return bad(err, "%s.overlay: not true or false", field);
		d->overlay = cJSON_IsTrue(seen[3]);
	}
	snprintf(f, sizeof(f), "%s.size", field);
	if (seen[4] != NULL && parse_size(seen[4], f, 1 << 20, GUEST_DISK_SIZE_MAX,
	    &d->size, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%s.max-size", field);
	if (seen[5] != NULL && parse_size(seen[5], f, 1 << 20, GUEST_DISK_SIZE_MAX,
	    &d->max_size, err) == -1)
		return -1;
	if (check_source(&d->src, field, err) == -1)
		return -1;
	if (d->max_size != 0 && d->src.kind != SRC_HTTPS && d->src.kind != SRC_HTTP &&
	    d->src.kind != SRC_GS)
		return bad(err, "%s.max-size: only a download (https://, http://, gs://) "
		    "has one", field);
	if (d->size != 0 && d->src.kind == SRC_PD && !d->overlay)
		return bad(err, "%s.size: a pd: disk grows only with \"overlay\": true", field);
	return 0;
}

static int
parse_disks(const cJSON *v, struct guest *g, char *err)
{
	const cJSON	*d;
	size_t		 n = 0;

	if (!cJSON_IsArray(v))
		return bad(err, "disks: not a list");
	for (d = v->child; d != NULL; d = d->next) {
		if (n == GUEST_DISKS_MAX)
			return bad(err, "disks: more than %d disks", GUEST_DISKS_MAX);
		if (parse_disk(d, n, &g->disks[n], err) == -1) {
			g->ndisks = n + 1;	/* guests_free() frees its source */
			return -1;
		}
		g->ndisks = ++n;
	}
	return 0;
}

static int
parse_mac(const cJSON *v, uint8_t mac[6], char *err)
{
	const char	*s;
	char		 q[48];
	int		 i;

	if (!cJSON_IsString(v))
		return bad(err, "mac: not a string");
	s = v->valuestring;
	for (i = 0; i < 6; i++) {
		if (!is_hex(s[i * 3]) || !is_hex(s[i * 3 + 1]) ||
		    s[i * 3 + 2] != (i == 5 ? '\0' : ':'))
			return bad(err, "mac: \"%s\" is not a MAC address (52:54:00:12:34:56)",
			    str_quote(s, q, sizeof(q)));
		mac[i] = (uint8_t)(hexval(s[i * 3]) << 4 | hexval(s[i * 3 + 1]));
	}
	if (mac[0] & 1)
		return bad(err, "mac: %s is a multicast address", str_quote(s, q, sizeof(q)));
	if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
		return bad(err, "mac: %s is not a usable address", s);
	return 0;
}

static int
parse_forward(const cJSON *v, size_t i, struct guest_forward *f, char *err)
{
	static const char *const names[] = { "proto", "port", "alias-ip", "guest-port" };
	static const char *const protos[] = { "tcp", "udp" };
	const cJSON	*seen[NELEM(names)];
	char		 field[32], fl[48];
	unsigned	 port;
	int		 proto;

	snprintf(field, sizeof(field), "forwards[%zu]", i);
	if (!cJSON_IsObject(v))
		return bad(err, "%s: not an object ({\"port\": ...})", field);
	if (check_members(v, field, names, NELEM(names), seen, err) == -1)
		return -1;
	f->proto = FWD_TCP;
	if (seen[0] != NULL) {
		snprintf(fl, sizeof(fl), "%s.proto", field);
		if (parse_enum(seen[0], fl, "a protocol", protos, NELEM(protos), &proto,
		    err) == -1)
			return -1;
		f->proto = proto == 0 ? FWD_TCP : FWD_UDP;
	}
	if (seen[1] == NULL)
		return bad(err, "%s.port: missing", field);
	snprintf(fl, sizeof(fl), "%s.port", field);
	if (parse_uint(seen[1], fl, 1, 65535, &port, err) == -1)
		return -1;
	f->port = f->guest_port = (uint16_t)port;
	snprintf(fl, sizeof(fl), "%s.alias-ip", field);
	if (seen[2] != NULL && parse_ip(seen[2], fl, &f->alias_ip, err) == -1)
		return -1;
	snprintf(fl, sizeof(fl), "%s.guest-port", field);
	if (seen[3] != NULL) {
		if (parse_uint(seen[3], fl, 1, 65535, &port, err) == -1)
			return -1;
		f->guest_port = (uint16_t)port;
	}
	return 0;
}

static const char *
fwd_str(const struct guest_forward *f, char *buf, size_t size)
{
	char	 a[IP4_STRLEN];

	if (f->alias_ip != 0)
		snprintf(buf, size, "%s %s:%u", f->proto == FWD_UDP ? "udp" : "tcp",
		    ip4_str(f->alias_ip, a), f->port);
	else
		snprintf(buf, size, "%s port %u of the L1", f->proto == FWD_UDP ?
		    "udp" : "tcp", f->port);
	return buf;
}

static int
fwd_same(const struct guest_forward *a, const struct guest_forward *b)
{
	return a->proto == b->proto && a->alias_ip == b->alias_ip && a->port == b->port;
}

static int
parse_forwards(const cJSON *v, struct guest *g, char *err)
{
	const cJSON	*f;
	char		 s[64];
	size_t		 n = 0, j;

	if (!cJSON_IsArray(v))
		return bad(err, "forwards: not a list");
	for (f = v->child; f != NULL; f = f->next) {
		if (n == GUEST_FORWARDS_MAX)
			return bad(err, "forwards: more than %d forwards", GUEST_FORWARDS_MAX);
		if (parse_forward(f, n, &g->forwards[n], err) == -1)
			return -1;
		for (j = 0; j < n; j++)
			if (fwd_same(&g->forwards[j], &g->forwards[n]))
				return bad(err, "forwards[%zu]: %s is forwarded twice", n,
				    fwd_str(&g->forwards[n], s, sizeof(s)));
		g->nforwards = ++n;
	}
	return 0;
}

static int
parse_text(const cJSON *v, const char *field, size_t max, int controls, char **out,
    char *err)
{
	const unsigned char *s;
	size_t		 len;

	if (!cJSON_IsString(v))
		return bad(err, "%s: not a string", field);
	if ((len = strlen(v->valuestring)) > max)
		return bad(err, "%s: longer than %zu bytes", field, max);
	for (s = (const unsigned char *)v->valuestring; !controls && *s != '\0'; s++)
		if (*s < 0x20 || *s == 0x7f)
			return bad(err, "%s: a control character at byte %zu", field,
			    (size_t)(s - (const unsigned char *)v->valuestring));
	if ((*out = strdup(v->valuestring)) == NULL)
		return bad(err, "%s: out of memory", field);
	return 0;
}

static int
parse_cloud_init(const cJSON *v, struct guest *g, char *err)
{
	static const char *const names[] = { "user-data", "meta-data" };
	const cJSON	*seen[NELEM(names)];

	if (!cJSON_IsObject(v))
		return bad(err, "cloud-init: not an object ({\"user-data\": ...})");
	if (check_members(v, "cloud-init", names, NELEM(names), seen, err) == -1)
		return -1;
	if (seen[0] == NULL && seen[1] == NULL)
		return bad(err, "cloud-init: empty (user-data, meta-data)");
	if (seen[0] != NULL && parse_text(seen[0], "cloud-init.user-data",
	    GUEST_USERDATA_MAX, 1, &g->user_data, err) == -1)
		return -1;
	if (seen[1] != NULL && parse_text(seen[1], "cloud-init.meta-data",
	    GUEST_METADATA_MAX, 1, &g->meta_data, err) == -1)
		return -1;
	g->cloud_init = 1;
	return 0;
}

/*
 * The comma-separated KEY=VALUE list of an allowed option: each key from
 * keys, each value of printable ASCII (",," is a comma, QEMU's escape), only
 * the characters in chars when chars is not NULL.
 */
static int
props_ok(const char *opt, const char *s, const char *const *keys, size_t nkeys,
    const char *chars, char *why, size_t size)
{
	const char	*k, *eq;
	char		 q[48];
	size_t		 klen;

	while (*s != '\0') {
		k = s;
		klen = strcspn(k, "=,");
		eq = k + klen;
		if (*eq != '=' || klen == 0) {
			snprintf(why, size, "%s: \"%s\" is not KEY=VALUE", opt,
			    str_quote(k, q, sizeof(q)));
			return 0;
		}
		if (!in_list(k, klen, keys, nkeys)) {
			snprintf(why, size, "%s: \"%.*s\" is not an allowed property",
			    opt, (int)(klen > 40 ? 40 : klen), str_quote(k, q, sizeof(q)));
			return 0;
		}
		for (s = eq + 1; *s != '\0'; s++) {
			if (*s == ',' && s[1] == ',' && chars == NULL) {
				s++;
				continue;
			}
			if (*s == ',')
				break;
			if (*s < 0x20 || *s >= 0x7f || (chars != NULL && strchr(chars, *s) == NULL)) {
				snprintf(why, size, "%s: the value of %.*s has a character "
				    "that is not allowed", opt, (int)(klen > 40 ? 40 : klen), k);
				return 0;
			}
		}
		if (s == eq + 1) {
			snprintf(why, size, "%s: %.*s has no value", opt,
			    (int)(klen > 40 ? 40 : klen), k);
			return 0;
		}
		if (*s == ',' && *++s == '\0') {
			snprintf(why, size, "%s: a trailing comma", opt);
			return 0;
		}
	}
	return 1;
}

#define WORD_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"

/*
 * The qemu-args allow-list (docs/guests.md): -device with a model and
 * properties from short lists, -smbios with table types 0-3 and 11 and their
 * text fields (never file= or path=), -rtc. Nothing that names a file, a
 * socket, a netdev or a chardev, nothing that changes QEMU's own process.
 * 0: allowed; -1 and why, starting with the option.
 */
int
guest_qemu_arg_ok(const char *opt, const char *val, char *why, size_t size)
{
	char	 q[48];
	size_t	 len;

	if (strcmp(opt, "-device") == 0) {
		len = strcspn(val, ",");
		if (!in_list(val, len, device_models, NELEM(device_models))) {
			snprintf(why, size, "-device: \"%.*s\" is not an allowed model "
			    "(virtio-rng-pci, virtio-balloon-pci, pvpanic, vmcoreinfo)",
			    (int)(len > 40 ? 40 : len), str_quote(val, q, sizeof(q)));
			return -1;
		}
		if (val[len] == ',' && val[len + 1] == '\0') {
			snprintf(why, size, "-device: a trailing comma");
			return -1;
		}
		return props_ok(opt, val + len + (val[len] == ','), device_props,
		    NELEM(device_props), WORD_CHARS, why, size) ? 0 : -1;
	}
	if (strcmp(opt, "-smbios") == 0) {
		len = strcspn(val, ",");
		if (!in_list(val, len, smbios_types, NELEM(smbios_types))) {
			snprintf(why, size, "-smbios: must start with type=0, 1, 2, 3 or 11");
			return -1;
		}
		return props_ok(opt, val, smbios_keys, NELEM(smbios_keys), NULL, why,
		    size) ? 0 : -1;
	}
	if (strcmp(opt, "-rtc") == 0)
		return props_ok(opt, val, rtc_keys, NELEM(rtc_keys), WORD_CHARS, why,
		    size) ? 0 : -1;
	snprintf(why, size, "\"%s\" is not allowed (-device, -smbios, -rtc)",
	    str_quote(opt, q, sizeof(q)));
	return -1;
}

static int
parse_qemu_args(const cJSON *v, struct guest *g, char *err)
{
	const cJSON	*a;
	char		 why[ERRLEN - 32];
	size_t		 n = 0;

	if (!cJSON_IsArray(v))
		return bad(err, "qemu-args: not a list of strings");
	for (a = v->child; a != NULL; a = a->next) {
		if (!cJSON_IsString(a))
			return bad(err, "qemu-args[%zu]: not a string", n);
		if (n == GUEST_QEMU_ARGS_MAX)
			return bad(err, "qemu-args: more than %d arguments", GUEST_QEMU_ARGS_MAX);
		if (strlen(a->valuestring) > GUEST_QEMU_ARG_LEN)
			return bad(err, "qemu-args[%zu]: longer than %d bytes", n,
			    GUEST_QEMU_ARG_LEN);
		if ((g->qemu_args[n] = strdup(a->valuestring)) == NULL)
			return bad(err, "qemu-args: out of memory");
		g->nqemu_args = ++n;
		if (n % 2 == 0 && guest_qemu_arg_ok(g->qemu_args[n - 2],
		    g->qemu_args[n - 1], why, sizeof(why)) == -1)
			return bad(err, "qemu-args[%zu]: %s", n - 1, why);
		if (n % 2 == 1 && !in_list(a->valuestring, strlen(a->valuestring),
		    qemu_options, NELEM(qemu_options)))
			return bad(err, "qemu-args[%zu]: \"%s\" is not allowed (-device, "
			    "-smbios, -rtc)", n - 1, str_quote(a->valuestring, why, 48));
	}
	if (n % 2 == 1)
		return bad(err, "qemu-args[%zu]: %s needs a value", n - 1, g->qemu_args[n - 1]);
	return 0;
}

/* 52:54:00 (QEMU's, locally administered) and 24 bits of FNV-1a of the name. */
static void
derive_mac(const char *name, uint8_t mac[6])
{
	uint32_t	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	mac[0] = 0x52; mac[1] = 0x54; mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16); mac[4] = (uint8_t)(h >> 8); mac[5] = (uint8_t)h;
}

static int
parse_name(const cJSON *v, char name[GUEST_NAME_MAX], char *err)
{
	const char	*s;
	char		 q[48];

	if (v == NULL)
		return bad(err, "name: missing");
	if (!cJSON_IsString(v))
		return bad(err, "name: not a string");
	s = v->valuestring;
	if (!guest_name_ok(s))
		return bad(err, "name: \"%s\" is not a valid name ([a-z][a-z0-9-]{0,62})",
		    str_quote(s, q, sizeof(q)));
	memcpy(name, s, strlen(s) + 1);		/* guest_name_ok: < GUEST_NAME_MAX */
	return 0;
}

enum {
	F_NAME, F_VCPUS, F_MEMORY, F_DISKS, F_KERNEL, F_INITRD, F_CMDLINE, F_MAC,
	F_IP, F_FORWARDS, F_ALIAS_IP, F_RESTART, F_ACCEL, F_CLOUD_INIT, F_QEMU_ARGS,
	F_N
};
static const char *const guest_fields[F_N] = {
	"name", "vcpus", "memory", "disks", "kernel", "initrd", "cmdline", "mac",
	"ip", "forwards", "alias-ip", "restart", "accel", "cloud-init", "qemu-args",
};

/* The fields of one guest, in the document's order; err: "FIELD: why". */
static int
parse_fields(const cJSON *obj, struct guest *g, char *err)
{
	static const char *const restarts[] = { "always", "on-failure", "never" };
	static const char *const accels[] = { "auto", "kvm", "tcg" };
	const cJSON	*v, *seen[F_N] = { NULL };
	char		 q[48];
	size_t		 i;
	int		 e, rv = 0;

	for (v = obj->child; v != NULL && rv == 0; v = v->next) {
		for (i = 0; i < F_N; i++)
			if (strcmp(v->string, guest_fields[i]) == 0)
				break;
		if (i == F_N)
			return bad(err, "%s: unknown field", str_quote(v->string, q, sizeof(q)));
		if (seen[i] != NULL)
			return bad(err, "%s: given twice", guest_fields[i]);
		seen[i] = v;
		switch (i) {
		case F_NAME:
			break;			/* the caller's */
		case F_VCPUS:
			rv = parse_uint(v, "vcpus", 1, GUEST_VCPUS_MAX, &g->vcpus, err);
			break;
		case F_MEMORY:
			rv = parse_size(v, "memory", GUEST_MEM_MIN, GUEST_MEM_MAX,
			    &g->memory, err);
			break;
		case F_DISKS:
			rv = parse_disks(v, g, err);
			break;
		case F_KERNEL:
			rv = parse_boot_source(v, "kernel", &g->kernel, err);
			break;
		case F_INITRD:
			rv = parse_boot_source(v, "initrd", &g->initrd, err);
			break;
		case F_CMDLINE:
			rv = parse_text(v, "cmdline", GUEST_CMDLINE_MAX, 0, &g->cmdline, err);
			break;
		case F_MAC:
			rv = parse_mac(v, g->mac, err);
			g->mac_derived = 0;
			break;
		case F_IP:
			rv = parse_ip(v, "ip", &g->ip, err);
			break;
		case F_FORWARDS:
			rv = parse_forwards(v, g, err);
			break;
		case F_ALIAS_IP:
			rv = parse_ip(v, "alias-ip", &g->alias_ip, err);
			break;
		case F_RESTART:
			if ((rv = parse_enum(v, "restart", "a policy", restarts,
			    NELEM(restarts), &e, err)) == 0)
				g->restart = e;
			break;
		case F_ACCEL:
			if ((rv = parse_enum(v, "accel", "an accelerator", accels,
			    NELEM(accels), &e, err)) == 0)
				g->accel = e;
			break;
		case F_CLOUD_INIT:
			rv = parse_cloud_init(v, g, err);
			break;
		case F_QEMU_ARGS:
			rv = parse_qemu_args(v, g, err);
			break;
		}
	}
	if (rv == -1)
		return -1;
	if (seen[F_MEMORY] == NULL)
		return bad(err, "memory: missing (\"1G\")");
	if (g->ndisks == 0 && g->kernel.kind == SRC_NONE)
		return bad(err, "disks: %s (at least one disk, or a kernel)",
		    seen[F_DISKS] == NULL ? "missing" : "empty");
	if (g->initrd.kind != SRC_NONE && g->kernel.kind == SRC_NONE)
		return bad(err, "initrd: needs a kernel");
	if (g->cmdline != NULL && g->kernel.kind == SRC_NONE)
		return bad(err, "cmdline: needs a kernel");
	return 0;
}

void
guest_clear(struct guest *g)
{
	size_t	 i;

	for (i = 0; i < g->ndisks; i++)
		free(g->disks[i].src.uri);
	free(g->kernel.uri);
	free(g->initrd.uri);
	free(g->cmdline);
	free(g->user_data);
	free(g->meta_data);
	for (i = 0; i < g->nqemu_args; i++)
		free(g->qemu_args[i]);
	free(g->decl);
	memset(g, 0, sizeof(*g));
}

/* A disk used in place (not through an overlay) belongs to one guest alone. */
static int
disk_conflict(const struct guest_disk *a, const struct guest_disk *b)
{
	return a->src.kind == b->src.kind && (a->src.kind == SRC_PD ||
	    a->src.kind == SRC_STATE) && (!a->overlay || !b->overlay) &&
	    strcmp(a->src.uri, b->src.uri) == 0;
}

/* g against the guests kept before it, and its own disks. */
static int
check_against(const struct guest *g, const struct guest *v, size_t n, char *err)
{
	const struct guest *o;
	char		 a[IP4_STRLEN], m[18], s[64];
	size_t		 i, j, k;

	for (i = 0; i < g->ndisks; i++)
		for (j = 0; j < i; j++)
			if (disk_conflict(&g->disks[i], &g->disks[j]))
				return bad(err, "disks[%zu].source: %s is already disks[%zu]",
				    i, g->disks[i].src.uri, j);
	for (o = v; o < v + n; o++) {
		if (memcmp(g->mac, o->mac, 6) == 0)
			return bad(err, "mac: %s%s is already guest %s's%s",
			    guest_mac_str(g->mac, m), g->mac_derived ?
			    " (derived from the name)" : "", o->name,
			    g->mac_derived ? "; set another" : "");
		if (g->ip != 0 && g->ip == o->ip)
			return bad(err, "ip: %s is already guest %s's", ip4_str(g->ip, a),
			    o->name);
		if (g->alias_ip != 0 && g->alias_ip == o->alias_ip)
			return bad(err, "alias-ip: %s is already guest %s's",
			    ip4_str(g->alias_ip, a), o->name);
		for (k = 0; k < o->nforwards && g->alias_ip != 0; k++)
			if (o->forwards[k].alias_ip == g->alias_ip)
				return bad(err, "alias-ip: %s already has a forward to "
				    "guest %s", ip4_str(g->alias_ip, a), o->name);
		for (i = 0; i < g->nforwards; i++) {
			if (g->forwards[i].alias_ip != 0 &&
			    g->forwards[i].alias_ip == o->alias_ip)
				return bad(err, "forwards[%zu].alias-ip: %s is guest %s's "
				    "alias-ip", i, ip4_str(o->alias_ip, a), o->name);
			for (k = 0; k < o->nforwards; k++)
				if (fwd_same(&g->forwards[i], &o->forwards[k]))
					return bad(err, "forwards[%zu]: %s is already "
					    "forwarded to guest %s", i, fwd_str(&g->forwards[i],
					    s, sizeof(s)), o->name);
		}
		for (i = 0; i < g->ndisks; i++)
			for (k = 0; k < o->ndisks; k++)
				if (disk_conflict(&g->disks[i], &o->disks[k]))
					return bad(err, "disks[%zu].source: %s is already "
					    "guest %s's disk", i, g->disks[i].src.uri, o->name);
	}
	return 0;
}

static int
doc_error(struct guest_errors *e, cJSON *root, const char *fmt, ...) NB_PRINTF(3, 4);

static int
doc_error(struct guest_errors *e, cJSON *root, const char *fmt, ...)
{
	char	 msg[ERRLEN];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_Delete(root);
	e->document = 1;
	if (guest_errors_add(e, DOC "%s", msg) == -1)
		return -1;	/* ENOMEM */
	errno = EINVAL;
	return -1;
}

/*
 * Parses json (len bytes, need not end in a NUL) into *set, the valid
 * guests, and *errs, one message per invalid guest. Both start empty; free
 * them with guests_free() and guest_errors_free(), also after an error.
 * Whitespace only: no guests. -1 with EINVAL: the document was rejected
 * (errs->document, one message); ENOMEM.
 */
int
guests_parse(const char *json, size_t len, struct guest_set *set,
    struct guest_errors *errs)
{
	const cJSON	*v, *list = NULL, *version = NULL, *g, *nm;
	cJSON		*root = NULL;
	const char	*end = NULL;
	struct guest	*cur;
	char		 err[ERRLEN], q[48], why[64], (*names)[GUEST_NAME_MAX] = NULL;
	size_t		 i, index, count;
	int		 n;

	memset(set, 0, sizeof(*set));
	memset(errs, 0, sizeof(*errs));
	if (len > GUESTS_DOC_MAX)
		return doc_error(errs, NULL, "larger than %d bytes", GUESTS_DOC_MAX);
	for (i = 0; i < len && is_space(json[i]); i++)
		;
	if (i == len)
		return 0;
	if (json_strict(json, len, JSON_NEST_MAX, &i, why, sizeof(why)) == -1)
		return doc_error(errs, NULL, "not valid JSON (%s at byte %zu)", why, i);
	if ((root = cJSON_ParseWithLengthOpts(json, len, &end, 0)) == NULL) {
		n = end != NULL && end >= json && (size_t)(end - json) <= len ?
		    (int)(end - json) : 0;
		return doc_error(errs, NULL, "not valid JSON (at byte %d)", n);
	}
	for (i = end - json; i < len && is_space(json[i]); i++)
		;
	if (i < len)
		return doc_error(errs, root, "not valid JSON (more after the document "
		    "at byte %zu)", i);
	if (!cJSON_IsObject(root))
		return doc_error(errs, root, "not a JSON object ({\"version\": 1, "
		    "\"guests\": [...]})");
	for (v = root->child; v != NULL; v = v->next) {
		if (strcmp(v->string, "version") == 0 && version == NULL)
			version = v;
		else if (strcmp(v->string, "guests") == 0 && list == NULL)
			list = v;
		else if (strcmp(v->string, "version") == 0 || strcmp(v->string, "guests") == 0)
			return doc_error(errs, root, "%s: given twice", v->string);
		else
			return doc_error(errs, root, "%s: unknown field (version, guests)",
			    str_quote(v->string, q, sizeof(q)));
	}
	if (version == NULL)
		return doc_error(errs, root, "version: missing (this is version %d)",
		    GUESTS_VERSION);
	if (!cJSON_IsNumber(version) || version->valuedouble != GUESTS_VERSION)
		return doc_error(errs, root, "version: %s is not supported (this is "
		    "version %d)", cJSON_IsNumber(version) ? "this version" : "a non-number",
		    GUESTS_VERSION);
	if (list == NULL)
		return doc_error(errs, root, "guests: missing");
	if (!cJSON_IsArray(list))
		return doc_error(errs, root, "guests: not a list ([{\"name\": ...}, ...])");
	if ((count = (size_t)cJSON_GetArraySize(list)) > GUESTS_MAX)
		return doc_error(errs, root, "guests: more than %d guests", GUESTS_MAX);
	if (count > 0 && ((set->v = calloc(count, sizeof(*set->v))) == NULL ||
	    (names = calloc(count, sizeof(*names))) == NULL))
		goto nomem;

	for (g = list->child, index = 1; g != NULL; g = g->next, index++) {
		cur = &set->v[set->n];
		memset(cur, 0, sizeof(*cur));
		cur->index = (unsigned)index;
		cur->vcpus = 1;
		if (!cJSON_IsObject(g)) {
			snprintf(err, sizeof(err), "not an object ({\"name\": ...})");
			goto invalid;
		}
		nm = NULL;
		for (v = g->child; v != NULL && nm == NULL; v = v->next)
			if (strcmp(v->string, "name") == 0)
				nm = v;
		if (parse_name(nm, cur->name, err) == -1)
			goto invalid;
		for (i = 0; i + 1 < index; i++)
			if (strcmp(names[i], cur->name) == 0) {
				snprintf(err, sizeof(err), "name: %s is already guest #%zu's",
				    cur->name, i + 1);
				cur->name[0] = '\0';
				goto invalid;
			}
		memcpy(names[index - 1], cur->name, GUEST_NAME_MAX);
		derive_mac(cur->name, cur->mac);
		cur->mac_derived = 1;
		if (parse_fields(g, cur, err) == -1 ||
		    check_against(cur, set->v, set->n, err) == -1)
			goto invalid;
		if ((cur->decl = cJSON_PrintUnformatted(g)) == NULL)
			goto nomem;
		set->n++;
		continue;
invalid:
		if ((cur->name[0] != '\0' ?
		    guest_errors_add(errs, "guest %s: %s", cur->name, err) :
		    guest_errors_add(errs, "guest #%zu: %s", index, err)) == -1)
			goto nomem;
		errs->invalid++;
		guest_clear(cur);
	}
	free(names);
	cJSON_Delete(root);
	return 0;
nomem:
	free(names);
	cJSON_Delete(root);
	guests_free(set);
	errno = ENOMEM;
	return -1;
}

void
guests_free(struct guest_set *set)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		guest_clear(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

void
guest_errors_free(struct guest_errors *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof(*e));
}
