/*
 * The L2 guests' bridge (virbr0, as libvirt's default network) and IP
 * forwarding. Its MTU is never above eth0's: GCE's VPC carries 1460 by
 * default, and a guest that sends bigger frames has them dropped, not
 * fragmented, once they are NATed out of eth0.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>

#include "net/net-internal.h"

#define BRIDGE_ADDRS_MAX	16

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

int
ip_forward_enable(void)
{
	int	 fd, rv;

	if ((fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC)) == -1) {
		log_warn("ip_forward");
		return -1;
	}
	rv = write(fd, "1\n", 2) == 2 ? 0 : -1;
	if (rv == -1)
		log_warn("ip_forward");
	close(fd);
	return rv;
}
