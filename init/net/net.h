/*
 * net/: eth0 the GCE way (netlink, the DHCP lease, alias routes) and the
 * L2 network (virbr0, dnsmasq, the firewall) from nestbox-network.
 *
 * Unless a comment says otherwise, functions return 0 on success and -1
 * with errno set on failure.
 */
#ifndef NESTBOX_NET_H
#define NESTBOX_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "core/core.h"
#include "md/md.h"

/* netconf.c: the L2 network, libvirt's default unless nestbox-network says. */
#define NETCONF_BRIDGE		"virbr0"
#define NETCONF_MTU_MIN		576
#define NETCONF_MTU_MAX		9000
#define NETCONF_LEASE		3600	/* dnsmasq's and libvirt's default */
#define NETCONF_LEASE_MIN	120	/* dnsmasq's minimum */
#define NETCONF_LEASE_MAX	31536000
#define IP4_STRLEN		16
struct netconf {			/* addresses in host byte order */
	uint32_t	 addr;		/* the bridge's: 192.168.122.1 */
	int		 prefix;	/* 24 */
	uint32_t	 range_start;	/* the DHCP range, inclusive */
	uint32_t	 range_end;
	int		 mtu;		/* 0: eth0's */
	unsigned	 lease;		/* seconds */
};
int	 ip4_parse(const char *s, size_t len, uint32_t *);	/* strict dotted quad */
const char *ip4_str(uint32_t, char *buf);			/* buf: IP4_STRLEN bytes */
uint32_t netconf_network(const struct netconf *);
uint32_t netconf_broadcast(const struct netconf *);
int	 netconf_contains(const struct netconf *, uint32_t addr);
void	 netconf_default(struct netconf *);
int	 netconf_parse(const char *json, size_t len, struct netconf *,
	    char *err, size_t errlen);	/* *nc unchanged on error; nestbox check's too */
#define NETCONF_DOC_MAX		(64 * 1024)	/* what nestbox check reads of one */

/* dnsmasq.c: DHCP and DNS for the L2 guests, supervised. */
#define DNSMASQ_BIN		"/usr/sbin/dnsmasq"
#define DNSMASQ_DIR		"/run/nestbox"
#define DNSMASQ_CONF		DNSMASQ_DIR "/dnsmasq.conf"
#define DNSMASQ_HOSTS		DNSMASQ_DIR "/dnsmasq.hosts"
#define DNSMASQ_LEASES		DNSMASQ_DIR "/dnsmasq.leases"
#define DNSMASQ_PID		DNSMASQ_DIR "/dnsmasq.pid"
#define DNSMASQ_DNS		"169.254.169.254"	/* the metadata server's resolver */
struct static_lease {
	const char	*mac;		/* 52:54:00:12:34:56 */
	const char	*ip;		/* inside the subnet */
	const char	*name;		/* a host name, or NULL */
};
int	 dnsmasq_leases(const struct static_lease *, size_t n);	/* rewrites, SIGHUP */
pid_t	 dnsmasq_pid(void);		/* 0: not running */

/* firewall.c: the iptables and ip6tables rulesets, generated whole and loaded atomically. */
#define FIREWALL_RESTORE	"/usr/sbin/iptables-restore"
#define FIREWALL_RESTORE6	"/usr/sbin/ip6tables-restore"
#define FIREWALL_RULES		"/run/nestbox/iptables.rules"
#define FIREWALL_RULES6		"/run/nestbox/ip6tables.rules"
#define FIREWALL_TAP		"nbtap"		/* a guest's tap is nbtapSLOT */
#define FETCH_HTTP_UID		901	/* nestbox-fetch-http: plain http(s), no token */
#define DNSMASQ_UID		65534	/* nobody */
#define FIREWALL_WAN		"eth0"
#define FIREWALL_METADATA	"169.254.0.0/16"	/* 169.254.169.254 and its link-local range */
#define GUEST_UID_BASE		20000	/* a guest's QEMU runs as GUEST_UID_BASE + its slot */
#define GUEST_UID_RANGE		"20000-20063"	/* GUESTS_MAX of them */
enum fwd_proto { FWD_TCP, FWD_UDP, FWD_ALL };
struct forward {			/* addresses in host byte order */
	enum fwd_proto	 proto;		/* FWD_ALL: every port of match_ip (an alias IP) */
	uint32_t	 match_ip;	/* the L1's primary address or an alias IP; 0: eth0's */
	uint16_t	 port;
	uint32_t	 guest_ip;	/* 0: none, refused */
	uint16_t	 guest_port;	/* 0: port */
};
struct fw_port {				/* a guest's bridge port: what it may send from */
	int		 slot;		/* its tap: nbtapSLOT */
	uint8_t		 mac[6];
	uint32_t	 ip;		/* host byte order; 0: not known yet (DHCP only) */
};
int	 firewall_forwards(const struct forward *, size_t n);	/* copies, reapplies */
int	 firewall_guests(const struct forward *, size_t n, const struct fw_port *,
	    size_t nports);	/* both copied, reapplies */
