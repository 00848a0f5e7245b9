/*
 * The appliance's status: /run/nestbox/status.json for the console command
 * and for people, and, when enable-guest-attributes is TRUE, a summary as
 * the guest attribute nestbox/status for whoever looks from outside GCE.
 *
 * Subsystems call status_changed(), the metadata client through
 * metadata_on_stats() (main.c wires it); the file is rewritten once a
 * moment later for any number of calls, atomically (write_file). The guest
 * attribute leaves out counters; ga.c writes it only when it differs from
 * the last one written, and keeps to GCE's limit (about 10 writes a minute,
 * bursts of 3); while it waits for a token, newer states replace older
 * ones, so the write that goes is the latest.
 *
 * Memory (VmRSS of PID 1 and of dnsmasq) is sampled at fixed points, 10 s
 * after status_init() and then every 10 minutes, not at each render: a
 * value that moves by the KiB would otherwise make most summaries differ
 * and spend the guest attribute's writes.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cjson/cJSON.h>

#include "md/md.h"
#include "md/md-internal.h"

#define WRITE_DELAY	100	/* ms: many changes at once, one write */
#define GA_MAX		4096	/* the summary; GCE takes more, nobody reads more */
#define MEM_FIRST	10000	/* ms after status_init: boot's work is done */
#define MEM_EVERY	600000	/* ms between later samples */

struct mem_sample {
	int		 taken;
	unsigned long	 pid1;		/* VmRSS, KiB */
	unsigned long	 dnsmasq;	/* 0: not running */
};

static struct status_conf	 conf;
static struct status_section	*sections;
static struct timer		 write_timer, mem_timer;
static int			 enabled, timers_ok, write_pending;
static struct mem_sample	 mem;

static void
render_network(cJSON *obj)
{
	struct ifaddrs	*ifa, *i;
	struct in_addr	 a;
	char		 path[128], buf[64], addr[sizeof(buf) + 16], *text;
	uint32_t	 mask, gw;
	int		 prefix;

	cJSON_AddStringToObject(obj, "interface", conf.ifname);
	addr[0] = '\0';
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
			    strcmp(i->ifa_name, conf.ifname) != 0)
				continue;
			a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			mask = i->ifa_netmask ?
			    ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr) : 0;
			for (prefix = 0; mask & 0x80000000u; mask <<= 1)
				prefix++;
			inet_ntop(AF_INET, &a, buf, sizeof(buf));
			snprintf(addr, sizeof(addr), "%s/%d", buf, prefix);
			break;
		}
		freeifaddrs(ifa);
	}
	if (addr[0] != '\0')
		cJSON_AddStringToObject(obj, "address", addr);
	else
		cJSON_AddNullToObject(obj, "address");
	if ((text = read_file("/proc/net/route", 1 << 20, NULL)) != NULL &&
	    route_gateway(text, conf.ifname, &gw) == 0) {
		a.s_addr = gw;
		cJSON_AddStringToObject(obj, "gateway", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
	} else
		cJSON_AddNullToObject(obj, "gateway");
	free(text);
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", conf.ifname);
	if (read_head(path, buf, sizeof(buf)) > 0)
		cJSON_AddNumberToObject(obj, "mtu", atoi(buf));
	else
		cJSON_AddNullToObject(obj, "mtu");
}

/* VmRSS of pid (0: this process) in KiB; 0 if it can not be read. */
static unsigned long
rss_kib(pid_t pid)
{
	char		 path[64], *text;
	unsigned long	 kib = 0;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((text = read_file(path, 1 << 16, NULL)) == NULL)
		return 0;
	if (proc_status_kib(text, "VmRSS", &kib) == -1)
		kib = 0;
	free(text);
	return kib;
}

static void
mem_fire(struct timer *t)
{
	pid_t	 pid = conf.dnsmasq_pid ? conf.dnsmasq_pid() : 0;

	(void)t;
	mem.pid1 = rss_kib(0);
	mem.dnsmasq = pid > 0 ? rss_kib(pid) : 0;
	mem.taken = 1;
	timer_set(&mem_timer, MEM_EVERY);
	status_changed();
}

static void
render_memory(cJSON *obj)
{
	cJSON_AddNumberToObject(obj, "pid1_rss_kib", mem.pid1);
	if (mem.dnsmasq > 0)
		cJSON_AddNumberToObject(obj, "dnsmasq_rss_kib", mem.dnsmasq);
	else
		cJSON_AddNullToObject(obj, "dnsmasq_rss_kib");
}

