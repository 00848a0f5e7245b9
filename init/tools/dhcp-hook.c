/*
 * dhcp-hook: udhcpc's script, the init binary under that name. It reads the
 * lease from its environment (net/dhcp.c's dhcp_lease_parse), applies it to
 * the interface over netlink, replacing what the last lease put there, and
 * writes /etc/resolv.conf, /etc/hosts and /run/nestbox/lease, which PID 1
 * watches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <linux/rtnetlink.h>

#include "net/net.h"
#include "tools/tools.h"

static const char *
ntoa(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static int
same_route(const struct lease_route *a, const struct lease_route *b)
{
	return a->dst.s_addr == b->dst.s_addr && a->prefix == b->prefix &&
	    a->gw.s_addr == b->gw.s_addr;
}

static void
route_of(struct nl_route *nr, const struct lease_route *r, int index)
{
	memset(nr, 0, sizeof(*nr));
	nr->dst = r->dst;
	nr->prefix = r->prefix;
	nr->gw = r->gw;
	nr->oif = index;
	nr->protocol = RTPROT_DHCP;
}

/* Removes what old put on its interface, routes in reverse order, then the address. */
static void
lease_unapply(const struct lease *old, const struct lease_route *keep, size_t nkeep,
    int keep_addr)
{
	struct lease_route	 r[LEASE_ROUTES_MAX];
	struct nl_route		 nr;
	struct nl_link		 link;
	size_t			 n, i, j;

	if (nl_link_get(old->ifname, &link) == -1)
		return;		/* gone, and its routes with it */
	n = lease_routes(old, r, LEASE_ROUTES_MAX);
	for (i = n; i-- > 0;) {
		for (j = 0; j < nkeep && !same_route(&r[i], &keep[j]); j++)
			;
		if (j < nkeep)
			continue;
		route_of(&nr, &r[i], link.index);
		if (nl_route(RTM_DELROUTE, &nr) == -1 && errno != ESRCH)
			log_warn("%s: removing an old route", old->ifname);
	}
	if (!keep_addr && nl_addr(RTM_DELADDR, link.index, old->ip, old->prefix) == -1 &&
	    errno != EADDRNOTAVAIL)
		log_warn("%s: removing the old address", old->ifname);
}

/*
 * Puts the lease on its interface: the address, the MTU, the routes in
 * order. Everything is a replace, so a renewal of the same lease changes
 * nothing and interrupts nothing; what an old lease had and this one has
 * not is removed afterwards.
 */
static int
lease_apply(const struct lease *l, const struct lease *old)
{
	struct lease_route	 r[LEASE_ROUTES_MAX];
	struct nl_route		 nr;
	struct nl_link		 link;
	char			 a[INET_ADDRSTRLEN];
	size_t			 n, i;

	if (nl_link_get(l->ifname, &link) == -1) {
		log_warn("%s", l->ifname);
		return -1;
	}
	if (nl_addr(RTM_NEWADDR, link.index, l->ip, l->prefix) == -1) {
		log_warn("%s: address %s/%d", l->ifname, ntoa(l->ip, a), l->prefix);
		return -1;
	}
	if (nl_link_set(link.index, 1, l->mtu != link.mtu ? l->mtu : 0, -1) == -1)
		log_warn("%s: mtu %u", l->ifname, l->mtu);	/* not fatal */
	n = lease_routes(l, r, LEASE_ROUTES_MAX);
	for (i = 0; i < n; i++) {
		route_of(&nr, &r[i], link.index);
		if (nl_route(RTM_NEWROUTE, &nr) == -1) {
			log_warn("%s: route %s/%d", l->ifname, ntoa(r[i].dst, a),
			    r[i].prefix);
			return -1;
		}
	}
	if (old != NULL && strcmp(old->ifname, l->ifname) == 0)
		lease_unapply(old, r, n, old->ip.s_addr == l->ip.s_addr &&
		    old->prefix == l->prefix);
	else if (old != NULL)
		lease_unapply(old, NULL, 0, 0);
	return 0;
}

