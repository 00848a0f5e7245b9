/*
 * The metadata client: reply classification, backoff, the parsers, and the
 * request logic driven through a fake transport that records what was sent
 * and lets the test answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "md/md-internal.h"

/* --- the fake transport -------------------------------------------------- */

static struct md_req	*sent[64];
static size_t		 nsent;
static char		 host[64];
static int		 start_fails;
static const struct attrs *heard;
static int		 nheard;

static int
fake_start(struct md_req *req)
{
	if (start_fails) {
		errno = ENETUNREACH;
		return -1;
	}
	assert_true(nsent < NTESTS(sent));
	sent[nsent++] = req;
	return 0;
}

static int
fake_sethostname(const char *name)
{
	snprintf(host, sizeof(host), "%s", name);
	return 0;
}

static int	 npreempted;

static void
fake_preempted(void)
{
	npreempted++;
}

static const struct md_ops fake = { fake_start, fake_sethostname, NULL, fake_preempted };

static void
listener(const struct attrs *a)
{
	heard = a;
	nheard++;
}

static void
fresh(void)
{
	nsent = 0;
	host[0] = '\0';
	start_fails = 0;
	heard = NULL;
	nheard = 0;
	metadata_init(&fake);
}

/* The last request sent whose path starts with prefix. */
static struct md_req *
find(const char *prefix)
{
	size_t	 i;

	for (i = nsent; i-- > 0;)
		if (strncmp(sent[i]->path, prefix, strlen(prefix)) == 0)
			return sent[i];
	fail_msg("no request for %s", prefix);
	return NULL;
}

static void
answer(struct md_req *req, long status, int flavor, const char *etag, const char *body)
{
	struct md_reply	 r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.flavor = flavor;
	snprintf(r.etag, sizeof(r.etag), "%s", etag ? etag : "");
	r.body = body ? body : "";
	r.len = strlen(r.body);
	if (status == 0)
		strcpy(r.error, "Connection refused");
	metadata_reply(req, &r);
}

/* A retry as its timer would start it, without waiting for the timer. */
static void
fire(struct md_req *req)
{
	assert_true(req->waiting);
	req->retry.fire(&req->retry);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* --- pure functions ------------------------------------------------------ */

static void
classify(void **state)
{
	static const struct {
		long		 status;
		int		 flavor, toobig;
		enum md_result	 want;
		const char	*why;
	} t[] = {
		{ 200, 1, 0, MD_OK, "" },
		{ 404, 1, 0, MD_UNSET, "" },
		{ 503, 1, 0, MD_RETRY, "server busy (status 503)" },
		{ 500, 1, 0, MD_RETRY, "server busy (status 500)" },
		{ 429, 1, 0, MD_RETRY, "server busy (status 429)" },
		{ 403, 1, 0, MD_FAIL, "refused (status 403)" },
		{ 301, 1, 0, MD_FAIL, "unexpected status 301" },
		{ 400, 1, 0, MD_FAIL, "unexpected status 400" },
		{ 200, 0, 0, MD_FAIL, "reply (status 200) without Metadata-Flavor: Google" },
		{ 404, 0, 0, MD_FAIL, "reply (status 404) without Metadata-Flavor: Google" },
		{ 503, 0, 0, MD_FAIL, "reply (status 503) without Metadata-Flavor: Google" },
		{ 200, 1, 1, MD_FAIL, "reply (status 200) over its size limit" },
		{ 0, 0, 0, MD_RETRY, "no reply: Connection refused" },
	};
	struct md_reply	 r;
	char		 why[MD_ERR_MAX];
	size_t		 i;

	(void)state;
	for (i = 0; i < NTESTS(t); i++) {
		memset(&r, 0, sizeof(r));
		r.status = t[i].status;
		r.flavor = t[i].flavor;
		r.toobig = t[i].toobig;
		if (r.status == 0)
			strcpy(r.error, "Connection refused");
		assert_int_equal(md_classify(&r, why, sizeof(why)), t[i].want);
		assert_string_equal(why, t[i].why);
	}
}

static void
backoff_schedule(void **state)
{
	static const uint64_t	 base[] = { 100, 200, 400, 800, 1600, 3200, 6400,
	    10000, 10000, 10000 };
	uint32_t		 r = 12345;
	unsigned		 a, i;
	uint64_t		 d;

	(void)state;
	for (a = 0; a < NTESTS(base); a++) {
		assert_int_equal(md_backoff(a, 0), base[a] / 2);	/* no jitter: half */
		assert_int_equal(md_backoff(a, base[a] / 2), base[a]);	/* all of it */
		for (i = 0; i < 1000; i++) {
			r = r * 1103515245 + 12345;
			d = md_backoff(a, r);
			assert_true(d >= base[a] / 2 && d <= base[a]);
		}
	}
	/* no overflow however long it fails */
	assert_true(md_backoff(1000000, 0xffffffff) <= MD_BACKOFF_MAX);
	assert_true(md_backoff(64, 7) >= MD_BACKOFF_MAX / 2);
}

static void
hostname_validation(void **state)
{
	static const struct {
		const char	*in, *want;
	} t[] = {
		{ "nestbox-1.us-central1-a.c.nestbox-test.internal", "nestbox-1" },
		{ "nestbox-1", "nestbox-1" },
		{ "vm7.c.p.internal\n", "vm7" },
		{ "A1.example", "A1" },
		{ "123456789012345678901234567890123456789012345678901234567890123.x",
		  "123456789012345678901234567890123456789012345678901234567890123" },
		{ "", NULL }, { "\n", NULL }, { ".internal", NULL },
		{ "-vm.internal", NULL }, { "vm-.internal", NULL },
		{ "v_m.internal", NULL }, { "v m.internal", NULL },
		{ "vm.int ernal", NULL }, { "vm.in_ternal", NULL }, { "vm/x", NULL },
		{ "1234567890123456789012345678901234567890123456789012345678901234.x", NULL },
		{ "1234567890123456789012345678901234567890123456789012345678901234", NULL },
	};
	char	 name[64], *in;
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(t); i++) {
		in = dupstr(t[i].in);
		if (t[i].want != NULL) {
			assert_int_equal(hostname_parse(in, strlen(in), name), 0);
			assert_string_equal(name, t[i].want);
		} else {
			errno = 0;
			assert_int_equal(hostname_parse(in, strlen(in), name), -1);
			assert_int_equal(errno, EINVAL);
		}
		free(in);
	}
	/* a NUL inside is not a name */
	assert_int_equal(hostname_parse("vm\0x.internal", 13, name), -1);
}

