/*
 * The GCE metadata client: what to ask, how to judge a reply, when to ask
 * again. The bytes move through a transport (metadata_http.c, libcurl in
 * the event loop; a fake in the unit tests), which hands every reply to
 * metadata_reply(). Nothing here blocks.
 *
 * A reply counts only with "Metadata-Flavor: Google" in it, as the guest
 * agent checks: without it, it did not come from the metadata server. 404
 * means unset. 5xx, 429 and no reply at all are retried with a capped
 * exponential backoff with jitter (100 ms doubling to 10 s, up to half of
 * it taken off at random) so a restarted metadata server is not hit by
 * every client at once; 403, other statuses and bodies over their limit
 * are reported, once per distinct error, not once per retry.
 *
 * At network ready (metadata_start) it reads instance/hostname and the
 * scheduling, and watches whatever can change while the VM runs: the
 * instance and project attributes, the alias IP ranges, the maintenance
 * event and preemption. A watch is a first read, then wait_for_change with
 * the ETag of what it has, as the guest agent does. Every request but the
 * guest attributes' PUTs is retried with backoff on every error: no reply,
 * 5xx, 429, 403, a reply without Metadata-Flavor. Each change is parsed, and each
 * watcher (metadata_watch) whose key's value it changed is told: this file
 * is the one place that tells a change from a reply that changed nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/random.h>

#include <cjson/cJSON.h>

#include "md/md.h"
#include "md/md-internal.h"

#define WATCH_QUERY	"?recursive=true&alt=json"
#define WATCH_QUICK	1000	/* an unchanged reply sooner than this: back off */
#define GA_ALIASES	16	/* alias IP ranges kept (guest.h's GUEST_ALIASES_MAX) */

static const struct md_ops *ops;
static struct md_stats	 stats;
static struct attrs	 inst, proj;
static int		 have_inst, started;
static void		(*listeners[MD_LISTENERS])(const struct attrs *);
static size_t		 nlisteners;
static struct watcher {
	char		 key[MD_KEY_MAX + 1];
	void		(*cb)(const char *, void *);
	void		*arg;
	int		 told;		/* cb has had a value */
	char		*last;		/* the one it had; NULL: unset */
} watchers[MD_WATCHERS];
static size_t		 nwatchers;
static void		(*on_stats)(void);
static char		 aliases[GA_ALIASES][19];
static const char	*alias_v[GA_ALIASES];
static size_t		 naliases;
static int		 have_aliases;
static void		(*on_aliases)(void);
static uint32_t		 rng;

static struct md_req	 hostname_req, watch_req, sched_req;

/* A value watched with wait_for_change: project, aliases, maintenance, preempted. */
struct md_watch {
	struct md_req	 req;
	const char	*base;		/* "project/attributes/" */
	const char	*query;		/* WATCH_QUERY for a directory, "" for a value */
	char		 etag[MD_ETAG_MAX];	/* of what we have; "": nothing yet */
	int		 unset;		/* the last reply was 404 */
	void		(*changed)(struct md_req *, enum md_result, const struct md_reply *);
};
static struct md_watch	 project_w, aliases_w, maint_w, preempt_w;
#define project_req	 (project_w.req)
#define aliases_req	 (aliases_w.req)

/* What status.json shows of the client changed: the counters, the view. */
static void
stats_changed(void)
{
	if (on_stats != NULL)
		on_stats();
}

/* xorshift32: only for jitter, never for anything secret. */
static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/*
 * What a reply means. why gets a one-line reason for anything but MD_OK
 * and MD_UNSET. A body over its limit is an error, never cut short.
 */
enum md_result
md_classify(const struct md_reply *r, char *why, size_t size)
{
	if (r->status == 0) {
		snprintf(why, size, "no reply: %s", r->error[0] ? r->error : "unknown error");
		return MD_RETRY;
	}
	if (!r->flavor) {
		snprintf(why, size, "reply (status %ld) without Metadata-Flavor: Google", r->status);
		return MD_FAIL;
	}
	if (r->toobig) {
		snprintf(why, size, "reply (status %ld) over its size limit", r->status);
		return MD_FAIL;
	}
	if (r->status == 200) {
		why[0] = '\0';
		return MD_OK;
	}
	if (r->status == 404) {
		why[0] = '\0';
		return MD_UNSET;
	}
	if (r->status >= 500 || r->status == 429) {
		snprintf(why, size, "server busy (status %ld)", r->status);
		return MD_RETRY;
	}
	if (r->status == 403)
		snprintf(why, size, "refused (status 403)");
	else
		snprintf(why, size, "unexpected status %ld", r->status);
	return MD_FAIL;
}