static int
write_text(const char *path, int (*fmt)(const struct lease *, char *, size_t),
    const struct lease *l)
{
	char	 buf[LEASE_FILE_MAX];
	int	 n;

	if ((n = fmt(l, buf, sizeof(buf))) == -1 ||
	    write_file(path, buf, n, 0644) == -1) {
		log_warn("%s", path);
		return -1;
	}
	return 0;
}

static int
hook_bound(const char *event, const struct lease *old)
{
	extern char	**environ;
	struct lease	  l;
	struct in_addr	  gw;
	char		  err[160], a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN], mtu[16];

	if (dhcp_lease_parse((const char *const *)environ, &l, err, sizeof(err)) == -1) {
		log_warnx("%s: DHCP lease refused: %s", l.ifname, err);
		return 1;
	}
	if (l.mtu_refused)
		log_warnx("%s: DHCP mtu %ld ignored: not in %d..%d", l.ifname,
		    l.mtu_refused, LEASE_MTU_MIN, LEASE_MTU_MAX);
	if (l.hostname_refused)
		log_warnx("%s: DHCP hostname refused: it names the metadata server",
		    l.ifname);
	if (lease_apply(&l, old) == -1)
		return 1;
	write_text("/etc/resolv.conf", resolv_format, &l);
	write_text("/etc/hosts", hosts_format, &l);
	/* last: PID 1 acts on it and finds everything else in place */
	if (mkdir(NET_RUN_DIR, 0755) == -1 && errno != EEXIST)
		log_warn("%s", NET_RUN_DIR);
	if (write_text(NET_LEASE_FILE, lease_format, &l) == -1)
		return 1;
	gw = lease_gateway(&l);
	snprintf(mtu, sizeof(mtu), "%u", l.mtu);
	if (old != NULL && old->ip.s_addr == l.ip.s_addr && strcmp(event, "renew") == 0)
		log_info("%s: lease renewed (lease %u s)", l.ifname, l.lease);
	else
		log_info("%s: %s/%d gateway %s mtu %s (lease %u s)", l.ifname,
		    ntoa(l.ip, a), l.prefix, gw.s_addr ? ntoa(gw, g) : "none",
		    l.mtu ? mtu : "default", l.lease);
	return 0;
}

/* udhcpc's script: dhcp-hook deconfig|bound|renew|leasefail|nak. */
int
dhcp_hook_main(int argc, char *argv[])
{
	struct lease	 old;
	struct nl_link	 link;
	const char	*ifname = getenv("interface");
	char		 err[160];
	int		 have_old;

	if (argc < 2) {
		fprintf(stderr, "usage: dhcp-hook deconfig|bound|renew|leasefail|nak\n"
		    "udhcpc's script: applies a DHCP lease to its interface.\n");
		return 2;
	}
	if (ifname == NULL)
		ifname = "eth0";
	have_old = lease_read(NET_LEASE_FILE, &old, err, sizeof(err)) == 0;
	if (!have_old && errno != ENOENT)
		log_warnx("%s: %s: %s", ifname, NET_LEASE_FILE, err);

	if (strcmp(argv[1], "bound") == 0 || strcmp(argv[1], "renew") == 0)
		return hook_bound(argv[1], have_old ? &old : NULL);
	if (strcmp(argv[1], "deconfig") == 0) {
		/* udhcpc starts with this, and says it when a lease is lost */
		if (have_old) {
			lease_unapply(&old, NULL, 0, 0);
			unlink(NET_LEASE_FILE);
			log_info("%s: lease gone, address removed", old.ifname);
		}
		if (nl_link_get(ifname, &link) == -1 ||
		    (!link.up && nl_link_set(link.index, 1, 0, -1) == -1))
			log_warn("%s: link up", ifname);
		return 0;
	}
	if (strcmp(argv[1], "leasefail") == 0 || strcmp(argv[1], "nak") == 0)
		log_info("%s: no DHCP lease yet (%s)", ifname, argv[1]);
	return 0;
}