static void
keys_and_etags(void **state)
{
	char	 k[200];

	(void)state;
	assert_true(md_key_valid("nestbox-guests"));
	assert_true(md_key_valid("snake_key"));
	assert_false(md_key_valid(""));
	assert_false(md_key_valid("a.b"));
	assert_false(md_key_valid("a b"));
	memset(k, 'k', sizeof(k));
	k[127] = '\0';
	assert_true(md_key_valid(k));
	k[127] = 'k';
	k[128] = '\0';
	assert_false(md_key_valid(k));
	assert_true(md_etag_valid("94e650818a4f4a60"));
	assert_false(md_etag_valid(""));
	assert_false(md_etag_valid("a&b=c"));
	assert_false(md_etag_valid("\"quoted\""));
	memset(k, 'e', sizeof(k));
	k[MD_ETAG_MAX] = '\0';
	assert_false(md_etag_valid(k));
}

/* {"huge":"vvv...","ok":"1"} with n v's */
static char *
bigdoc(size_t n)
{
	char	*big = malloc(n + 64);

	assert_non_null(big);
	strcpy(big, "{\"huge\":\"");
	memset(big + 9, 'v', n);
	strcpy(big + 9 + n, "\",\"ok\":\"1\"}");
	return big;
}

static void
attributes_parse(void **state)
{
	struct attrs	 a;
	char		*big, *json;
	size_t		 n;

	(void)state;
	json = dupstr("{\"nestbox-guests\":\"{\\\"guests\\\":[]}\",\"n\":5,\"b\":true,"
	    "\"bad key\":\"x\",\"o\":{\"x\":1},\"s\":\"\"}  \n");
	assert_int_equal(attrs_parse(json, strlen(json), &a), 0);
	assert_int_equal(a.n, 5);
	assert_int_equal(a.bad, 1);
	assert_string_equal(attrs_get(&a, "nestbox-guests"), "{\"guests\":[]}");
	assert_string_equal(attrs_get(&a, "n"), "5");
	assert_string_equal(attrs_get(&a, "b"), "true");
	assert_string_equal(attrs_get(&a, "o"), "{\"x\":1}");
	assert_string_equal(attrs_get(&a, "s"), "");
	assert_null(attrs_get(&a, "bad key"));
	assert_null(attrs_get(&a, "missing"));
	attrs_free(&a);
	free(json);

	json = dupstr("{}");
	assert_int_equal(attrs_parse(json, 2, &a), 0);
	assert_int_equal(a.n, 0);
	attrs_free(&a);
	free(json);

	/* an escaped NUL: the value up to it, then a control character the
	 * JSON parsers refuse at that byte, not a value silently cut short; an
	 * escaped backslash before "u0000" is no NUL; a NUL in a nested value
	 * or in a key leaves the member out */
	json = dupstr("{\"g\":\"{}\\u0000x\",\"h\":\"a\\\\u0000\",\"o\":{\"k\":\"\\u0000\"},"
	    "\"k\\u0000\":\"v\",\"z\":\"ok\"}");
	assert_int_equal(attrs_parse(json, strlen(json), &a), 0);
	assert_string_equal(attrs_get(&a, "g"), "{}\x01");
	assert_string_equal(attrs_get(&a, "h"), "a\\u0000");
	assert_null(attrs_get(&a, "o"));
	assert_string_equal(attrs_get(&a, "z"), "ok");
	assert_int_equal(a.bad, 2);
	attrs_free(&a);
	free(json);

	/* not one JSON object: refused, *a untouched */
	static const char *const bad[] = {
		"", "[]", "\"s\"", "null", "{\"a\":\"b\"", "{\"a\":\"b\"}x", "{\"a\":\"b\"}{}",
		"{\"a\":}", "{a:1}", "<html>403</html>",
	};
	for (n = 0; n < NTESTS(bad); n++) {
		json = dupstr(bad[n]);
		memset(&a, 0x5a, sizeof(a));
		errno = 0;
		assert_int_equal(attrs_parse(json, strlen(json), &a), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(a.n, 0x5a5a5a5a5a5a5a5aULL);
		free(json);
	}
	/* a length shorter than the text: only that much is parsed */
	assert_int_equal(attrs_parse("{\"a\":\"b\"}", 5, &a), -1);

	/* a value over 256 KiB is skipped, not cut; exactly 256 KiB is fine */
	big = bigdoc(MD_VALUE_MAX + 1);
	assert_int_equal(attrs_parse(big, strlen(big), &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.bad, 1);
	assert_null(attrs_get(&a, "huge"));
	attrs_free(&a);
	free(big);
	big = bigdoc(MD_VALUE_MAX);
	assert_int_equal(attrs_parse(big, strlen(big), &a), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(strlen(attrs_get(&a, "huge")), MD_VALUE_MAX);
	attrs_free(&a);
	free(big);
}

static void
aliases(void **state)
{
	char	 v[4][19];
	size_t	 n;

	(void)state;
	assert_int_equal(aliases_parse("[\"10.128.16.0/28\",\"10.1.2.3\"]", 29, v, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "10.128.16.0/28");
	assert_string_equal(v[1], "10.1.2.3/32");
	assert_int_equal(aliases_parse("[]", 2, v, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(aliases_parse("[\"1.2.3.4/33\"]", 14, v, 4, &n), -1);
	assert_int_equal(aliases_parse("[\"1.2.3.256\"]", 13, v, 4, &n), -1);
	assert_int_equal(aliases_parse("[\"1.2.3.4/8x\"]", 14, v, 4, &n), -1);
	assert_int_equal(aliases_parse("[\"1.2.3.4 \"]", 12, v, 4, &n), -1);
	assert_int_equal(aliases_parse("[1]", 3, v, 4, &n), -1);
	assert_int_equal(aliases_parse("{}", 2, v, 4, &n), -1);
	assert_int_equal(aliases_parse("[\"1.1.1.1\",\"2.2.2.2\"]", 21, v, 1, &n), 0);
	assert_int_equal(n, 1);
}

/* --- the client ---------------------------------------------------------- */

static void
start_sends_everything(void **state)
{
	struct md_req	*w;

	(void)state;
	fresh();
	metadata_start();
	assert_int_equal(nsent, 7);
	assert_string_equal(find("instance/hostname")->path, "instance/hostname");
	assert_int_equal(find("instance/hostname")->timeout, MD_TIMEOUT_MS);
	w = find("instance/attributes/");
	/* the first read does not wait */
	assert_string_equal(w->path, "instance/attributes/?recursive=true&alt=json");
	assert_int_equal(w->max, MD_DOC_MAX);
	assert_string_equal(find("project/attributes/")->path,
	    "project/attributes/?recursive=true&alt=json");
	find("instance/network-interfaces/0/ip-aliases/");
	find("instance/scheduling/preemptible");
	assert_string_equal(find("instance/maintenance-event")->path, "instance/maintenance-event");
	assert_string_equal(find("instance/preempted")->path, "instance/preempted");
	assert_string_equal(metadata_stats()->etag, "NONE");
	/* again (a new lease): nothing new in flight */
	metadata_start();
	assert_int_equal(nsent, 7);
	assert_int_equal(md_request(w), -1);
	assert_int_equal(errno, EBUSY);
}

static void
hostname_set_at_boot(void **state)
{
	int	 fd = log_capture();
	char	*log;

	(void)state;
	fresh();
	metadata_start();
	answer(find("instance/hostname"), 200, 1, "0123456789abcdef",
	    "nestbox-1.us-central1-a.c.nestbox-test.internal");
	assert_string_equal(host, "nestbox-1");
	assert_string_equal(metadata_stats()->hostname, "nestbox-1");
	assert_true(metadata_stats()->first_reply > 0);
	log = log_captured(fd);
	assert_non_null(strstr(log, "nestbox: hostname: nestbox-1\n"));
	free(log);
}

static void
hostname_refused(void **state)
{
	int	 fd = log_capture();
	char	*log;

	(void)state;
	fresh();
	metadata_start();
	answer(find("instance/hostname"), 403, 1, NULL, "<html>Missing Metadata-Flavor</html>");
	assert_string_equal(host, "");
	assert_true(find("instance/hostname")->waiting);	/* retried: it may pass */
	fire(find("instance/hostname"));
	answer(find("instance/hostname"), 200, 0, NULL, "x");	/* no flavor: the same */
	assert_true(find("instance/hostname")->waiting);
	assert_int_equal(find("instance/hostname")->attempt, 2);
	fresh();
	metadata_start();
	answer(find("instance/hostname"), 200, 0, NULL, "evil");
	assert_string_equal(host, "");
	fresh();
	metadata_start();
	answer(find("instance/hostname"), 200, 1, NULL, "bad_name.internal");
	assert_string_equal(host, "");
	fresh();
	metadata_start();
	answer(find("instance/hostname"), 404, 1, NULL, "");
	assert_string_equal(host, "");
	log = log_captured(fd);
	assert_non_null(strstr(log, "metadata: hostname: refused (status 403)"));
	assert_non_null(strstr(log, "metadata: hostname: reply (status 200) without Metadata-Flavor"));
	assert_non_null(strstr(log, "metadata: hostname: not a host name"));
	assert_non_null(strstr(log, "instance/hostname is not set"));
	free(log);
}

static void
retry_503_then_success(void **state)
{
	struct md_req	*h;
	int		 fd = log_capture(), i;
	char		*log;

	(void)state;
	fresh();
	metadata_start();
	h = find("instance/hostname");
	for (i = 0; i < 5; i++) {
		answer(h, 503, 1, NULL, "busy");
		assert_true(h->waiting);
		assert_false(h->busy);
		assert_int_equal(h->attempt, i + 1);
		assert_string_equal(host, "");
		fire(h);
		assert_true(h->busy);
	}
	/* a connection error is another error: logged once more */
	answer(h, 0, 0, NULL, NULL);
	fire(h);
	answer(h, 200, 1, "0123456789abcdef", "vm.internal");
	assert_string_equal(host, "vm");
	assert_int_equal(h->attempt, 0);
	assert_false(h->waiting);
	assert_int_equal(metadata_stats()->errors, 6);
	log = log_captured(fd);
	assert_int_equal(count(log, "server busy (status 503)"), 1);
	assert_int_equal(count(log, "no reply: Connection refused"), 1);
	assert_non_null(strstr(log, "metadata: hostname: answered after 7 attempts"));
	free(log);
}

static void
transport_failure_retries(void **state)
{
	struct md_req	*h;

	(void)state;
	fresh();
	metadata_start();
	h = find("instance/hostname");
	answer(h, 503, 1, NULL, NULL);
	start_fails = 1;
	fire(h);		/* can not even send: a retry like any other */
	assert_true(h->waiting);
	assert_string_equal(metadata_stats()->error, "hostname: no reply: can not send: "
	    "Network is unreachable");
	start_fails = 0;
	/* a new lease: what waits goes now */
	metadata_start();
	assert_false(h->waiting);
	assert_true(h->busy);
	answer(h, 200, 1, NULL, "vm2");
	assert_string_equal(host, "vm2");
}

static void
watch_etags(void **state)
{
	struct md_req	*w;
	int		 fd = log_capture();
	char		*log;

	(void)state;
	fresh();
	metadata_on_attributes(listener);
	metadata_start();
	w = find("instance/attributes/");
	answer(w, 200, 1, "aaaaaaaaaaaaaaaa", "{\"nestbox-guests\":\"g1\",\"k\":\"v\"}");
	assert_int_equal(nheard, 1);
	assert_string_equal(attrs_get(heard, "k"), "v");
	assert_string_equal(metadata_attr("nestbox-guests"), "g1");
	assert_string_equal(metadata_stats()->etag, "aaaaaaaaaaaaaaaa");
	assert_string_equal(metadata_stats()->watch, "watching");
	/* then it waits for a change of that ETag */
	assert_true(w->busy);
	assert_string_equal(w->path, "instance/attributes/?recursive=true&alt=json"
	    "&wait_for_change=true&last_etag=aaaaaaaaaaaaaaaa&timeout_sec=60");
	assert_int_equal(w->timeout, (MD_WATCH_SEC + 10) * 1000);

	/* timeout_sec passed: the same ETag, no listener, the same wait again */
	w->started -= 61000;
	answer(w, 200, 1, "aaaaaaaaaaaaaaaa", "{\"nestbox-guests\":\"g1\",\"k\":\"v\"}");
	assert_int_equal(nheard, 1);
	assert_true(w->busy);
	assert_false(w->waiting);
	assert_non_null(strstr(w->path, "last_etag=aaaaaaaaaaaaaaaa"));

	/* the same ETag at once: a server that does not wait; back off */
	answer(w, 200, 1, "aaaaaaaaaaaaaaaa", "{}");
	assert_int_equal(nheard, 1);
	assert_true(w->waiting);
	fire(w);

	/* a change */
	answer(w, 200, 1, "bbbbbbbbbbbbbbbb", "{\"k\":\"v2\"}");
	assert_int_equal(nheard, 2);
	assert_string_equal(attrs_get(heard, "k"), "v2");
	assert_null(metadata_attr("nestbox-guests"));
	assert_non_null(strstr(w->path, "last_etag=bbbbbbbbbbbbbbbb"));
	assert_int_equal(metadata_stats()->changes, 2);

	/* a reply without a usable ETag is not believed */
	answer(w, 200, 1, "", "{\"k\":\"v3\"}");
	assert_true(w->waiting);
	fire(w);
	answer(w, 200, 1, "x&last_etag=y", "{\"k\":\"v3\"}");
	assert_true(w->waiting);
	fire(w);
	assert_int_equal(nheard, 2);
	assert_non_null(strstr(w->path, "last_etag=bbbbbbbbbbbbbbbb&"));
	log = log_captured(fd);
	assert_non_null(strstr(log, "metadata: attributes changed (etag aaaaaaaaaaaaaaaa)"));
	assert_non_null(strstr(log, "metadata: attributes changed (etag bbbbbbbbbbbbbbbb)"));
	assert_int_equal(count(log, "reply without a usable ETag"), 1);
	free(log);
}

static void
watch_bad_replies(void **state)
{
	struct md_req	*w;
	int		 fd = log_capture(), i;
	char		*log;

	(void)state;
	fresh();
	metadata_on_attributes(listener);
	metadata_start();
	w = find("instance/attributes/");
	answer(w, 200, 1, "aaaaaaaaaaaaaaaa", "{\"k\":\"v\"}");
	assert_int_equal(nheard, 1);

	/* truncated JSON: reported, the old attributes kept, the ETag taken */
	answer(w, 200, 1, "bbbbbbbbbbbbbbbb", "{\"k\":\"v2");
	assert_int_equal(nheard, 1);
	assert_string_equal(metadata_attr("k"), "v");
	assert_true(w->busy);
	assert_non_null(strstr(w->path, "last_etag=bbbbbbbbbbbbbbbb"));

	/* 403 (every time), no flavor, over the limit: retried, logged once each */
	for (i = 0; i < 3; i++) {
		answer(w, 403, 1, NULL, "forbidden");
		assert_true(w->waiting);
		assert_string_equal(metadata_stats()->watch, "retrying");
		fire(w);
	}
	answer(w, 200, 0, "cccccccccccccccc", "{\"k\":\"evil\"}");
	assert_true(w->waiting);
	fire(w);
	{
		struct md_reply	 r;

		memset(&r, 0, sizeof(r));
		r.status = 200;
		r.flavor = 1;
		r.toobig = 1;
		strcpy(r.etag, "dddddddddddddddd");
		r.body = "{";
		r.len = 1;
		metadata_reply(w, &r);
	}
	assert_true(w->waiting);
	fire(w);
	answer(w, 404, 1, NULL, "");
	assert_true(w->waiting);
	fire(w);
	assert_string_equal(metadata_attr("k"), "v");
	assert_int_equal(nheard, 1);
	/* and it recovers */
	answer(w, 200, 1, "eeeeeeeeeeeeeeee", "{\"k\":\"v5\"}");
	assert_int_equal(nheard, 2);
	assert_string_equal(metadata_attr("k"), "v5");
	log = log_captured(fd);
	assert_int_equal(count(log, "malformed attributes JSON"), 1);
	assert_int_equal(count(log, "refused (status 403)"), 1);
	assert_int_equal(count(log, "without Metadata-Flavor"), 1);
	assert_int_equal(count(log, "over its size limit"), 1);
	assert_int_equal(count(log, "not found (404)"), 1);
	assert_non_null(strstr(log, "metadata: attributes: answered after"));
	free(log);
}

static void
project_fallback(void **state)
{
	(void)state;
	fresh();
	metadata_on_attributes(listener);
	metadata_start();
	answer(find("project/attributes/"), 200, 1, "pppppppppppppppp",
	    "{\"nestbox-network\":\"{\\\"mtu\\\":1400}\",\"nestbox-guests\":\"project\"}");
	assert_int_equal(nheard, 0);		/* no instance attributes yet */
	assert_string_equal(metadata_attr("nestbox-guests"), "project");
	answer(find("instance/attributes/"), 200, 1, "aaaaaaaaaaaaaaaa",
	    "{\"nestbox-guests\":\"instance\"}");
	assert_int_equal(nheard, 1);
	assert_string_equal(metadata_attr("nestbox-guests"), "instance");
	assert_string_equal(metadata_attr("nestbox-network"), "{\"mtu\":1400}");
	assert_null(metadata_attr("missing"));
	assert_int_equal(metadata_attrs(1)->n, 2);
	assert_int_equal(metadata_attrs(0)->n, 1);
}

/* --- metadata_watch ------------------------------------------------------ */

struct heard {
	int	 n;
	char	 last[64];	/* "(unset)" for NULL */
};

static void
watcher(const char *v, void *arg)
{
	struct heard	*h = arg;

	h->n++;
	snprintf(h->last, sizeof(h->last), "%s", v != NULL ? v : "(unset)");
}

static void
watch_changes(void **state)
{
	struct heard	 net = { 0, "" }, guests = { 0, "" }, net2 = { 0, "" };
	struct md_req	*w;

	(void)state;
	fresh();
	assert_int_equal(metadata_watch("nestbox-network", watcher, &net), 0);
	assert_int_equal(metadata_watch("nestbox-guests", watcher, &guests), 0);
	assert_int_equal(metadata_watch("nestbox-network", watcher, &net2), 0);
	metadata_start();
	/* the project's first: nobody is told before the instance's are in */
	answer(find("project/attributes/"), 200, 1, "pppppppppppppppp", "{}");
	assert_int_equal(net.n + guests.n + net2.n, 0);

	/* the first attributes: every watcher once, set or not */
	w = find("instance/attributes/");
	answer(w, 200, 1, "aaaaaaaaaaaaaaaa", "{\"nestbox-guests\":\"g1\",\"k\":\"v\"}");
	assert_int_equal(net.n, 1);
	assert_string_equal(net.last, "(unset)");
	assert_int_equal(guests.n, 1);
	assert_string_equal(guests.last, "g1");
	assert_int_equal(net2.n, 1);

	/* another key changed: not them */
	answer(w, 200, 1, "bbbbbbbbbbbbbbbb", "{\"nestbox-guests\":\"g1\",\"k\":\"v2\"}");
	assert_int_equal(net.n, 1);
	assert_int_equal(guests.n, 1);

	/* a change of one key: its watchers, each once */
	answer(w, 200, 1, "cccccccccccccccc", "{\"nestbox-guests\":\"g1\",\"nestbox-network\":\"{}\"}");
	assert_int_equal(net.n, 2);
	assert_string_equal(net.last, "{}");
	assert_int_equal(net2.n, 2);
	assert_int_equal(guests.n, 1);

	/* unset */
	answer(w, 200, 1, "dddddddddddddddd", "{\"nestbox-network\":\"{}\"}");
	assert_int_equal(guests.n, 2);
	assert_string_equal(guests.last, "(unset)");
	assert_int_equal(net.n, 2);

	/* a project value fills in for the unset instance one; an instance one wins */
	answer(find("project/attributes/"), 200, 1, "qqqqqqqqqqqqqqqq",
	    "{\"nestbox-guests\":\"project\",\"nestbox-network\":\"{\\\"mtu\\\":1400}\"}");
	assert_int_equal(guests.n, 3);
	assert_string_equal(guests.last, "project");
	assert_int_equal(net.n, 2);	/* the instance's {} still */
	answer(w, 200, 1, "eeeeeeeeeeeeeeee", "{}");
	assert_int_equal(net.n, 3);
	assert_string_equal(net.last, "{\"mtu\":1400}");
	assert_int_equal(guests.n, 3);	/* the project's, unchanged */
	answer(w, 200, 1, "ffffffffffffffff", "{\"nestbox-guests\":\"project\"}");
	assert_int_equal(guests.n, 3);	/* the same value, from elsewhere: no change */

	/* a broken document changes nothing */
	answer(w, 200, 1, "gggggggggggggggg", "{\"nestbox-guests\":");
	assert_int_equal(guests.n + net.n, 3 + 3);
}

static void
watch_late_and_bad(void **state)
{
	struct heard	 h = { 0, "" };
	size_t		 i;

	(void)state;
	fresh();
	assert_int_equal(metadata_watch("", watcher, &h), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(metadata_watch("a/b", watcher, &h), -1);
	assert_int_equal(errno, EINVAL);
	metadata_start();
	answer(find("instance/attributes/"), 200, 1, "aaaaaaaaaaaaaaaa", "{\"k\":\"v\"}");
	/* after the first attributes: told at once */
	assert_int_equal(metadata_watch("k", watcher, &h), 0);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.last, "v");
	for (i = 1; i < MD_WATCHERS; i++)
		assert_int_equal(metadata_watch("k", watcher, &h), 0);
	assert_int_equal(metadata_watch("k", watcher, &h), -1);
	assert_int_equal(errno, ENOSPC);
	/* and metadata_init() forgets them */
	fresh();
	metadata_start();
	answer(find("instance/attributes/"), 200, 1, "aaaaaaaaaaaaaaaa", "{\"k\":\"v\"}");
	assert_int_equal(h.n, MD_WATCHERS);
}

static int	 stats_calls;

static void
on_stats(void)
{
	stats_calls++;
}

/* status.c is told through metadata_on_stats(); metadata.c calls nothing above it */
static void
stats_callback(void **state)
{
	(void)state;
	fresh();
	stats_calls = 0;
	metadata_start();
	answer(find("instance/hostname"), 200, 1, NULL, "vm1");
	assert_int_equal(stats_calls, 0);	/* none registered */
	metadata_on_stats(on_stats);
	answer(find("instance/scheduling/preemptible"), 200, 1, NULL, "FALSE");
	assert_true(stats_calls >= 1);
	stats_calls = 0;
	answer(find("instance/attributes/"), 200, 1, "aaaaaaaaaaaaaaaa", "{}");
	assert_true(stats_calls >= 1);
	fresh();
	stats_calls = 0;
	metadata_start();
	answer(find("instance/hostname"), 200, 1, NULL, "vm1");
	assert_int_equal(stats_calls, 0);	/* metadata_init() forgot it */
}

static int	 alias_calls;

static void
on_aliases(void)
{
	alias_calls++;
}

static void
aliases_and_scheduling(void **state)
{
	const char *const *v;
	size_t	 n;

	(void)state;
	fresh();
	alias_calls = 0;
	metadata_on_aliases(on_aliases);
	metadata_start();
	assert_int_equal(metadata_stats()->preemptible, -1);
	answer(find("instance/scheduling/preemptible"), 200, 1, NULL, "TRUE");
	assert_int_equal(metadata_stats()->preemptible, 1);
	/* not read yet: not known, which is not "none" */
	assert_int_equal(metadata_aliases(&v, &n), -1);
	assert_int_equal(errno, ENOENT);
	answer(find("instance/network-interfaces/0/ip-aliases/"), 200, 1, "aaaaaaaaaaaaaaaa",
	    "[\"10.128.16.0/28\"]");
	assert_int_equal(metadata_aliases(&v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "10.128.16.0/28");
	assert_int_equal(alias_calls, 1);
}

/*
 * Everything that can change is watched: the project attributes, the alias
 * ranges, the maintenance event, preemption; each is retried on any error.
 */
static void
watches_and_lifecycle(void **state)
{
	struct md_req	*p, *m;
	const char *const *v;
	size_t		 n;
	int		 fd = log_capture();
	char		*log;

	(void)state;
	fresh();
	alias_calls = 0;
	npreempted = 0;
	metadata_on_aliases(on_aliases);
	metadata_start();
	answer(find("instance/attributes/"), 200, 1, "aaaaaaaaaaaaaaaa", "{}");
	/* the project's: read, then waited on with its ETag */
	answer(find("project/attributes/"), 200, 1, "pppppppppppppppp", "{\"k\":\"1\"}");
	p = find("project/attributes/");
	assert_string_equal(p->path, "project/attributes/?recursive=true&alt=json"
	    "&wait_for_change=true&last_etag=pppppppppppppppp&timeout_sec=60");
	assert_int_equal(p->timeout, 70000);
	assert_string_equal(metadata_attr("k"), "1");
	/* a change comes back from the wait */
	answer(p, 200, 1, "qqqqqqqqqqqqqqqq", "{\"k\":\"2\"}");
	assert_string_equal(metadata_attr("k"), "2");
	/* 403, then a 5xx without the flavor: retried, with backoff, each time */
	p = find("project/attributes/");
	answer(p, 403, 1, NULL, "");
	assert_true(p->waiting);
	fire(p);
	answer(p, 503, 0, NULL, "");
	assert_true(p->waiting);
	assert_int_equal(p->attempt, 2);
	fire(p);
	answer(p, 200, 1, "rrrrrrrrrrrrrrrr", "{\"k\":\"3\"}");
	assert_false(p->waiting);
	assert_int_equal(p->attempt, 0);
	assert_string_equal(metadata_attr("k"), "3");
	assert_non_null(strstr(find("project/attributes/")->path, "last_etag=rrrrrrrrrrrrrrrr"));
	/* the same ETag back at once: a server that does not wait; backed off */
	answer(p, 200, 1, "rrrrrrrrrrrrrrrr", "{\"k\":\"3\"}");
	assert_true(p->waiting);
	fire(p);

	/* the alias ranges: watched, each change told */
	answer(find("instance/network-interfaces/0/ip-aliases/"), 200, 1, "aaaaaaaaaaaaaaaa",
	    "[\"10.128.16.0/28\"]");
	assert_int_equal(alias_calls, 1);
	assert_non_null(strstr(find("instance/network-interfaces/0/ip-aliases/")->path,
	    "wait_for_change=true&last_etag=aaaaaaaaaaaaaaaa"));
	answer(find("instance/network-interfaces/0/ip-aliases/"), 200, 1, "bbbbbbbbbbbbbbbb",
	    "[\"10.128.16.0/28\",\"10.128.17.0/28\"]");
	assert_int_equal(alias_calls, 2);
	assert_int_equal(metadata_aliases(&v, &n), 0);
	assert_int_equal(n, 2);
	/* none (404): known, empty, read again later */
	answer(find("instance/network-interfaces/0/ip-aliases/"), 404, 1, NULL, "");
	assert_int_equal(alias_calls, 3);
	assert_int_equal(metadata_aliases(&v, &n), 0);
	assert_int_equal(n, 0);
	assert_true(find("instance/network-interfaces/0/ip-aliases/")->waiting);

	/* the maintenance event: a value, waited on; logged and in the stats */
	m = find("instance/maintenance-event");
	answer(m, 200, 1, "1111111111111111", "NONE");
	assert_string_equal(metadata_stats()->maintenance, "NONE");
	assert_string_equal(m->path, "instance/maintenance-event?wait_for_change=true"
	    "&last_etag=1111111111111111&timeout_sec=60");
	answer(m, 200, 1, "2222222222222222", "MIGRATE_ON_HOST_MAINTENANCE");
	assert_string_equal(metadata_stats()->maintenance, "MIGRATE_ON_HOST_MAINTENANCE");
	answer(m, 200, 1, "3333333333333333", "bad value");
	assert_string_equal(metadata_stats()->maintenance, "MIGRATE_ON_HOST_MAINTENANCE");
	answer(m, 200, 1, "4444444444444444", "NONE");
	assert_string_equal(metadata_stats()->maintenance, "NONE");

	/* preempted: once TRUE, the shutdown is asked for, once */
	answer(find("instance/preempted"), 200, 1, "5555555555555555", "FALSE");
	assert_int_equal(npreempted, 0);
	assert_int_equal(metadata_stats()->preempted, 0);
	answer(find("instance/preempted"), 200, 1, "6666666666666666", "TRUE");
	assert_int_equal(npreempted, 1);
	assert_int_equal(metadata_stats()->preempted, 1);
	assert_int_equal(metadata_stats()->preemptible, 1);	/* the 25 s stop */
	answer(find("instance/preempted"), 200, 1, "7777777777777777", "TRUE");
	assert_int_equal(npreempted, 1);
	log = log_captured(fd);
	assert_non_null(strstr(log, "nestbox: warning: metadata: maintenance event: "
	    "MIGRATE_ON_HOST_MAINTENANCE\n"));
	assert_non_null(strstr(log, "metadata: maintenance event over (MIGRATE_ON_HOST_MAINTENANCE)\n"));
	assert_non_null(strstr(log, "metadata: maintenance event: not a maintenance event"));
	assert_non_null(strstr(log, "nestbox: warning: metadata: preempted: GCE stops this VM "
	    "in about 30 s\n"));
	assert_int_equal(count(log, "refused (status 403)"), 1);
	free(log);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(classify),
	cmocka_unit_test(backoff_schedule),
	cmocka_unit_test(hostname_validation),
	cmocka_unit_test(keys_and_etags),
	cmocka_unit_test(attributes_parse),
	cmocka_unit_test(aliases),
	cmocka_unit_test(start_sends_everything),
	cmocka_unit_test(hostname_set_at_boot),
	cmocka_unit_test(hostname_refused),
	cmocka_unit_test(retry_503_then_success),
	cmocka_unit_test(transport_failure_retries),
	cmocka_unit_test(watch_etags),
	cmocka_unit_test(watch_bad_replies),
	cmocka_unit_test(project_fallback),
	cmocka_unit_test(watch_changes),
	cmocka_unit_test(watch_late_and_bad),
	cmocka_unit_test(stats_callback),
	cmocka_unit_test(aliases_and_scheduling),
	cmocka_unit_test(watches_and_lifecycle),
};
const struct suite metadata_suite = { tests, NTESTS(tests) };