/*
 * The wait before attempt+1: MD_BACKOFF_MIN doubled per failed attempt,
 * capped at MD_BACKOFF_MAX, then "equal jitter": somewhere in [d/2, d].
 */
uint64_t
md_backoff(unsigned attempt, uint32_t r)
{
	uint64_t	 d = MD_BACKOFF_MIN;

	while (attempt-- > 0 && d < MD_BACKOFF_MAX)
		d *= 2;
	if (d > MD_BACKOFF_MAX)
		d = MD_BACKOFF_MAX;
	return d / 2 + r % (d / 2 + 1);
}

/* GCE's attribute keys: 1-127 of [A-Za-z0-9_-]. */
int
md_key_valid(const char *k)
{
	size_t	 n;

	for (n = 0; k[n] != '\0'; n++)
		if (!isalnum((unsigned char)k[n]) && k[n] != '-' && k[n] != '_')
			return 0;
	return n > 0 && n <= MD_KEY_MAX;
}

/* An ETag goes back into a URL: only letters and digits, and not too long. */
int
md_etag_valid(const char *e)
{
	size_t	 n;

	for (n = 0; e[n] != '\0'; n++)
		if (!isalnum((unsigned char)e[n]))
			return 0;
	return n > 0 && n < MD_ETAG_MAX;
}

/*
 * instance/hostname is the FQDN ("nestbox-1.us-central1-a.c.p.internal");
 * the host name is its first label, which must be an RFC 1123 label: 1-63
 * letters, digits and hyphens, not starting or ending with a hyphen.
 */
int
hostname_parse(const char *reply, size_t len, char name[64])
{
	size_t	 i, n;

	while (len > 0 && (reply[len - 1] == '\n' || reply[len - 1] == '\r'))
		len--;
	for (n = 0; n < len && reply[n] != '.'; n++)
		;
	if (!dns_label_ok(reply, n))
		goto bad;
	for (i = n + 1; i < len; i++)	/* the rest: its characters only */
		if (!isalnum((unsigned char)reply[i]) && reply[i] != '-' &&
		    reply[i] != '.')
			goto bad;
	memcpy(name, reply, n);
	name[n] = '\0';
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

void
attrs_free(struct attrs *a)
{
	size_t	 i;

	for (i = 0; i < a->n; i++) {
		free(a->v[i].key);
		free(a->v[i].value);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/*
 * Which members of a top-level object hold an escaped NUL (\u0000) in a
 * string: cJSON decodes it and the C string ends there, so the value would
 * be cut short without a word. nul[i] gets NUL_KEY and NUL_VALUE for member
 * i (max of them), as the NUL is in its key or in its value.
 */
#define NUL_KEY		0x1
#define NUL_VALUE	0x2
static void
escaped_nuls(const char *json, size_t len, unsigned char *nul, size_t max)
{
	size_t	 i, member = 0;
	int	 depth = 0, instr = 0, inkey = 0;

	memset(nul, 0, max);
	for (i = 0; i < len; i++) {
		if (instr) {
			if (json[i] == '"')
				instr = 0;
			else if (json[i] == '\\' && i + 1 < len) {
				if (json[i + 1] == 'u' && i + 5 < len &&
				    strncmp(json + i + 2, "0000", 4) == 0 && member < max)
					nul[member] |= inkey ? NUL_KEY : NUL_VALUE;
				i++;	/* the escaped character */
			}
		} else if (json[i] == '"')
			instr = 1;
		else if (json[i] == '{' || json[i] == '[') {
			if (++depth == 1)
				inkey = 1;
		} else if (json[i] == '}' || json[i] == ']')
			depth--;
		else if (json[i] == ',' && depth == 1) {
			member++;
			inkey = 1;
		} else if (json[i] == ':' && depth == 1)
			inkey = 0;
	}
}

/*
 * A recursive attributes/ reply: one JSON object of key -> string. Other
 * JSON values are kept as their text; members with a bad key or a value
 * over MD_VALUE_MAX are skipped and counted. -1 (EINVAL) when it is not one
 * JSON object with nothing after it; ENOMEM. *a is only set on success.
 */
int
attrs_parse(const char *json, size_t len, struct attrs *a)
{
	struct attrs	 out;
	cJSON		*doc, *m;
	const char	*end;
	char		*v;
	unsigned char	*nul = NULL;
	size_t		 n, i;
	int		 had_nul;

	memset(&out, 0, sizeof(out));
	doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		errno = EINVAL;
		return -1;
	}
	while (end < json + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	if (end < json + len && *end != '\0') {
		cJSON_Delete(doc);
		errno = EINVAL;
		return -1;
	}
	n = (size_t)cJSON_GetArraySize(doc);
	if (n > 0 && ((out.v = calloc(n, sizeof(*out.v))) == NULL ||
	    (nul = malloc(n)) == NULL))
		goto nomem;
	if (n > 0)
		escaped_nuls(json, len, nul, n);
	i = 0;
	cJSON_ArrayForEach(m, doc) {
		had_nul = i < n ? nul[i] : 0;
		i++;
		if (m->string == NULL || !md_key_valid(m->string) || (had_nul & NUL_KEY) ||
		    (had_nul && !cJSON_IsString(m))) {
			out.bad++;
			continue;
		}
		if (had_nul) {
			/*
			 * What came before the NUL, and a control character for
			 * it: the JSON parsers (json_strict) refuse the value at
			 * the very byte the NUL was, as `nestbox check` does a
			 * file with a NUL. (A key with one is left out.)
			 */
			if ((v = malloc(strlen(m->valuestring) + 2)) != NULL)
				sprintf(v, "%s\x01", m->valuestring);
		} else if (cJSON_IsString(m))
			v = strdup(m->valuestring);
		else
			v = cJSON_PrintUnformatted(m);
		if (v == NULL)
			goto nomem;
		if (strlen(v) > MD_VALUE_MAX) {
			free(v);
			out.bad++;
			continue;
		}
		out.v[out.n].value = v;
		if ((out.v[out.n].key = strdup(m->string)) == NULL)
			goto nomem;
		out.n++;
	}
	cJSON_Delete(doc);
	free(nul);
	*a = out;
	return 0;
nomem:
	if (out.v != NULL && out.v[out.n].value != NULL)
		out.n++;	/* free the half-made member too */
	attrs_free(&out);
	free(nul);
	cJSON_Delete(doc);
	errno = ENOMEM;
	return -1;
}

const char *
attrs_get(const struct attrs *a, const char *key)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, key) == 0)
			return a->v[i].value;
	return NULL;
}

