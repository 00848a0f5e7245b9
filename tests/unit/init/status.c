/*
 * status.json (golden), the default gateway from /proc/net/route, the token
 * bucket, the guest attribute nestbox/status, and md/ga.c, which writes it:
 * only when enabled, coalesced, rate limited. The metadata client runs on a
 * fake transport.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "md/md-internal.h"

static struct md_req	*sent[64];
static size_t		 nsent;

static int
fake_start(struct md_req *req)
{
	assert_true(nsent < NTESTS(sent));
	sent[nsent++] = req;
	return 0;
}

static const struct md_ops fake = { fake_start, NULL, NULL, NULL };

static const char *
kvm_ok(void)
{
	return "ok";
}

static const char *
kvm_missing(void)
{
	return "no VMX or SVM: enable nested virtualization";
}

static void
answer(struct md_req *req, long status, const char *etag, const char *body)
{
	struct md_reply	 r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.flavor = 1;
	snprintf(r.etag, sizeof(r.etag), "%s", etag ? etag : "");
	r.body = body ? body : "";
	r.len = strlen(r.body);
	metadata_reply(req, &r);
}

static struct md_req *
last(const char *prefix)
{
	size_t	 i;

	for (i = nsent; i-- > 0;)
		if (strncmp(sent[i]->path, prefix, strlen(prefix)) == 0)
			return sent[i];
	return NULL;
}

static size_t
puts_sent(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < nsent; i++)
		if (strcmp(sent[i]->path, STATUS_GA_PATH) == 0)
			n++;
	return n;
}

static int	 guests = 1;

static void
render_guests(struct cJSON *obj, int brief)
{
	cJSON_AddNumberToObject(obj, "running", guests);
	if (!brief)
		cJSON_AddNumberToObject(obj, "restarts", 7);
}

static struct status_section guests_section = { "guests", render_guests, NULL };

/* metadata and status from scratch; the file goes to path, or nowhere */
static void
fresh(const char *path, const char *(*kvm)(void))
{
	static char		 nowhere[4096];
	struct status_conf	 c = { path, kvm, "nb-none0", NULL };

	if (path == NULL) {
		/* a file in a directory that is not there, never STATUS_PATH */
		snprintf(nowhere, sizeof(nowhere), "/proc/self/nestbox-unit/status.json");
		c.path = nowhere;
	}

	nsent = 0;
	guests = 1;
	metadata_init(&fake);
	assert_int_equal(status_init(&c), 0);
}

static void
bucket_limits(void **state)
{
	struct bucket	 b = { STATUS_GA_EVERY, STATUS_GA_BURST, 0 };
	uint64_t	 t, takes[200];
	size_t		 n = 0, i, j;

	(void)state;
	/* a burst of 3, then one every 7.5 s */
	t = 1000;
	assert_int_equal(bucket_take(&b, t), 0);
	assert_int_equal(bucket_take(&b, t), 0);
	assert_int_equal(bucket_take(&b, t), 0);
	assert_int_equal(bucket_take(&b, t), STATUS_GA_EVERY);
	assert_int_equal(bucket_take(&b, t + STATUS_GA_EVERY - 1), 1);
	assert_int_equal(bucket_take(&b, t + STATUS_GA_EVERY), 0);
	assert_int_equal(bucket_take(&b, t + STATUS_GA_EVERY), STATUS_GA_EVERY);
	/* idle for long: the burst is back, no more */
	t += 600000;
	for (i = 0; i < 3; i++)
		assert_int_equal(bucket_take(&b, t), 0);
	assert_true(bucket_take(&b, t) > 0);

	/* someone asking every 100 ms for 10 minutes: GCE's limit, 10 in any
	 * minute (the first burst included) and no more than 3 in a second */
	memset(&b, 0, sizeof(b));
	b.every = STATUS_GA_EVERY;
	b.burst = STATUS_GA_BURST;
	for (t = 0; t < 600000; t += 100)
		if (bucket_take(&b, t) == 0 && n < NTESTS(takes))
			takes[n++] = t;
	assert_int_equal(n, 3 + 600000 / STATUS_GA_EVERY - 1);
	for (i = 0; i < n; i++) {
		for (j = i; j < n && takes[j] < takes[i] + 60000; j++)
			;
		assert_true(j - i <= 10);
		for (j = i; j < n && takes[j] < takes[i] + 1000; j++)
			;
		assert_true(j - i <= 3);
	}
}