static void
render_metadata(cJSON *obj, int brief)
{
	const struct md_stats	*s = metadata_stats();

	cJSON_AddStringToObject(obj, "watch", s->watch ? s->watch : "idle");
	cJSON_AddStringToObject(obj, "etag", s->etag);
	if (s->hostname[0] != '\0')
		cJSON_AddStringToObject(obj, "hostname", s->hostname);
	if (s->preemptible >= 0)
		cJSON_AddBoolToObject(obj, "preemptible", s->preemptible);
	/* GCE's lifecycle: "NONE", "MIGRATE_ON_HOST_MAINTENANCE", ... */
	if (s->maintenance[0] != '\0')
		cJSON_AddStringToObject(obj, "maintenance_event", s->maintenance);
	else
		cJSON_AddNullToObject(obj, "maintenance_event");
	cJSON_AddBoolToObject(obj, "preempted", s->preempted);
	if (brief)
		return;
	cJSON_AddStringToObject(obj, "last_error", s->error);
	cJSON_AddNumberToObject(obj, "requests", s->requests);
	cJSON_AddNumberToObject(obj, "errors", s->errors);
	cJSON_AddNumberToObject(obj, "changes", s->changes);
	if (s->first_reply != 0)
		cJSON_AddNumberToObject(obj, "first_reply_ms", s->first_reply);
	else
		cJSON_AddNullToObject(obj, "first_reply_ms");
}

/*
 * The status as JSON: formatted for the file, compact and without counters
 * (brief) for the guest attribute. NULL (ENOMEM).
 */
char *
status_render(int brief)
{
	struct status_section	*s;
	const char		*kvm = conf.kvm ? conf.kvm() : "unknown";
	cJSON			*doc, *o;
	char			*text;

	if ((doc = cJSON_CreateObject()) == NULL)
		goto nomem;
	cJSON_AddStringToObject(doc, "version", NESTBOX_VERSION);
	if ((o = cJSON_AddObjectToObject(doc, "kvm")) != NULL) {
		cJSON_AddBoolToObject(o, "available", strcmp(kvm, "ok") == 0);
		cJSON_AddStringToObject(o, "status", kvm);
	}
	if ((o = cJSON_AddObjectToObject(doc, "network")) != NULL)
		render_network(o);
	if ((o = cJSON_AddObjectToObject(doc, "metadata")) != NULL)
		render_metadata(o, brief);
	if (mem.taken && (o = cJSON_AddObjectToObject(doc, "memory")) != NULL)
		render_memory(o);
	for (s = sections; s != NULL; s = s->next)
		if ((o = cJSON_AddObjectToObject(doc, s->name)) != NULL)
			s->render(o, brief);
	text = brief ? cJSON_PrintUnformatted(doc) : cJSON_Print(doc);
	cJSON_Delete(doc);
	if (text == NULL)
		goto nomem;
	return text;
nomem:
	errno = ENOMEM;
	return NULL;
}

/* --- the guest attribute ------------------------------------------------- */

/* nestbox/status: the brief status, when it fits */
static void
ga_update(void)
{
	char	*s;

	if (!ga_enabled() || (s = status_render(1)) == NULL)
		return;
	if (strlen(s) <= GA_MAX)
		ga_set(STATUS_GA_KEY, s);
	free(s);
}

/* --- the file ------------------------------------------------------------ */

static char *
append_newline(char *s)
{
	size_t	 n = strlen(s);
	char	*p;

	if ((p = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	p[n] = '\n';
	p[n + 1] = '\0';
	return p;
}

int
status_write(void)
{
	char	*text, *slash, dir[256];
	int	 rc;

	write_pending = 0;
	if (!enabled)
		return 0;
	if ((text = status_render(0)) == NULL ||
	    (text = append_newline(text)) == NULL) {
		log_warn("status: render");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", conf.path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	if ((rc = write_file(conf.path, text, strlen(text), 0644)) == -1)
		log_warn("status: %s", conf.path);
	free(text);
	ga_update();
	return rc;
}

static void
write_fire(struct timer *t)
{
	(void)t;
	status_write();
}

void
status_changed(void)
{
	if (!enabled || !timers_ok || write_pending)
		return;
	write_pending = 1;
	timer_set(&write_timer, WRITE_DELAY);
}

void
status_section_add(struct status_section *s)
{
	struct status_section	**sp;

	for (sp = &sections; *sp != NULL; sp = &(*sp)->next)
		if (*sp == s)
			return;
	s->next = NULL;
	*sp = s;
}

/*
 * Also resets: the unit tests start each case from here. NULL turns the
 * status off: no file, no guest attribute.
 */
int
status_init(const struct status_conf *c)
{
	memset(&conf, 0, sizeof(conf));
	enabled = c != NULL;
	if (c != NULL)
		conf = *c;
	if (conf.path == NULL)
		conf.path = STATUS_PATH;
	if (conf.ifname == NULL)
		conf.ifname = "eth0";
	sections = NULL;
	ga_close(STATUS_GA_KEY);	/* a write in flight finishes on its own */
	write_pending = 0;
	memset(&mem, 0, sizeof(mem));
	if (!timers_ok) {
		if (timer_init(&write_timer, write_fire, NULL) == -1 ||
		    timer_init(&mem_timer, mem_fire, NULL) == -1) {
			log_warn("status: timer");
			return -1;
		}
		timers_ok = 1;
	}
	timer_set(&write_timer, 0);
	timer_set(&mem_timer, enabled ? MEM_FIRST : 0);
	if (enabled && ga_open(STATUS_GA_KEY, "guest attributes", 0) == -1) {
		log_warn("status: timer");
		return -1;
	}
	return 0;
}