/*
 * ip-aliases/?recursive=true&alt=json: a JSON list of "a.b.c.d/n" (or a
 * bare address). At most max are kept; -1 (EINVAL) if it is not a list of
 * such strings.
 */
int
aliases_parse(const char *json, size_t len, char (*v)[19], size_t max, size_t *n)
{
	cJSON		*doc, *m;
	const char	*s;
	unsigned	 a, b, c, d, p;
	char		 tail;
	int		 k;

	*n = 0;
	if ((doc = cJSON_ParseWithLength(json, len)) == NULL || !cJSON_IsArray(doc))
		goto bad;
	cJSON_ArrayForEach(m, doc) {
		if (!cJSON_IsString(m))
			goto bad;
		s = m->valuestring;
		p = 32;
		k = sscanf(s, "%3u.%3u.%3u.%3u/%2u%c", &a, &b, &c, &d, &p, &tail);
		if ((k != 4 && k != 5) || a > 255 || b > 255 || c > 255 || d > 255 ||
		    p > 32 || strlen(s) > 18 || strspn(s, "0123456789./") != strlen(s))
			goto bad;
		if (*n < max)
			snprintf(v[(*n)++], 19, "%u.%u.%u.%u/%u", a, b, c, d, p);
	}
	cJSON_Delete(doc);
	return 0;
bad:
	cJSON_Delete(doc);
	*n = 0;
	errno = EINVAL;
	return -1;
}

/* --- requests ------------------------------------------------------------ */

static void
retry_fire(struct timer *t)
{
	struct md_req	*req = t->arg;

	md_request(req);
}

static void
req_error(struct md_req *req, const char *why)
{
	req->failed = 1;
	stats.errors++;
	snprintf(stats.error, sizeof(stats.error), "%s: %s", req->name, why);
	if (strcmp(req->lasterr, why) != 0) {
		log_warnx("metadata: %s: %s", req->name, why);
		snprintf(req->lasterr, sizeof(req->lasterr), "%s", why);
	}
}