static void
default_gateway(void **state)
{
	static const char route[] =
	    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	    "eth0\t0100800A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
	    "virbr0\t007AA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	    "eth1\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	    "eth0\t00000000\t0100800A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
	uint32_t	 gw;
	unsigned char	*b = (unsigned char *)&gw;

	(void)state;
	assert_int_equal(route_gateway(route, "eth0", &gw), 0);
	assert_int_equal(b[0], 10);
	assert_int_equal(b[1], 128);
	assert_int_equal(b[2], 0);
	assert_int_equal(b[3], 1);
	assert_int_equal(route_gateway(route, "eth1", &gw), 0);
	assert_int_equal(b[0], 192);
	assert_int_equal(route_gateway(route, "virbr0", &gw), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(route_gateway("", "eth0", &gw), -1);
	assert_int_equal(route_gateway("garbage\n\n\tx", "eth0", &gw), -1);
}

static void
status_golden(void **state)
{
	cJSON	*doc, *md;
	char	*s;

	(void)state;
	fresh(NULL, kvm_missing);
	s = status_render(0);
	golden("status-boot.json", s);
	free(s);

	/* after boot: hostname, attributes, a section of another subsystem */
	fresh(NULL, kvm_ok);
	status_section_add(&guests_section);
	status_section_add(&guests_section);	/* once only */
	metadata_start();
	answer(last("instance/hostname"), 200, NULL, "nestbox-1.c.p.internal");
	answer(last("instance/attributes/"), 200, "0123456789abcdef", "{\"k\":\"v\"}");
	answer(last("instance/scheduling/"), 503, NULL, "");
	answer(last("instance/maintenance-event"), 200, "1111111111111111",
	    "MIGRATE_ON_HOST_MAINTENANCE");
	answer(last("instance/preempted"), 200, "2222222222222222", "FALSE");
	/* the one number that is not the same from run to run */
	assert_non_null(doc = cJSON_Parse(s = status_render(0)));
	free(s);
	md = cJSON_GetObjectItem(doc, "metadata");
	assert_true(cJSON_GetObjectItem(md, "first_reply_ms")->valuedouble > 0);
	cJSON_ReplaceItemInObject(md, "first_reply_ms", cJSON_CreateNumber(1234));
	s = cJSON_Print(doc);
	cJSON_Delete(doc);
	golden("status-running.json", s);
	free(s);
	s = status_render(1);
	assert_string_equal(s, "{\"version\":\"" NESTBOX_VERSION "\","
	    "\"kvm\":{\"available\":true,\"status\":\"ok\"},"
	    "\"network\":{\"interface\":\"nb-none0\",\"address\":null,\"gateway\":null,\"mtu\":null},"
	    "\"metadata\":{\"watch\":\"watching\",\"etag\":\"0123456789abcdef\",\"hostname\":\"nestbox-1\","
	    "\"maintenance_event\":\"MIGRATE_ON_HOST_MAINTENANCE\",\"preempted\":false},"
	    "\"guests\":{\"running\":1}}");
	free(s);
}

static void
status_file(void **state)
{
	char		*dir = tmpdir(), path[4096], *text;
	struct stat	 st;
	cJSON		*doc;

	(void)state;
	snprintf(path, sizeof(path), "%s/sub/status.json", dir);
	fresh(path, kvm_ok);
	assert_int_equal(status_write(), 0);
	assert_non_null(text = read_file(path, 1 << 20, NULL));
	assert_non_null(doc = cJSON_Parse(text));
	assert_string_equal(cJSON_GetObjectItem(doc, "version")->valuestring, NESTBOX_VERSION);
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(doc, "metadata")));
	cJSON_Delete(doc);
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	strcat(path, ".tmp");
	assert_int_equal(access(path, F_OK), -1);
	/* status_changed() writes once, a moment later, from the event loop */
	snprintf(path, sizeof(path), "%s/sub/status.json", dir);
	unlink(path);
	status_changed();
	status_changed();
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(event_once(1000), 1);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(event_once(300), 0);
	rmtree(dir);
}