int	 firewall_error(char *buf, size_t size);	/* 1: the last load failed, why in buf */

/* l2net.c: bridge, dnsmasq and firewall from the network's configuration. */
int	 l2net_init(void);		/* eth0's lease and nestbox-network */
const struct netconf *l2net_conf(void);	/* the network in use; NULL: not up */
uint32_t l2net_eth0(void);		/* the L1's address, host byte order; 0: not known */
int	 l2net_on_ready(void (*)(void));	/* once: the bridge and both rulesets are in place */
int	 l2net_port_setup(const char *tap, const uint8_t mac[6]);	/* before it is up; logs */

/* netlink.c: rtnetlink. nlmsg_* build a request into buf (EMSGSIZE if it
 * does not fit), nl_* send it and wait for the kernel's answer. */
struct nlmsghdr;
struct rtattr;
struct nl_link {
	int		 index;		/* 0: none */
	int		 up;
	unsigned	 mtu;
	unsigned	 master;
};
struct nl_ifaddr {
	struct in_addr	 addr;
	int		 prefix;
};
struct nl_route {
	struct in_addr	 dst;
	int		 prefix;
	struct in_addr	 gw;		/* 0.0.0.0: none (on-link) */
	int		 oif;		/* 0: none */
	unsigned char	 table, type, scope, protocol;	/* 0: main, unicast, by gw, boot */
};
int	 nl_link_get(const char *name, struct nl_link *);	/* ENODEV: no such link */
int	 nl_link_set(int index, int up, unsigned mtu, int master);	/* -1, 0, -1: as is */
int	 nl_addr(int cmd, int index, struct in_addr, int prefix);	/* RTM_NEWADDR replaces */
int	 nl_route(int cmd, const struct nl_route *);	/* RTM_NEWROUTE replaces */

/* dhcp.c: udhcpc's script (the init binary as dhcp-hook) and the lease. */
#define NET_RUN_DIR		"/run/nestbox"
#define NET_LEASE_FILE		NET_RUN_DIR "/lease"
#define NET_HOOK		"/usr/libexec/nestbox/dhcp-hook"
#define LEASE_ROUTES_MAX	16
#define LEASE_SERVERS_MAX	3
#define LEASE_SEARCH_MAX	6
#define LEASE_NAME_MAX		254	/* a domain name and its NUL */
#define LEASE_VALUE_MAX		1024
#define LEASE_FILE_MAX		8192	/* the lease file, NET_LEASE_FILE */
#define LEASE_MTU_MIN		576	/* IPv4's minimum; GCE allows 1300-8896 */
#define LEASE_MTU_MAX		9000
struct lease_route {
	struct in_addr	 dst, gw;	/* gw 0.0.0.0: on-link */
	int		 prefix;
};
struct lease {				/* addresses in network byte order */
	char		 ifname[16];
	struct in_addr	 ip, router, serverid;
	int		 prefix;
	struct lease_route routes[LEASE_ROUTES_MAX];	/* option 121, in order */
	size_t		 nroutes;
	unsigned	 mtu;		/* 0: none */
	long		 mtu_refused;	/* an MTU out of range, ignored */
	struct in_addr	 dns[LEASE_SERVERS_MAX], ntp[LEASE_SERVERS_MAX];
	size_t		 ndns, nntp;
	char		 search[LEASE_SEARCH_MAX][LEASE_NAME_MAX];
	size_t		 nsearch;
	char		 domain[LEASE_NAME_MAX];
	char		 hostname[LEASE_NAME_MAX];
	int		 hostname_refused;	/* it named the metadata server */
	uint32_t	 lease;		/* seconds */
};
int	 dhcp_lease_parse(const char *const envp[], struct lease *, char *err, size_t errsize);
size_t	 lease_routes(const struct lease *, struct lease_route *, size_t max);
struct in_addr lease_gateway(const struct lease *);
int	 lease_format(const struct lease *, char *buf, size_t size);	/* length */
int	 resolv_format(const struct lease *, char *buf, size_t size);
int	 hosts_format(const struct lease *, char *buf, size_t size);
int	 lease_read(const char *path, struct lease *, char *err, size_t errsize);

/* net.c: eth0 in PID 1: udhcpc and ntpd supervised, the lease watched. */
int	 net_init(void);
int	 net_on_ready(void (*)(void));	/* runs once, at the first lease */
int	 net_alias_routes(const char *const cidrs[], size_t n);	/* replaces the set */

#endif /* NESTBOX_NET_H */