/* Asks again after the backoff. */
static void
req_later(struct md_req *req)
{
	uint64_t	 ms = md_backoff(req->attempt++, rnd());

	req->failed = 1;
	if (!req->timer_ok) {
		if (timer_init(&req->retry, retry_fire, req) == -1) {
			log_warn("metadata: %s: timer", req->name);
			return;
		}
		req->timer_ok = 1;
	}
	req->waiting = 1;
	timer_set(&req->retry, ms);
}

/*
 * Sends req; its done() is called with the outcome, after any retries.
 * A request waiting to retry goes now; one in flight is EBUSY.
 */
int
md_request(struct md_req *req)
{
	struct md_reply	 r;

	if (req->busy) {
		errno = EBUSY;
		return -1;
	}
	if (req->waiting) {
		req->waiting = 0;
		timer_set(&req->retry, 0);
	}
	req->busy = 1;
	req->started = now_ms();
	stats.requests++;
	if (ops->start(req) == -1) {
		memset(&r, 0, sizeof(r));
		snprintf(r.error, sizeof(r.error), "can not send: %s", strerror(errno));
		metadata_reply(req, &r);
	}
	return 0;
}

void
metadata_reply(struct md_req *req, const struct md_reply *r)
{
	enum md_result	 res;
	char		 why[MD_ERR_MAX];
	unsigned	 attempt;

	res = md_classify(r, why, sizeof(why));
	req->busy = 0;
	req->failed = 0;
	stats_changed();	/* the counters; written once for many replies */
	if (res != MD_OK && res != MD_UNSET) {
		req_error(req, why);
		/* a 403 or a missing flavor may be a passing state too (a
		 * proxy, a server restarting): only the PUTs give up */
		if (!req->once) {
			if (req == &watch_req)
				stats.watch = "retrying";
			req_later(req);
		} else
			req->done(req, res, r);
		return;
	}
	if (stats.first_reply == 0) {
		stats.first_reply = now_ms();
		log_info("metadata: first reply %llu ms after boot",
		    (unsigned long long)stats.first_reply);
	}
	/* done() may still find it wanting (a bad ETag, a bad name) */
	attempt = req->attempt;
	req->done(req, res, r);
	if (req->failed)
		return;
	if (req->lasterr[0] != '\0')
		log_info("metadata: %s: answered after %u attempts", req->name, attempt + 1);
	req->lasterr[0] = '\0';
	req->attempt = 0;
}

/* --- what is read at boot ------------------------------------------------ */

int
hostname_set(const char *name)
{
	char	 line[80];
	int	 n;

	if (sethostname(name, strlen(name)) == -1) {
		log_warn("hostname: sethostname %s", name);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s\n", name);
	if (write_file("/etc/hostname", line, n, 0644) == -1)
		log_warn("hostname: /etc/hostname");
	return 0;
}

static void
hostname_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	char	 name[64];

	(void)req;
	if (res == MD_UNSET)
		log_warnx("hostname: instance/hostname is not set");
	if (res != MD_OK)
		return;
	if (hostname_parse(r->body, r->len, name) == -1) {
		req_error(req, "not a host name");
		return;
	}
	if (ops->sethostname == NULL || ops->sethostname(name) == 0) {
		snprintf(stats.hostname, sizeof(stats.hostname), "%s", name);
		log_info("hostname: %s", name);
		stats_changed();
	}
}

/* Tells w the value of its key if it is the first or a new one. */
static void
tell(struct watcher *w)
{
	const char	*v = metadata_attr(w->key);
	char		*copy = NULL;

	if (w->told && (v == NULL ? w->last == NULL :
	    w->last != NULL && strcmp(v, w->last) == 0))
		return;
	/* out of memory: told anyway, and again at the next change of any key */
	if (v == NULL || (copy = strdup(v)) != NULL) {
		free(w->last);
		w->last = copy;
		w->told = 1;
	}
	w->cb(v, w->arg);
}

/* The view (instance over project) may have changed: watchers, listeners. */
static void
notify(void)
{
	size_t	 i;

	for (i = 0; i < nwatchers; i++)
		tell(&watchers[i]);
	for (i = 0; i < nlisteners; i++)
		listeners[i](&inst);
	stats_changed();
}