static void
guest_attributes(void **state)
{
	char		*dir = tmpdir(), path[4096];
	struct md_req	*put;
	cJSON		*doc;

	(void)state;
	snprintf(path, sizeof(path), "%s/status.json", dir);
	fresh(path, kvm_ok);
	status_section_add(&guests_section);
	metadata_start();

	/* not enabled: nothing is written */
	answer(last("instance/attributes/"), 200, "aaaaaaaaaaaaaaaa", "{}");
	status_write();
	assert_int_equal(puts_sent(), 0);

	/* enabled by the project, case-insensitively */
	answer(last("project/attributes/"), 200, "pppppppppppppppp",
	    "{\"enable-guest-attributes\":\"true\"}");
	status_write();
	assert_int_equal(puts_sent(), 1);
	put = last(STATUS_GA_PATH);
	assert_non_null(put->put);
	assert_true(put->once);
	assert_non_null(doc = cJSON_Parse(put->put));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metadata"), "requests"));
	cJSON_Delete(doc);
	/* the same state again: not written again */
	status_write();
	assert_int_equal(puts_sent(), 1);

	/* while it is in flight, changes coalesce: only the latest goes next */
	guests = 2;
	status_write();
	guests = 3;
	status_write();
	assert_int_equal(puts_sent(), 1);
	answer(put, 200, NULL, "");
	assert_int_equal(puts_sent(), 2);
	assert_non_null(strstr(put->put, "\"running\":3"));

	/* a 503 is not retried at once: the bucket decides */
	answer(put, 503, NULL, "");
	assert_int_equal(puts_sent(), 3);	/* the third token of the burst */
	assert_non_null(strstr(put->put, "\"running\":3"));
	answer(put, 200, NULL, "");
	guests = 4;
	status_write();
	assert_int_equal(puts_sent(), 3);	/* no token: waits for the timer */
	guests = 5;
	status_write();
	assert_int_equal(puts_sent(), 3);

	/* an instance FALSE overrides the project's TRUE */
	answer(last("instance/attributes/"), 200, "bbbbbbbbbbbbbbbb",
	    "{\"enable-guest-attributes\":\"FALSE\"}");
	guests = 6;
	status_write();
	assert_int_equal(puts_sent(), 3);
	rmtree(dir);
	/* off again, timers disarmed, for the suites that follow */
	assert_int_equal(status_init(NULL), 0);
	metadata_init(&fake);
}

/* core/proc.c's */

