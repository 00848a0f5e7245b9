/*
 * eth0 as PID 1 sees it: a supervised udhcpc whose script is this binary
 * (dhcp.c, as dhcp-hook), and an inotify watch on /run/nestbox that tells
 * PID 1 when the hook has written a lease. The first lease starts ntpd
 * against the lease's NTP server (GCE's metadata server) and runs the
 * callbacks registered with net_on_ready(). Also the alias IP ranges from
 * metadata, as local routes the way GCE's guest agent installs them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <linux/rtnetlink.h>

#include "net/net.h"
#include "net/net-internal.h"

#define READY_MAX	8
#define ALIAS_MAX	64
#define RTPROT_GCE	66	/* the guest agent's protocol number for its routes */

static char *const udhcpc_argv[] = {
	"/sbin/udhcpc", "-f", "-i", "eth0",
	"-O", "staticroutes", "-O", "mtu", "-O", "ntpsrv", "-O", "search",
	"-O", "domain", "-s", NET_HOOK, NULL
};
static char	 ntp_peer[INET_ADDRSTRLEN] = "169.254.169.254";
static char *const ntpd_argv[] = { "/usr/sbin/ntpd", "-n", "-p", ntp_peer, NULL };

static struct service	 udhcpc, ntpd;
static struct event	 watch = { -1, NULL, NULL };
static struct lease	 current;
static int		 have_lease, ready;
static void		(*ready_fn[READY_MAX])(void);
static size_t		 nready;

static struct {
	struct in_addr	 dst;
	int		 prefix;
} alias[ALIAS_MAX];
static size_t		 nalias;

static void
lease_changed(void)
{
	struct lease	 l;
	char		 err[160];
	size_t		 i;

	if (lease_read(NET_LEASE_FILE, &l, err, sizeof(err)) == -1) {
		if (errno != ENOENT)
			log_warnx("eth0: %s: %s", NET_LEASE_FILE, err);
		have_lease = 0;
		return;
	}
	current = l;
	have_lease = 1;
	if (ready)
		return;
	ready = 1;
	if (l.nntp > 0)
		inet_ntop(AF_INET, &l.ntp[0], ntp_peer, sizeof(ntp_peer));
	service_start(&ntpd);
	for (i = 0; i < nready; i++)
		ready_fn[i]();
}

static void
watch_read(struct event *ev, uint32_t events)
{
	char			 buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ie;
	ssize_t			 n;
	char			*p;
	int			 hit = 0;

	(void)events;
	while ((n = read(ev->fd, buf, sizeof(buf))) > 0)
		for (p = buf; p < buf + n; p += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)p;
			if (ie->len > 0 && strcmp(ie->name, "lease") == 0)
				hit = 1;
		}
	if (hit)
		lease_changed();
}

/*
 * Starts DHCP on eth0. The watch is set before udhcpc starts, so no lease
 * can be written unseen.
 */
int
net_init(void)
{
	struct nl_link	 link;

	if (mkdir(NET_RUN_DIR, 0755) == -1 && errno != EEXIST)
		log_warn("%s", NET_RUN_DIR);
	if ((watch.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(watch.fd, NET_RUN_DIR, IN_CLOSE_WRITE | IN_MOVED_TO |
	    IN_DELETE) == -1) {
		log_warn("eth0: inotify on %s", NET_RUN_DIR);
		return -1;
	}
	watch.handler = watch_read;
	if (event_add(&watch, EPOLLIN) == -1) {
		log_warn("eth0: event");
		return -1;
	}
	/* udhcpc's deconfig brings it up too; this saves a round on a slow boot */
	if (nl_link_get("eth0", &link) == -1)
		log_warn("eth0");
	else if (!link.up && nl_link_set(link.index, 1, 0, -1) == -1)
		log_warn("eth0: link up");
	if (service_init(&udhcpc, "udhcpc", udhcpc_argv) == -1 ||
	    service_init(&ntpd, "ntpd", ntpd_argv) == -1) {
		log_warn("eth0: timer");
		return -1;
	}
	service_start(&udhcpc);
	return 0;
}

/* fn runs once, when eth0 has its first lease (at once if it has it already). */
int
net_on_ready(void (*fn)(void))
{
	if (nready == READY_MAX) {
		errno = ENOSPC;
		return -1;
	}
	ready_fn[nready++] = fn;
	if (ready)
		fn();
	return 0;
}

/* The lease eth0 has now, or NULL. */
const struct lease *
net_lease(void)
{
	return have_lease ? &current : NULL;
}

static int
alias_route(int cmd, int index, struct in_addr dst, int prefix)
{
	struct nl_route	 r;

	memset(&r, 0, sizeof(r));
	r.dst = dst;
	r.prefix = prefix;
	r.oif = index;
	r.table = RT_TABLE_LOCAL;
	r.type = RTN_LOCAL;
	r.protocol = RTPROT_GCE;
	return nl_route(cmd, &r);
}

/*
 * Makes the alias IP ranges (metadata's network-interfaces/0/ip-aliases:
 * "10.128.16.0/28", or an address alone) local routes on eth0, as `ip route
 * add to local CIDR dev eth0 table local proto 66`, and removes those of the
 * previous call that are not in this one. An invalid range is logged and
 * skipped; then -1 with EINVAL once the others are in.
 */
int
net_alias_routes(const char *const cidrs[], size_t n)
{
	struct in_addr	 dst[ALIAS_MAX];
	int		 prefix[ALIAS_MAX], rv = 0;
	struct nl_link	 link;
	char		 a[INET_ADDRSTRLEN];
	size_t		 i, j, k = 0;

	for (i = 0; i < n; i++) {
		if (k == ALIAS_MAX) {
			log_warnx("eth0: more than %d alias ranges, the rest ignored",
			    ALIAS_MAX);
			rv = -1;
			break;
		}
		if (cidr_parse(cidrs[i], strlen(cidrs[i]), &dst[k], &prefix[k]) == -1) {
			log_warnx("eth0: alias range \"%s\" is not a.b.c.d/n", cidrs[i]);
			rv = -1;
			continue;
		}
		k++;
	}
	if (nl_link_get("eth0", &link) == -1) {
		log_warn("eth0: alias ranges");
		return -1;
	}
	for (i = 0; i < k; i++)
		if (alias_route(RTM_NEWROUTE, link.index, dst[i], prefix[i]) == -1) {
			log_warn("eth0: alias range %s/%d", inet_ntop(AF_INET,
			    &dst[i], a, sizeof(a)), prefix[i]);
			rv = -1;
		}
	for (j = 0; j < nalias; j++) {
		for (i = 0; i < k; i++)
			if (alias[j].dst.s_addr == dst[i].s_addr && alias[j].prefix == prefix[i])
				break;
		if (i == k && alias_route(RTM_DELROUTE, link.index, alias[j].dst,
		    alias[j].prefix) == -1 && errno != ESRCH)
			log_warn("eth0: removing an alias range");
	}
	for (i = 0; i < k; i++) {
		alias[i].dst = dst[i];
		alias[i].prefix = prefix[i];
	}
	nalias = k;
	if (k > 0 || n > 0)
		log_info("eth0: %zu alias range%s", k, k == 1 ? "" : "s");
	if (rv == -1)
		errno = EINVAL;
	return rv;
}