static void
project_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	struct attrs	 a;

	if (res != MD_OK)
		return;
	if (attrs_parse(r->body, r->len, &a) == -1) {
		req_error(req, errno == ENOMEM ? "out of memory" : "malformed attributes JSON");
		return;
	}
	attrs_free(&proj);
	proj = a;
	if (have_inst)
		notify();	/* project keys are fallbacks: the view changed */
}

static void
aliases_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	char		 v[GA_ALIASES][19];
	size_t		 n, i;
	int		 changed;

	memset(v, 0, sizeof(v));	/* compared whole below */
	if (res == MD_UNSET)
		n = 0;		/* no ranges */
	else if (res != MD_OK)
		return;
	else if (aliases_parse(r->body, r->len, v, GA_ALIASES, &n) == -1) {
		req_error(req, "malformed alias IP list");
		return;
	}
	changed = !have_aliases || n != naliases ||
	    (n > 0 && memcmp(v, aliases, n * sizeof(v[0])) != 0);
	if (!changed)
		return;
	memcpy(aliases, v, n * sizeof(v[0]));
	naliases = n;
	for (i = 0; i < n; i++)
		alias_v[i] = aliases[i];
	have_aliases = 1;
	if (ops->aliases != NULL)
		ops->aliases(alias_v, n);	/* logs */
	if (on_aliases != NULL)
		on_aliases();
	stats_changed();
}

static void
sched_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	(void)req;
	if (res != MD_OK)
		return;
	stats.preemptible = strcasecmp(r->body, "TRUE") == 0;
	if (stats.preemptible)
		log_info("metadata: preemptible: about 30 s to shut down");
	stats_changed();
}

/* The maintenance event: logged and in the status; the guests are told
 * nothing (docs/operations.md says what GCE does to them). */
static void
maint_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	char	 v[sizeof(stats.maintenance)];
	size_t	 n;

	(void)req;
	if (res != MD_OK)
		snprintf(v, sizeof(v), "NONE");
	else {
		for (n = 0; n < r->len && n + 1 < sizeof(v) && (isupper((unsigned char)r->body[n]) ||
		    r->body[n] == '_'); n++)
			v[n] = r->body[n];
		v[n] = '\0';
		if (n == 0 || n < r->len) {
			req_error(req, "not a maintenance event");
			return;
		}
	}
	if (strcmp(v, stats.maintenance) == 0)
		return;
	if (strcmp(v, "NONE") != 0)
		log_warnx("metadata: maintenance event: %s", v);
	else if (stats.maintenance[0] != '\0')
		log_info("metadata: maintenance event over (%s)", stats.maintenance);
	snprintf(stats.maintenance, sizeof(stats.maintenance), "%s", v);
	stats_changed();
}

/* Preempted: the shutdown starts now, with a preemptible VM's deadline. */
static void
preempt_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	(void)req;
	if (res != MD_OK || stats.preempted || strncasecmp(r->body, "TRUE", 4) != 0)
		return;
	stats.preempted = 1;
	stats.preemptible = 1;		/* the guests' 25 s stop */
	log_warnx("metadata: preempted: GCE stops this VM in about 30 s");
	stats_changed();
	if (ops->preempted != NULL)
		ops->preempted();
}

static void
mw_next(struct md_watch *w)
{
	struct md_req	*req = &w->req;
	const char	*sep = w->query[0] != '\0' ? "&" : "?";

	if (w->etag[0] == '\0') {
		snprintf(req->path, sizeof(req->path), "%s%s", w->base, w->query);
		req->timeout = MD_TIMEOUT_MS;
	} else {
		snprintf(req->path, sizeof(req->path), "%s%s%swait_for_change=true&last_etag=%s"
		    "&timeout_sec=%d", w->base, w->query, sep, w->etag, MD_WATCH_SEC);
		req->timeout = (MD_WATCH_SEC + 10) * 1000;
	}
	md_request(req);
}

/* Asked again after ms (a value that is not there can not be waited for). */
static void
req_after(struct md_req *req, uint64_t ms)
{
	if (!req->timer_ok) {
		if (timer_init(&req->retry, retry_fire, req) == -1) {
			log_warn("metadata: %s: timer", req->name);
			return;
		}
		req->timer_ok = 1;
	}
	req->waiting = 1;
	timer_set(&req->retry, ms);
}