static void
proc_status(void **state)
{
	static const char status[] =
	    "Name:\tinit\n"
	    "Umask:\t0022\n"
	    "State:\tS (sleeping)\n"
	    "VmPeak:\t    2336 kB\n"
	    "VmRSSx:\t      1 kB\n"
	    "VmHWM:\t    1404 kB\n"
	    "VmRSS:\t    1380 kB\n"
	    "RssAnon:\t     104 kB\n"
	    "Threads:\t1\n";
	unsigned long	 kib = 7;
	char		*text;

	(void)state;
	assert_int_equal(proc_status_kib(status, "VmRSS", &kib), 0);
	assert_int_equal(kib, 1380);
	assert_int_equal(proc_status_kib(status, "VmHWM", &kib), 0);
	assert_int_equal(kib, 1404);
	assert_int_equal(proc_status_kib(status, "Name", &kib), -1);	/* not kB */
	assert_int_equal(errno, EINVAL);
	assert_int_equal(proc_status_kib(status, "Threads", &kib), -1);
	assert_int_equal(errno, EINVAL);
	/* a prefix of a field is not the field; the first line counts too */
	assert_int_equal(proc_status_kib(status, "VmRS", &kib), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(proc_status_kib("VmRSS:\t5 kB", "VmRSS", &kib), 0);
	assert_int_equal(kib, 5);
	/* a kernel thread has no VmRSS; an empty or odd file */
	assert_int_equal(proc_status_kib("Name:\tkthreadd\nThreads:\t1\n", "VmRSS", &kib), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(proc_status_kib("", "VmRSS", &kib), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(proc_status_kib("VmRSS:\n", "VmRSS", &kib), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(proc_status_kib("VmRSS:\t-5 kB\n", "VmRSS", &kib), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(proc_status_kib("VmRSS:\t12 MB\n", "VmRSS", &kib), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(proc_status_kib("VmRSS:\t12 kBx\n", "VmRSS", &kib), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(proc_status_kib("VmRSS:\t99999999999999999999999 kB\n", "VmRSS", &kib), -1);
	assert_int_equal(errno, ERANGE);
	/* and this process's own */
	assert_non_null(text = read_file("/proc/self/status", 1 << 16, NULL));
	assert_int_equal(proc_status_kib(text, "VmRSS", &kib), 0);
	assert_true(kib > 0);
	free(text);
}

/* --- the guest-attribute writer (md/ga.c) --------------------------------- */

#define GA_T1	"instance/guest-attributes/nestbox/guest-t1"
#define GA_T2	"instance/guest-attributes/nestbox/guest-t2"

static uint64_t	 fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

static size_t
puts_to(const char *path)
{
	size_t	 i, n = 0;

	for (i = 0; i < nsent; i++)
		if (strcmp(sent[i]->path, path) == 0)
			n++;
	return n;
}

/* metadata with guest attributes on (or not), a fake clock at 1 s */
static void
ga_fresh(int enabled)
{
	nsent = 0;
	fake_now = 1000;
	ga_clock(fake_clock);
	metadata_init(&fake);
	metadata_start();
	answer(last("instance/attributes/"), 200, "aaaaaaaaaaaaaaaa", enabled ?
	    "{\"enable-guest-attributes\":\"TRUE\"}" : "{}");
}

static void
ga_done_with(void)
{
	ga_close("nestbox/guest-t1");
	ga_close("nestbox/guest-t2");
	ga_clock(NULL);
	metadata_init(&fake);
}

static void
ga_rate_and_latest(void **state)
{
	struct md_req	*p;
	char		 v[32];
	int		 i;

	(void)state;
	ga_fresh(1);
	assert_int_equal(ga_set("nestbox/guest-t1", "x"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ga_open("nestbox/guest-t1", "guest attribute", 0), 0);
	assert_int_equal(ga_open("nestbox/guest-t2", "guest attribute", 0), 0);

	/* a burst of 3, each answered */
	for (i = 0; i < 3; i++) {
		snprintf(v, sizeof(v), "{\"n\":%d}", i);
		assert_int_equal(ga_set("nestbox/guest-t1", v), 0);
		assert_int_equal(puts_to(GA_T1), (size_t)i + 1);
		p = last(GA_T1);
		assert_string_equal(p->put, v);
		assert_false(p->del);
		assert_string_equal(p->name, "guest attribute");
		assert_true(p->once);
		answer(p, 200, NULL, "");
	}
	/* then one every 7.5 s for the whole L1: newer values replace older
	 * ones while they wait, and another key waits in the same line */
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":3}"), 0);
	fake_now += 10;
	assert_int_equal(ga_set("nestbox/guest-t2", "t2"), 0);
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":4}"), 0);
	assert_int_equal(puts_to(GA_T1), 3);
	assert_int_equal(puts_to(GA_T2), 0);
	fake_now += STATUS_GA_EVERY - 11;
	ga_kick();
	assert_int_equal(puts_to(GA_T1), 3);
	fake_now += 1;
	ga_kick();		/* what the timer does */
	/* t1 waited longest: it goes, with its latest */
	assert_int_equal(puts_to(GA_T1), 4);
	assert_int_equal(puts_to(GA_T2), 0);
	p = last(GA_T1);
	assert_string_equal(p->put, "{\"n\":4}");
	answer(p, 200, NULL, "");
	/* t1 changes again: t2 has waited longer and goes first */
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":5}"), 0);
	fake_now += STATUS_GA_EVERY;
	ga_kick();
	assert_int_equal(puts_to(GA_T2), 1);
	assert_int_equal(puts_to(GA_T1), 4);
	answer(last(GA_T2), 200, NULL, "");
	fake_now += STATUS_GA_EVERY;
	ga_kick();
	assert_int_equal(puts_to(GA_T1), 5);
	p = last(GA_T1);
	assert_string_equal(p->put, "{\"n\":5}");

	/* in flight: the latest set goes next, the one between never */
	fake_now += 60000;
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":6}"), 0);
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":7}"), 0);
	assert_int_equal(puts_to(GA_T1), 5);
	answer(p, 200, NULL, "");
	assert_int_equal(puts_to(GA_T1), 6);
	assert_string_equal(last(GA_T1)->put, "{\"n\":7}");
	answer(last(GA_T1), 200, NULL, "");

	/* the same as the last one written: not again */
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":7}"), 0);
	assert_int_equal(puts_to(GA_T1), 6);
	/* the same as the one waiting: not again */
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":8}"), 0);
	assert_int_equal(puts_to(GA_T1), 7);
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":9}"), 0);
	assert_int_equal(ga_set("nestbox/guest-t1", "{\"n\":9}"), 0);
	answer(last(GA_T1), 200, NULL, "");
	assert_int_equal(puts_to(GA_T1), 8);
	assert_string_equal(last(GA_T1)->put, "{\"n\":9}");
	answer(last(GA_T1), 200, NULL, "");
	ga_done_with();
}

