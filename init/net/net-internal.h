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
	    uint32_t eth0, char *buf, size_t size);	/* length; EINVAL: a bad forward */

/* What l2net.c puts together. */
int	 dnsmasq_start(const struct netconf *, int mtu);	/* (re)starts on a new config */
int	 firewall_apply(const struct netconf *, uint32_t eth0);	/* 0: not known; logs */
int	 firewall_loaded(void);		/* 1: the latest ruleset is in place */
const struct lease *net_lease(void);	/* NULL: no lease */

#endif /* NESTBOX_NET_INTERNAL_H */
