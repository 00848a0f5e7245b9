/*
 * The L2 guests' bridge (virbr0, as libvirt's default network) and IP
 * forwarding. Its MTU is never above eth0's: GCE's VPC carries 1460 by
 * default, and a guest that sends bigger frames has them dropped, not
 * fragmented, once they are NATed out of eth0.
 *
 * The guests' side of the L1 is closed to what guests might try on it
 * (firewall.c says the rest): no IPv6 at all on virbr0 and the taps (no
 * address, no router advertisement taken: a guest's RA would give the L1
 * an address and a default route through the guest), strict reverse-path
 * filtering on virbr0, and each tap locked to its guest's MAC.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>

#include "net/net-internal.h"

#define BRIDGE_ADDRS_MAX	16
#define GUESTS_NEIGH_MAX	64	/* GUESTS_MAX */

/*
 * Creates the bridge if it is missing, gives it cidr ("192.168.122.1/24")
 * as its only IPv4 address, sets its MTU (mtu 0: eth0's; never above
 * eth0's) and brings it up. Run again with other values, it changes the
 * bridge in place. Logs what fails.
 */
int
bridge_setup(const char *name, const char *cidr, int mtu)
{
	struct nl_ifaddr	 have[BRIDGE_ADDRS_MAX];
	struct nl_link		 br, eth;
	struct in_addr		 addr;
	char			 a[INET_ADDRSTRLEN];
	size_t			 n, i;
	int			 prefix;

	/* the host part is set: it is the bridge's own address */
	if (ifaddr_parse(cidr, strlen(cidr), &addr, &prefix) == -1 ||
	    strchr(cidr, '/') == NULL || prefix < 1 || prefix > 30) {
		log_warnx("bridge %s: \"%s\" is not an address a.b.c.d/1-30", name, cidr);
		errno = EINVAL;
		return -1;
	}
	if (nl_link_get("eth0", &eth) == 0 && eth.mtu > 0 &&
	    (mtu <= 0 || (unsigned)mtu > eth.mtu))
		mtu = eth.mtu;
	/* interfaces made from now on (the bridge, the taps) start without IPv6 */
	if (guest_side_sysctls("default") == -1)
		return -1;
	if (nl_link_get(name, &br) == -1) {
		if (errno != ENODEV) {
			log_warn("bridge %s", name);
			return -1;
		}
		if (nl_link_add(name, "bridge", NULL) == -1 ||
		    nl_link_get(name, &br) == -1) {
			log_warn("bridge %s: creating it", name);
			return -1;
		}
		log_info("bridge %s: created", name);
	}
	if (guest_side_sysctls(name) == -1)	/* it may have been made before */
		return -1;
	if (nl_addr(RTM_NEWADDR, br.index, addr, prefix) == -1) {
		log_warn("bridge %s: address %s", name, cidr);
		return -1;
	}
	if (nl_addr_list(br.index, have, BRIDGE_ADDRS_MAX, &n) == -1)
		log_warn("bridge %s: listing addresses", name);
	else
		for (i = 0; i < n; i++)
			if ((have[i].addr.s_addr != addr.s_addr || have[i].prefix != prefix) &&
			    nl_addr(RTM_DELADDR, br.index, have[i].addr, have[i].prefix) == -1)
				log_warn("bridge %s: removing %s/%d", name,
				    inet_ntop(AF_INET, &have[i].addr, a, sizeof(a)),
				    have[i].prefix);
	if (nl_link_set(br.index, 1, mtu > 0 ? (unsigned)mtu : 0, -1) == -1) {
		log_warn("bridge %s: mtu %d, up", name, mtu);
		return -1;
	}
	log_info("bridge %s: %s mtu %d", name, cidr, mtu);
	return 0;
}

/* Writes value to a /proc/sys file; logs a failure. */
int
sysctl_write(const char *path, const char *value)
{
	size_t	 len = strlen(value);
	int	 fd, rv;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	rv = write(fd, value, len) == (ssize_t)len ? 0 : -1;
	if (rv == -1)
		log_warn("%s", path);
	close(fd);
	return rv;
}

/*
 * An interface on the guests' side: no IPv6 (no address, no RA, no
 * autoconfiguration), and for the bridge strict rp_filter.
 */