static void
ga_failures(void **state)
{
	struct md_req	*p;

	(void)state;
	ga_fresh(1);
	/* status.c's way: a 503 is sent again when the budget allows ... */
	assert_int_equal(ga_open("nestbox/guest-t1", "guest attributes", 0), 0);
	assert_int_equal(ga_set("nestbox/guest-t1", "a"), 0);
	answer(last(GA_T1), 503, NULL, "");
	assert_int_equal(puts_to(GA_T1), 2);
	assert_string_equal(last(GA_T1)->put, "a");
	/* ... unless a newer one waits: that goes instead */
	assert_int_equal(ga_set("nestbox/guest-t1", "b"), 0);
	answer(last(GA_T1), 503, NULL, "");
	assert_int_equal(puts_to(GA_T1), 3);
	assert_string_equal(last(GA_T1)->put, "b");
	/* a refusal (403: off for this VM) counts as written */
	answer(last(GA_T1), 403, NULL, "");
	fake_now += 60000;
	assert_int_equal(ga_set("nestbox/guest-t1", "b"), 0);
	assert_int_equal(puts_to(GA_T1), 3);

	/* GA_DROP_FAILED, the guests' way: not retried, and not written */
	assert_int_equal(ga_open("nestbox/guest-t2", "guest attribute", GA_DROP_FAILED), 0);
	assert_int_equal(ga_set("nestbox/guest-t2", "c"), 0);
	p = last(GA_T2);
	answer(p, 503, NULL, "");
	assert_int_equal(puts_to(GA_T2), 1);
	assert_int_equal(ga_set("nestbox/guest-t2", "c"), 0);	/* so the same goes again */
	assert_int_equal(puts_to(GA_T2), 2);
	answer(last(GA_T2), 403, NULL, "");
	fake_now += 60000;
	assert_int_equal(ga_set("nestbox/guest-t2", "c"), 0);
	assert_int_equal(puts_to(GA_T2), 3);
	answer(last(GA_T2), 200, NULL, "");
	assert_int_equal(ga_set("nestbox/guest-t2", "c"), 0);
	assert_int_equal(puts_to(GA_T2), 3);
	ga_done_with();
}