static void
mw_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	struct md_watch	*w = req->arg;
	int		 waited = w->etag[0] != '\0';

	if (res == MD_UNSET) {
		/* nothing to wait on: read again in a watch's time */
		if (!w->unset)
			w->changed(req, res, r);
		w->unset = 1;
		w->etag[0] = '\0';
		snprintf(req->path, sizeof(req->path), "%s%s", w->base, w->query);
		req->timeout = MD_TIMEOUT_MS;
		req_after(req, MD_WATCH_SEC * 1000);
		return;
	}
	w->unset = 0;
	if (!md_etag_valid(r->etag)) {
		req_error(req, "reply without a usable ETag");
		req_later(req);
		return;
	}
	if (strcmp(r->etag, w->etag) == 0) {
		/* timeout_sec passed with no change; unless at once */
		if (waited && now_ms() - req->started < WATCH_QUICK)
			req_later(req);
		else
			mw_next(w);
		return;
	}
	snprintf(w->etag, sizeof(w->etag), "%s", r->etag);
	w->changed(req, res, r);
	mw_next(w);
}

/* --- the watch ----------------------------------------------------------- */

static void
watch_next(void)
{
	struct md_req	*req = &watch_req;

	if (strcmp(stats.etag, "NONE") == 0) {
		snprintf(req->path, sizeof(req->path), "instance/attributes/" WATCH_QUERY);
		req->timeout = MD_TIMEOUT_MS;
		stats.watch = "reading";
	} else {
		snprintf(req->path, sizeof(req->path), "instance/attributes/" WATCH_QUERY
		    "&wait_for_change=true&last_etag=%s&timeout_sec=%d", stats.etag, MD_WATCH_SEC);
		req->timeout = (MD_WATCH_SEC + 10) * 1000;
		stats.watch = "watching";
	}
	md_request(req);
}

static void
watch_fail(struct md_req *req, const char *why)
{
	if (why != NULL)
		req_error(req, why);
	stats.watch = "retrying";
	req_later(req);
}

static void
watch_done(struct md_req *req, enum md_result res, const struct md_reply *r)
{
	struct attrs	 a;
	int		 waited = strcmp(stats.etag, "NONE") != 0;

	if (res == MD_UNSET) {
		watch_fail(req, "instance/attributes/ not found (404)");
		return;
	}
	if (res != MD_OK) {
		watch_fail(req, NULL);	/* metadata_reply() reported it */
		return;
	}
	if (!md_etag_valid(r->etag)) {
		watch_fail(req, "reply without a usable ETag");
		return;
	}
	if (strcmp(r->etag, stats.etag) == 0) {
		/* timeout_sec passed with no change, as it should; unless at once */
		if (waited && now_ms() - req->started < WATCH_QUICK)
			watch_fail(req, NULL);
		else
			watch_next();
		return;
	}
	/*
	 * A malformed document is reported and its ETag taken anyway: asking
	 * again would get the same document at once. The next change is read.
	 */
	snprintf(stats.etag, sizeof(stats.etag), "%s", r->etag);
	if (attrs_parse(r->body, r->len, &a) == -1) {
		req_error(req, errno == ENOMEM ? "out of memory" : "malformed attributes JSON");
		stats_changed();
	} else {
		attrs_free(&inst);
		inst = a;
		have_inst = 1;
		stats.changes++;
		log_info("metadata: attributes changed (etag %s)", stats.etag);
		if (a.bad > 0)
			log_warnx("metadata: %zu attributes skipped (bad key or value)", a.bad);
		notify();
	}
	watch_next();
}

/* --- the interface ------------------------------------------------------- */

static void
req_setup(struct md_req *req, const char *name, const char *path, size_t max,
    void (*done)(struct md_req *, enum md_result, const struct md_reply *))
{
	if (req->timer_ok)
		timer_set(&req->retry, 0);
	req->name = name;
	snprintf(req->path, sizeof(req->path), "%s", path);
	req->put = NULL;
	req->del = 0;
	req->max = max;
	req->timeout = MD_TIMEOUT_MS;
	req->once = 0;
	req->done = done;
	req->busy = req->waiting = 0;
	req->attempt = 0;
	req->lasterr[0] = '\0';
}

