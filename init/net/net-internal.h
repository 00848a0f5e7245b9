/*
 * net/'s own: what the files of net/ share with each other and with the
 * unit tests and fuzzers, not with the rest of nestbox (that is net/net.h).
 */
#ifndef NESTBOX_NET_INTERNAL_H
#define NESTBOX_NET_INTERNAL_H

#include "net/net.h"

/* dnsmasq.c, firewall.c: the pure generators (golden files, fuzzers). */
int	 dnsmasq_config(const struct netconf *, int mtu, char *buf, size_t size);	/* length */
int	 dnsmasq_hosts(const struct netconf *, const struct static_lease *, size_t n,
	    char *buf, size_t size);	/* length; EINVAL: a malformed lease */
int	 firewall_rules(const struct netconf *, const struct forward *, size_t n,
	    const struct fw_port *, size_t nports, uint32_t eth0, char *buf,
	    size_t size);	/* length; EINVAL: a bad forward or port */
int	 firewall6_rules(char *buf, size_t size);	/* length */

/* What l2net.c puts together. */
int	 dnsmasq_start(const struct netconf *, int mtu);	/* (re)starts on a new config */
int	 firewall_apply(const struct netconf *, uint32_t eth0);	/* 0: not known; logs */
int	 firewall_loaded(void);		/* 1: the latest ruleset is in place */
int	 firewall_ever_loaded(void);	/* 1: a whole ruleset (v4 and v6) is in place */
void	 firewall_on_load(void (*)(void));	/* called after each load, good or not */
const struct lease *net_lease(void);	/* NULL: no lease */

/* netlink.c */
struct nl_addrs {			/* nl_parse_addr's state */
	int		 index;
	struct nl_ifaddr *v;
	size_t		 max, n;
};
int	 nl_attr_put(struct nlmsghdr *, size_t size, uint16_t type, const void *, size_t);
int	 nlmsg_getlink(void *buf, size_t size, const char *name);
int	 nlmsg_setlink(void *buf, size_t size, int index, int up, unsigned mtu, int master);
int	 nlmsg_newlink(void *buf, size_t size, const char *name, const char *kind,
	    const char *peer);			/* peer: a veth's other end */
int	 nlmsg_addr(void *buf, size_t size, int cmd, int index, struct in_addr, int prefix);
int	 nlmsg_getaddr(void *buf, size_t size);
int	 nlmsg_portlock(void *buf, size_t size, int index);
int	 nlmsg_fdb_static(void *buf, size_t size, int index, const uint8_t mac[6]);
int	 nl_port_lock(int index, const uint8_t mac[6]);	/* the static entry, then the lock */
int	 nlmsg_neigh(void *buf, size_t size, int cmd, int index, struct in_addr,
	    const uint8_t mac[6]);
int	 nl_neigh(int cmd, int index, struct in_addr, const uint8_t mac[6]);
int	 nlmsg_route(void *buf, size_t size, int cmd, const struct nl_route *);
int	 nl_attrs_parse(const struct nlmsghdr *, size_t hdrlen, const struct rtattr *tb[],
	    size_t max);
int	 nl_reply_parse(const void *buf, size_t len, uint32_t seq,
	    int (*cb)(const struct nlmsghdr *, void *), void *arg);	/* 1 done, 0 more */
int	 nl_parse_link(const struct nlmsghdr *, void *nl_link);
int	 nl_parse_addr(const struct nlmsghdr *, void *nl_addrs);
void	 nl_close(void);
int	 nl_link_add(const char *name, const char *kind, const char *peer);
int	 nl_addr_list(int index, struct nl_ifaddr *, size_t max, size_t *n);

/* netconf.c */
uint32_t ip4_mask(int prefix);
int	 netconf_check(const struct netconf *, uint32_t eth0_addr, char *err, size_t errlen);
int	 netconf_mtu(const struct netconf *, int eth0_mtu);	/* the bridge's */
unsigned netconf_range_size(const struct netconf *);

/* dhcp.c */
int	 ifaddr_parse(const char *s, size_t len, struct in_addr *, int *prefix);
int	 cidr_parse(const char *s, size_t len, struct in_addr *, int *prefix);	/* no host bits */

/* bridge.c */
int	 bridge_setup(const char *name, const char *cidr, int mtu);	/* logs */
int	 ip_forward_set(int on);	/* logs */
int	 sysctl_write(const char *path, const char *value);	/* logs */
int	 guest_side_sysctls(const char *ifname);	/* no IPv6, strict rp_filter; logs */
int	 bridge_port_lock(const char *tap, const uint8_t mac[6]);	/* logs */
void	 bridge_neighbours(const struct fw_port *, size_t n);	/* permanent; logs */
int	 bridge_netfilter(void);	/* bridged frames through iptables; logs */

#endif /* NESTBOX_NET_INTERNAL_H */