static void
ga_disabled_and_closed(void **state)
{
	struct md_req	*p;
	size_t		 n;

	(void)state;
	ga_fresh(0);
	assert_int_equal(ga_open("nestbox/guest-t1", "guest attribute", 0), 0);
	assert_int_equal(ga_set("nestbox/guest-t1", "a"), 0);
	assert_int_equal(puts_to(GA_T1), 0);
	/* closed before anything was written: nothing to delete */
	ga_close("nestbox/guest-t1");
	assert_int_equal(puts_to(GA_T1), 0);
	assert_int_equal(ga_open("nestbox/guest-t1", "guest attribute", 0), 0);
	/* turned on: the next value goes */
	answer(last("instance/attributes/"), 200, "bbbbbbbbbbbbbbbb",
	    "{\"enable-guest-attributes\":\"true\"}");
	assert_int_equal(ga_set("nestbox/guest-t1", "a"), 0);
	assert_int_equal(puts_to(GA_T1), 1);
	p = last(GA_T1);
	/* closed in flight: what waits is dropped; once the write is answered
	 * the attribute is deleted (a removed guest's must not stay) */
	assert_int_equal(ga_set("nestbox/guest-t1", "b"), 0);
	ga_close("nestbox/guest-t1");
	assert_int_equal(ga_set("nestbox/guest-t1", "c"), -1);
	assert_int_equal(errno, ENOENT);
	answer(p, 200, NULL, "");
	assert_int_equal(puts_to(GA_T1), 2);
	p = last(GA_T1);
	assert_true(p->del);
	assert_null(p->put);
	/* no answer at first: tried again (the burst's last token) */
	answer(p, 503, NULL, "");
	assert_int_equal(puts_to(GA_T1), 3);
	assert_true(last(GA_T1)->del);
	answer(last(GA_T1), 404, NULL, "");	/* gone: fine */
	assert_int_equal(event_once(1000), 1);	/* the timer that frees it */
	nsent = 0;				/* its request is gone with it */
	/* open again: nothing written yet */
	fake_now += 60000;
	assert_int_equal(ga_open("nestbox/guest-t1", "guest attribute", 0), 0);
	assert_int_equal(ga_set("nestbox/guest-t1", "a"), 0);
	assert_int_equal(puts_to(GA_T1), 1);
	answer(last(GA_T1), 200, NULL, "");
	/* closed and declared again before its DELETE went: not deleted */
	assert_int_equal(ga_set("nestbox/guest-t1", "b"), 0);
	answer(last(GA_T1), 200, NULL, "");
	assert_int_equal(ga_set("nestbox/guest-t1", "c"), 0);
	answer(last(GA_T1), 200, NULL, "");
	assert_int_equal(puts_to(GA_T1), 3);	/* the budget is spent */
	ga_close("nestbox/guest-t1");
	assert_int_equal(ga_open("nestbox/guest-t1", "guest attribute", 0), 0);
	assert_int_equal(ga_set("nestbox/guest-t1", "d"), 0);
	fake_now += 60000;
	n = nsent;
	assert_int_equal(event_once(1000), 1);	/* frees the old one: its requests go */
	ga_kick();
	assert_int_equal(nsent, n + 1);
	assert_true(sent[n] == last(GA_T1));
	assert_false(last(GA_T1)->del);
	assert_string_equal(last(GA_T1)->put, "d");
	answer(last(GA_T1), 200, NULL, "");
	/* a key too long for GCE's NAMESPACE/KEY */
	assert_int_equal(ga_open("nestbox/guest-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "x", 0), -1);
	assert_int_equal(errno, EINVAL);
	ga_done_with();
	nsent = 0;
	assert_int_equal(event_once(100), 0);	/* no timer left behind */
}

/*
 * 32 guests changing state at once, as the attribute writer sees them: each
 * goes pending, fetching, starting, running within a few seconds, and one
 * flaps every second for ten minutes; then half are removed. Every request
 * is answered at once. GCE's limit holds in every minute, every guest's
 * last state is written (none starves), and each removed one is deleted.
 */
#define MANY		32
#define MANY_MAX	400

static struct {
	uint64_t	 at[MANY_MAX];
	char		 path[MANY_MAX][512];
	int		 del[MANY_MAX];
	char		 last[MANY][32];	/* what the server has; "" none */
	size_t		 n;
	struct md_req	*open[MANY + 8];
	size_t		 nopen;
} srv;

static int
srv_start(struct md_req *req)
{
	if (strncmp(req->path, "instance/guest-attributes/", 26) == 0) {
		unsigned g;

		assert_true(srv.n < MANY_MAX);
		srv.at[srv.n] = fake_now;
		snprintf(srv.path[srv.n], sizeof(srv.path[0]), "%s", req->path);
		srv.del[srv.n] = req->put == NULL && req->del;
		srv.n++;

		assert_int_equal(sscanf(req->path, "instance/guest-attributes/nestbox/guest-g%u",
		    &g), 1);
		assert_true(g < MANY);
		snprintf(srv.last[g], sizeof(srv.last[g]), "%s", req->put != NULL ? req->put : "");
	}
	assert_true(srv.nopen < NTESTS(srv.open));
	srv.open[srv.nopen++] = req;
	return 0;
}

static const struct md_ops srv_ops = { srv_start, NULL, NULL, NULL };

static void
srv_answer(void)
{
	struct md_req	*r;

	while (srv.nopen > 0) {
		r = srv.open[--srv.nopen];
		answer(r, 200, strncmp(r->path, "instance/attributes/", 20) == 0 ?
		    "aaaaaaaaaaaaaaaa" : NULL, strncmp(r->path, "instance/attributes/", 20) == 0 ?
		    "{\"enable-guest-attributes\":\"TRUE\"}" : "");
	}
}

static void
ga_many_guests(void **state)
{
	static const char *const states[] = { "pending", "fetching", "starting", "running" };
	char		 key[64], want[32];
	size_t		 i, j, peak = 0, writes;
	unsigned	 g, k;
	uint64_t	 t0;

	(void)state;
	memset(&srv, 0, sizeof(srv));
	fake_now = 1000;
	ga_clock(fake_clock);
	metadata_init(&srv_ops);
	metadata_start();
	srv_answer();
	/* the guests are declared at once and move on, each at its own pace */
	for (g = 0; g < MANY; g++) {
		snprintf(key, sizeof(key), "nestbox/guest-g%u", g);
		assert_int_equal(ga_open(key, "guest attribute", GA_DROP_FAILED), 0);
	}
	t0 = fake_now;
	for (; fake_now < t0 + 600000; fake_now += 100) {
		for (g = 0; g < MANY; g++) {
			snprintf(key, sizeof(key), "nestbox/guest-g%u", g);
			k = (unsigned)((fake_now - t0) / (1000 + 100 * g));
			if (g == 0 && fake_now - t0 < 540000)	/* one flaps for 9 minutes */
				ga_set(key, (fake_now - t0) / 1000 % 2 ? "running" : "backing off");
			else
				ga_set(key, states[k < 3 ? k : 3]);
		}
		ga_kick();
		srv_answer();
	}
	/* GCE's limit, in every minute and every second */
	for (i = 0; i < srv.n; i++) {
		for (j = i; j < srv.n && srv.at[j] < srv.at[i] + 60000; j++)
			;
		if (j - i > peak)
			peak = j - i;
		for (j = i; j < srv.n && srv.at[j] < srv.at[i] + 1000; j++)
			;
		assert_true(j - i <= STATUS_GA_BURST);
	}
	writes = ga_writes();
	print_message("# 32 guests for 10 minutes: %zu attribute writes, at most %zu in a minute\n",
	    writes, peak);
	assert_true(peak <= 10);
	assert_true(writes <= 3 + 600000 / STATUS_GA_EVERY);
	/* every guest's last state reached the server, latest value */
	for (g = 1; g < MANY; g++)
		assert_string_equal(srv.last[g], "running");
	assert_true(strcmp(srv.last[0], "running") == 0);
	/* half removed: each deleted, within the budget */
	writes = ga_writes();
	for (g = 0; g < MANY; g += 2) {
		snprintf(key, sizeof(key), "nestbox/guest-g%u", g);
		ga_close(key);
	}
	t0 = fake_now;
	for (; fake_now < t0 + 300000; fake_now += 100) {
		ga_kick();
		srv_answer();
		event_once(0);
	}
	assert_int_equal(ga_writes() - writes, MANY / 2);
	for (i = j = 0; i < srv.n; i++)
		if (srv.del[i]) {
			assert_int_equal(sscanf(srv.path[i],
			    "instance/guest-attributes/nestbox/guest-g%u", &g), 1);
			assert_int_equal(g % 2, 0);
			j++;
		}
	assert_int_equal(j, MANY / 2);
	for (g = 1; g < MANY; g += 2) {
		snprintf(key, sizeof(key), "nestbox/guest-g%u", g);
		snprintf(want, sizeof(want), "%s", "running");
		assert_string_equal(srv.last[g], want);
		ga_close(key);
	}
	for (fake_now += 1; srv.nopen > 0 || ga_writes() - writes < MANY; fake_now += 100) {
		ga_kick();
		srv_answer();
	}
	ga_clock(NULL);
	event_once(0);
	metadata_init(&fake);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(bucket_limits),
	cmocka_unit_test(default_gateway),
	cmocka_unit_test(proc_status),
	cmocka_unit_test(status_golden),
	cmocka_unit_test(status_file),
	cmocka_unit_test(guest_attributes),
	cmocka_unit_test(ga_rate_and_latest),
	cmocka_unit_test(ga_failures),
	cmocka_unit_test(ga_disabled_and_closed),
	cmocka_unit_test(ga_many_guests),
};
const struct suite status_suite = { tests, NTESTS(tests) };