int
guest_side_sysctls(const char *ifname)
{
	static const char *const v6[][2] = {
		{ "accept_ra", "0" }, { "autoconf", "0" }, { "disable_ipv6", "1" },
	};
	char	 path[128];
	size_t	 i;
	int	 rv = 0;

	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname,
		    v6[i][0]);
		if (sysctl_write(path, v6[i][1]) == -1)
			rv = -1;
	}
	if (strcmp(ifname, NETCONF_BRIDGE) == 0) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname);
		if (sysctl_write(path, "1") == -1)
			rv = -1;
	}
	return rv;
}

/*
 * A guest's tap, before QEMU opens it: no IPv6, a port of the bridge
 * locked to the guest's MAC (a static entry in the bridge's table, no
 * learning, every frame from another source MAC dropped, ARP included,
 * which iptables never sees), then up.
 */
int
bridge_port_lock(const char *tap, const uint8_t mac[6])
{
	struct nl_link	 br, t;

	if (guest_side_sysctls(tap) == -1)
		return -1;
	if (nl_link_get(NETCONF_BRIDGE, &br) == -1 || nl_link_get(tap, &t) == -1) {
		log_warn("bridge %s: port %s", NETCONF_BRIDGE, tap);
		return -1;
	}
	if (nl_link_set(t.index, -1, br.mtu, br.index) == -1 ||
	    nl_port_lock(t.index, mac) == -1 ||
	    nl_link_set(t.index, 1, 0, -1) == -1) {
		log_warn("bridge %s: port %s locked to its MAC", NETCONF_BRIDGE, tap);
		return -1;
	}
	return 0;
}

/*
 * The L1's neighbour entries on the bridge for the guests whose address is
 * known: permanent, so that no ARP a guest sends (claiming another guest's
 * address from its own MAC, which the locked port lets through) changes
 * where the L1 sends that address's traffic, forwards and NAT replies
 * included. Entries of guests no longer there are removed.
 */
void
bridge_neighbours(const struct fw_port *p, size_t n)
{
	static struct {
		uint32_t	 ip;
		uint8_t		 mac[6];
	}		 have[GUESTS_NEIGH_MAX];
	static size_t	 nhave;
	struct nl_link	 br;
	struct in_addr	 a;
	size_t		 i, k, nn = 0;
	char		 s[INET_ADDRSTRLEN];
	__typeof__(have) next;

	if (nl_link_get(NETCONF_BRIDGE, &br) == -1) {
		log_warn("bridge %s: neighbours", NETCONF_BRIDGE);
		return;
	}
	for (i = 0; i < n && nn < GUESTS_NEIGH_MAX; i++) {
		if (p[i].ip == 0)
			continue;
		next[nn].ip = p[i].ip;
		memcpy(next[nn].mac, p[i].mac, 6);
		a.s_addr = htonl(p[i].ip);
		if (nl_neigh(RTM_NEWNEIGH, br.index, a, p[i].mac) == -1)
			log_warn("bridge %s: neighbour %s", NETCONF_BRIDGE,
			    inet_ntop(AF_INET, &a, s, sizeof(s)));
		nn++;
	}
	for (k = 0; k < nhave; k++) {
		for (i = 0; i < nn && next[i].ip != have[k].ip; i++)
			;
		a.s_addr = htonl(have[k].ip);
		if (i == nn && nl_neigh(RTM_DELNEIGH, br.index, a, NULL) == -1 &&
		    errno != ENOENT)
			log_warn("bridge %s: neighbour %s", NETCONF_BRIDGE,
			    inet_ntop(AF_INET, &a, s, sizeof(s)));
	}
	memcpy(have, next, nn * sizeof(have[0]));
	nhave = nn;
}

/*
 * br_netfilter (loaded at boot, config/modules.list) passes the bridged
 * frames through iptables and ip6tables, where the anti-spoofing rules are.
 */
int
bridge_netfilter(void)
{
	if (sysctl_write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1") == -1 ||
	    sysctl_write("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1") == -1)
		return -1;
	return 0;
}

/* Forwarding, on only once the whole ruleset is in place (l2net.c). */
int
ip_forward_set(int on)
{
	return sysctl_write("/proc/sys/net/ipv4/ip_forward", on ? "1\n" : "0\n");
}