static void
mw_setup(struct md_watch *w, const char *name, const char *base, const char *query,
    size_t max, void (*changed)(struct md_req *, enum md_result, const struct md_reply *))
{
	req_setup(&w->req, name, "", max, mw_done);
	w->req.arg = w;
	w->base = base;
	w->query = query;
	w->etag[0] = '\0';
	w->unset = 0;
	w->changed = changed;
	snprintf(w->req.path, sizeof(w->req.path), "%s%s", base, query);
}

/* Also resets: the unit tests start each case from here. */
int
metadata_init(const struct md_ops *o)
{
	ops = o;
	attrs_free(&inst);
	attrs_free(&proj);
	memset(aliases, 0, sizeof(aliases));
	naliases = 0;
	have_aliases = 0;
	on_aliases = NULL;
	have_inst = started = 0;
	nlisteners = 0;
	while (nwatchers > 0)
		free(watchers[--nwatchers].last);
	memset(watchers, 0, sizeof(watchers));
	on_stats = NULL;
	memset(&stats, 0, sizeof(stats));
	stats.watch = "idle";
	stats.preemptible = -1;
	strcpy(stats.etag, "NONE");
	if (getrandom(&rng, sizeof(rng), GRND_NONBLOCK) != sizeof(rng))
		rng = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;
	if (rng == 0)
		rng = 0x9e3779b9;
	req_setup(&hostname_req, "hostname", "instance/hostname", 4096, hostname_done);
	req_setup(&watch_req, "attributes", "", MD_DOC_MAX, watch_done);
	mw_setup(&project_w, "project attributes", "project/attributes/", WATCH_QUERY,
	    MD_DOC_MAX, project_done);
	mw_setup(&aliases_w, "alias IP ranges", "instance/network-interfaces/0/ip-aliases/",
	    WATCH_QUERY, 64 * 1024, aliases_done);
	mw_setup(&maint_w, "maintenance event", "instance/maintenance-event", "", 4096,
	    maint_done);
	mw_setup(&preempt_w, "preempted", "instance/preempted", "", 4096, preempt_done);
	req_setup(&sched_req, "preemptible", "instance/scheduling/preemptible", 4096, sched_done);
	return 0;
}

/*
 * The network is up. The first call reads and starts the watch; a later one
 * (a new lease) cuts short the backoff of whatever is waiting to retry.
 */
void
metadata_start(void)
{
	struct md_req	*reqs[] = { &hostname_req, &watch_req, &project_req,
	    &aliases_req, &maint_w.req, &preempt_w.req, &sched_req };
	size_t		 i;

	if (started) {
		for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
			if (reqs[i]->waiting)
				md_request(reqs[i]);
		return;
	}
	started = 1;
	md_request(&hostname_req);
	watch_next();
	mw_next(&project_w);
	mw_next(&aliases_w);
	mw_next(&maint_w);
	mw_next(&preempt_w);
	md_request(&sched_req);
}

void
metadata_on_attributes(void (*fn)(const struct attrs *))
{
	if (nlisteners < MD_LISTENERS)
		listeners[nlisteners++] = fn;
	else
		log_warnx("metadata: too many listeners");
}

int
metadata_watch(const char *key, void (*cb)(const char *, void *), void *arg)
{
	struct watcher	*w;

	if (!md_key_valid(key)) {
		errno = EINVAL;
		return -1;
	}
	if (nwatchers == MD_WATCHERS) {
		log_warnx("metadata: too many listeners");
		errno = ENOSPC;
		return -1;
	}
	w = &watchers[nwatchers++];
	memset(w, 0, sizeof(*w));
	snprintf(w->key, sizeof(w->key), "%s", key);
	w->cb = cb;
	w->arg = arg;
	if (have_inst)
		tell(w);
	return 0;
}

void
metadata_on_stats(void (*fn)(void))
{
	on_stats = fn;
}

/* An instance attribute, else the project's (GCE's own precedence). */
const char *
metadata_attr(const char *key)
{
	const char	*v;

	if ((v = attrs_get(&inst, key)) != NULL)
		return v;
	return attrs_get(&proj, key);
}

const struct attrs *
metadata_attrs(int project)
{
	return project ? &proj : &inst;
}

const struct md_stats *
metadata_stats(void)
{
	return &stats;
}

int
metadata_aliases(const char *const **cidrs, size_t *n)
{
	if (!have_aliases) {
		errno = ENOENT;
		return -1;
	}
	*cidrs = alias_v;
	*n = naliases;
	return 0;
}

void
metadata_on_aliases(void (*fn)(void))
{
	on_aliases = fn;
}
