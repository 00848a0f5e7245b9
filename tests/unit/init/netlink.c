#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "unit.h"

static struct in_addr
ip(const char *s)
{
	struct in_addr	 a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* The bytes `ip addr replace 10.128.0.2/32 dev <2>` sends (seq and pid 0). */
static const unsigned char addr_msg[] = {
	0x28, 0, 0, 0,  20, 0,  0x05, 0x05,  0, 0, 0, 0,  0, 0, 0, 0,	/* RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE */
	AF_INET, 32, 0, 0,  2, 0, 0, 0,					/* ifaddrmsg: /32, index 2 */
	8, 0, IFA_LOCAL, 0,  10, 128, 0, 2,
	8, 0, IFA_ADDRESS, 0,  10, 128, 0, 2,
};

/* `ip route replace default via 10.128.0.1 dev <2> proto dhcp` */
static const unsigned char default_msg[] = {
	0x2c, 0, 0, 0,  24, 0,  0x05, 0x05,  0, 0, 0, 0,  0, 0, 0, 0,	/* RTM_NEWROUTE */
	AF_INET, 0, 0, 0,  RT_TABLE_MAIN, 16, RT_SCOPE_UNIVERSE, RTN_UNICAST,  0, 0, 0, 0,
	8, 0, RTA_GATEWAY, 0,  10, 128, 0, 1,
	8, 0, RTA_OIF, 0,  2, 0, 0, 0,
};

/* `ip route replace 10.128.0.1/32 dev <2> scope link proto dhcp` */
static const unsigned char link_msg[] = {
	0x2c, 0, 0, 0,  24, 0,  0x05, 0x05,  0, 0, 0, 0,  0, 0, 0, 0,
	AF_INET, 32, 0, 0,  RT_TABLE_MAIN, 16, RT_SCOPE_LINK, RTN_UNICAST,  0, 0, 0, 0,
	8, 0, RTA_DST, 0,  10, 128, 0, 1,
	8, 0, RTA_OIF, 0,  2, 0, 0, 0,
};

static void
nl_addr_bytes(void **state)
{
	char	 buf[256] __attribute__((aligned(4)));

	(void)state;
	assert_int_equal(nlmsg_addr(buf, sizeof(buf), RTM_NEWADDR, 2, ip("10.128.0.2"), 32), 0);
	assert_int_equal(((struct nlmsghdr *)buf)->nlmsg_len, sizeof(addr_msg));
	assert_memory_equal(buf, addr_msg, sizeof(addr_msg));
}

static void
nl_addr_broadcast(void **state)
{
	char			 buf[256] __attribute__((aligned(4)));
	const struct rtattr	*tb[IFA_MAX + 1];
	struct nlmsghdr		*nh = (struct nlmsghdr *)buf;

	(void)state;
	assert_int_equal(nlmsg_addr(buf, sizeof(buf), RTM_NEWADDR, 5,
	    ip("192.168.122.1"), 24), 0);
	assert_int_equal(nl_attrs_parse(nh, sizeof(struct ifaddrmsg), tb, IFA_MAX + 1), 0);
	assert_non_null(tb[IFA_BROADCAST]);
	assert_memory_equal(RTA_DATA(tb[IFA_BROADCAST]), "\xc0\xa8\x7a\xff", 4);
	/* a delete carries no broadcast and asks for no create */
	assert_int_equal(nlmsg_addr(buf, sizeof(buf), RTM_DELADDR, 5,
	    ip("192.168.122.1"), 24), 0);
	assert_int_equal(nl_attrs_parse(nh, sizeof(struct ifaddrmsg), tb, IFA_MAX + 1), 0);
	assert_null(tb[IFA_BROADCAST]);
	assert_int_equal(nh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(nlmsg_addr(buf, sizeof(buf), RTM_NEWADDR, 5, ip("1.2.3.4"), 33), -1);
	assert_int_equal(errno, EINVAL);
}

static void
nl_route_bytes(void **state)
{
	char		 buf[256] __attribute__((aligned(4)));
	struct nl_route	 r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.gw = ip("10.128.0.1");
	r.oif = 2;
	r.protocol = 16;
	assert_int_equal(nlmsg_route(buf, sizeof(buf), RTM_NEWROUTE, &r), 0);
	assert_memory_equal(buf, default_msg, sizeof(default_msg));
	memset(&r, 0, sizeof(r));
	r.dst = ip("10.128.0.1");
	r.prefix = 32;
	r.oif = 2;
	r.protocol = 16;
	assert_int_equal(nlmsg_route(buf, sizeof(buf), RTM_NEWROUTE, &r), 0);
	assert_memory_equal(buf, link_msg, sizeof(link_msg));
}

static void
nl_route_local(void **state)
{
	char		 buf[256] __attribute__((aligned(4)));
	struct nl_route	 r;
	struct rtmsg	*rtm;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.dst = ip("10.128.16.0");
	r.prefix = 28;
	r.oif = 2;
	r.table = RT_TABLE_LOCAL;
	r.type = RTN_LOCAL;
	assert_int_equal(nlmsg_route(buf, sizeof(buf), RTM_NEWROUTE, &r), 0);
	rtm = NLMSG_DATA((struct nlmsghdr *)buf);
	assert_int_equal(rtm->rtm_table, RT_TABLE_LOCAL);
	assert_int_equal(rtm->rtm_type, RTN_LOCAL);
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_HOST);
	assert_int_equal(rtm->rtm_dst_len, 28);
	/* host bits past the prefix: the kernel would refuse it */
	r.dst = ip("10.128.16.1");
	assert_int_equal(nlmsg_route(buf, sizeof(buf), RTM_NEWROUTE, &r), -1);
	assert_int_equal(errno, EINVAL);
	r.prefix = 33;
	assert_int_equal(nlmsg_route(buf, sizeof(buf), RTM_NEWROUTE, &r), -1);
	assert_int_equal(errno, EINVAL);
}

static void
nl_veth(void **state)
{
	char			 buf[512] __attribute__((aligned(4)));
	struct nlmsghdr		*nh = (struct nlmsghdr *)buf;
	const struct rtattr	*tb[IFLA_MAX + 1], *info, *kind, *data, *peer, *a;
	size_t			 left;

	(void)state;
	assert_int_equal(nlmsg_newlink(buf, sizeof(buf), "nbt0", "veth", "nbt1"), 0);
	assert_int_equal(nh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	assert_int_equal(nl_attrs_parse(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX + 1), 0);
	assert_string_equal(RTA_DATA(tb[IFLA_IFNAME]), "nbt0");
	info = tb[IFLA_LINKINFO];
	assert_non_null(info);
	/* the nest ends where the message does */
	assert_ptr_equal((const char *)info + info->rta_len, buf + nh->nlmsg_len);
	kind = RTA_DATA(info);
	assert_int_equal(kind->rta_type, IFLA_INFO_KIND);
	assert_string_equal(RTA_DATA(kind), "veth");
	data = (const struct rtattr *)((const char *)kind + RTA_ALIGN(kind->rta_len));
	assert_int_equal(data->rta_type, IFLA_INFO_DATA);
	peer = RTA_DATA(data);
	assert_int_equal(peer->rta_type, VETH_INFO_PEER);
	assert_int_equal(peer->rta_len, data->rta_len - RTA_LENGTH(0));
	a = (const struct rtattr *)((const char *)RTA_DATA(peer) + sizeof(struct ifinfomsg));
	left = peer->rta_len - RTA_LENGTH(sizeof(struct ifinfomsg));
	assert_true(left >= RTA_LENGTH(5));
	assert_int_equal(a->rta_type, IFLA_IFNAME);
	assert_string_equal(RTA_DATA(a), "nbt1");
	/* a bridge has no peer */
	assert_int_equal(nlmsg_newlink(buf, sizeof(buf), "virbr0", "bridge", NULL), 0);
	assert_int_equal(nlmsg_newlink(buf, sizeof(buf), "a-name-too-long0", "bridge", NULL), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void
nl_setlink(void **state)
{
	char			 buf[256] __attribute__((aligned(4)));
	struct nlmsghdr		*nh = (struct nlmsghdr *)buf;
	struct ifinfomsg	*ifi = NLMSG_DATA(nh);
	const struct rtattr	*tb[IFLA_MAX + 1];

	(void)state;
	assert_int_equal(nlmsg_setlink(buf, sizeof(buf), 3, 1, 1460, 7), 0);
	assert_int_equal(ifi->ifi_index, 3);
	assert_int_equal(ifi->ifi_change, IFF_UP);
	assert_int_equal(ifi->ifi_flags, IFF_UP);
	assert_int_equal(nl_attrs_parse(nh, sizeof(*ifi), tb, IFLA_MAX + 1), 0);
	assert_int_equal(*(uint32_t *)RTA_DATA(tb[IFLA_MTU]), 1460);
	assert_int_equal(*(uint32_t *)RTA_DATA(tb[IFLA_MASTER]), 7);
	/* -1, 0, -1: nothing but the index */
	assert_int_equal(nlmsg_setlink(buf, sizeof(buf), 3, -1, 0, -1), 0);
	assert_int_equal(ifi->ifi_change, 0);
	assert_int_equal(nh->nlmsg_len, NLMSG_LENGTH(sizeof(*ifi)));
}

/* Every builder fails with EMSGSIZE on any buffer shorter than its message. */
static void
nl_overflow(void **state)
{
	char		 full[512] __attribute__((aligned(4))), buf[512] __attribute__((aligned(4)));
	struct nl_route	 r;
	size_t		 need, size, i;
	int		 rv;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.dst = ip("10.0.0.0");
	r.prefix = 8;
	r.gw = ip("10.128.0.1");
	r.oif = 2;
	for (i = 0; i < 6; i++) {
		for (size = 0; size <= sizeof(buf); size++) {
			switch (i) {
			case 0: rv = nlmsg_addr(buf, size, RTM_NEWADDR, 2, ip("192.168.122.1"), 24); break;
			case 1: rv = nlmsg_route(buf, size, RTM_NEWROUTE, &r); break;
			case 2: rv = nlmsg_newlink(buf, size, "nbt0", "veth", "nbt1"); break;
			case 3: rv = nlmsg_setlink(buf, size, 2, 1, 1460, 4); break;
			case 4: rv = nlmsg_getlink(buf, size, "eth0"); break;
			default: rv = nlmsg_getaddr(buf, size); break;
			}
			if (rv == 0)
				break;
			assert_int_equal(rv, -1);
			assert_int_equal(errno, EMSGSIZE);
		}
		need = size;
		assert_true(need > 16 && need < sizeof(buf));
		assert_int_equal(((struct nlmsghdr *)buf)->nlmsg_len, need);
		memcpy(full, buf, need);
	}
	/* a 64 KiB attribute does not fit an rtattr's length */
	assert_int_equal(nl_attr_put((struct nlmsghdr *)buf, sizeof(buf), 1, full, 70000), -1);
	assert_int_equal(errno, EMSGSIZE);
}

/* A reply datagram: messages of (type, seq, payload). */
static size_t
reply(char *buf, uint16_t type, uint32_t seq, const void *payload, size_t len)
{
	struct nlmsghdr	*nh = (struct nlmsghdr *)buf;

	memset(nh, 0, NLMSG_SPACE(len));
	nh->nlmsg_len = NLMSG_LENGTH(len);
	nh->nlmsg_type = type;
	nh->nlmsg_seq = seq;
	memcpy(NLMSG_DATA(nh), payload, len);
	return NLMSG_SPACE(len);
}

static int
count_cb(const struct nlmsghdr *nh, void *arg)
{
	(void)nh;
	++*(int *)arg;
	return 0;
}

static void
nl_reply(void **state)
{
	char		 buf[512] __attribute__((aligned(4)));
	struct nlmsgerr	 e;
	struct ifinfomsg ifi;
	size_t		 n;
	int		 count = 0, done = 0;

	(void)state;
	memset(&e, 0, sizeof(e));
	memset(&ifi, 0, sizeof(ifi));
	/* an ACK of another request is skipped; ours ends the reply */
	n = reply(buf, NLMSG_ERROR, 6, &e, sizeof(e));
	assert_int_equal(nl_reply_parse(buf, n, 7, NULL, NULL), 0);
	n += reply(buf + n, NLMSG_ERROR, 7, &e, sizeof(e));
	assert_int_equal(nl_reply_parse(buf, n, 7, NULL, NULL), 1);
	/* the kernel's error, as errno */
	e.error = -EEXIST;
	n = reply(buf, NLMSG_ERROR, 7, &e, sizeof(e));
	assert_int_equal(nl_reply_parse(buf, n, 7, NULL, NULL), -1);
	assert_int_equal(errno, EEXIST);
	e.error = 5;
	n = reply(buf, NLMSG_ERROR, 7, &e, sizeof(e));
	assert_int_equal(nl_reply_parse(buf, n, 7, NULL, NULL), -1);
	assert_int_equal(errno, EPROTO);
	/* a dump: data, then DONE */
	n = reply(buf, RTM_NEWLINK, 7, &ifi, sizeof(ifi));
	n += reply(buf + n, RTM_NEWLINK, 7, &ifi, sizeof(ifi));
	assert_int_equal(nl_reply_parse(buf, n, 7, count_cb, &count), 0);
	assert_int_equal(count, 2);
	n = reply(buf, NLMSG_DONE, 7, &done, sizeof(done));
	assert_int_equal(nl_reply_parse(buf, n, 7, count_cb, &count), 1);
	done = -ENOBUFS;
	n = reply(buf, NLMSG_DONE, 7, &done, sizeof(done));
	assert_int_equal(nl_reply_parse(buf, n, 7, NULL, NULL), -1);
	assert_int_equal(errno, ENOBUFS);
	/* malformed: a length past the datagram, a short error, a stub */
	n = reply(buf, NLMSG_ERROR, 7, &e, sizeof(e));
	assert_int_equal(nl_reply_parse(buf, n - 1, 7, NULL, NULL), -1);
	assert_int_equal(errno, EPROTO);
	n = reply(buf, NLMSG_ERROR, 7, &e, 2);
	assert_int_equal(nl_reply_parse(buf, n, 7, NULL, NULL), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(nl_reply_parse(buf, 10, 7, NULL, NULL), -1);
	assert_int_equal(errno, EPROTO);
}

static void
nl_attrs_bad(void **state)
{
	char			 buf[256] __attribute__((aligned(4)));
	struct nlmsghdr		*nh = (struct nlmsghdr *)buf;
	const struct rtattr	*tb[IFLA_MAX + 1];
	struct rtattr		*rta;

	(void)state;
	assert_int_equal(nlmsg_getlink(buf, sizeof(buf), "eth0"), 0);
	rta = (struct rtattr *)((char *)NLMSG_DATA(nh) + sizeof(struct ifinfomsg));
	rta->rta_len = 200;		/* past the message */
	assert_int_equal(nl_attrs_parse(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX + 1), -1);
	assert_int_equal(errno, EPROTO);
	rta->rta_len = 2;		/* shorter than its header */
	assert_int_equal(nl_attrs_parse(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX + 1), -1);
	nh->nlmsg_len = 20;		/* no room for the ifinfomsg */
	assert_int_equal(nl_attrs_parse(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX + 1), -1);
}

/*
 * The real kernel, in a network namespace of the test's own (root only):
 * what `ip` would do, checked by reading it back over netlink.
 */
static int	 home_ns = -1;

static int
netns_enter(void **state)
{
	(void)state;
	nl_close();
	if ((home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1 ||
	    unshare(CLONE_NEWNET) == -1) {
		if (home_ns != -1)
			close(home_ns);
		home_ns = -1;
	}
	return 0;
}

static int
netns_leave(void **state)
{
	(void)state;
	nl_close();
	if (home_ns != -1) {
		setns(home_ns, CLONE_NEWNET);
		close(home_ns);
		home_ns = -1;
	}
	return 0;
}

static int
sysctl_read(const char *path)
{
	char	 buf[16] = "";
	int	 fd;

	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	return atoi(buf);
}

/* A /proc file's text, in a static buffer. */
static const char *
file_text(const char *path)
{
	static char	 buf[8192];
	ssize_t		 n;
	int		 fd;

	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_true((n = read(fd, buf, sizeof(buf) - 1)) >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void
nl_live(void **state)
{
	struct nl_link	 lo, a, b, br;
	struct nl_ifaddr ads[4];
	struct nl_route	 r;
	size_t		 n;

	(void)state;
	if (home_ns == -1)
		skip();
	assert_int_equal(nl_link_get("lo", &lo), 0);
	assert_int_equal(nl_link_get("nbt-none", &a), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(nl_link_add("nbt0", "veth", "nbt1"), 0);
	assert_int_equal(nl_link_add("nbt0", "veth", "nbt1"), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(nl_link_get("nbt0", &a), 0);
	assert_int_equal(nl_link_get("nbt1", &b), 0);
	assert_int_not_equal(a.index, b.index);
	assert_int_equal(a.up, 0);
	assert_int_equal(nl_link_set(a.index, 1, 1460, -1), 0);
	assert_int_equal(nl_link_set(b.index, 1, 0, -1), 0);
	assert_int_equal(nl_link_get("nbt0", &a), 0);
	assert_int_equal(a.up, 1);
	assert_int_equal(a.mtu, 1460);

	/* GCE's lease: a /32, the gateway's link route, the default via it */
	assert_int_equal(nl_addr(RTM_NEWADDR, a.index, ip("10.128.0.2"), 32), 0);
	assert_int_equal(nl_addr(RTM_NEWADDR, a.index, ip("10.128.0.2"), 32), 0);	/* replace */
	memset(&r, 0, sizeof(r));
	r.gw = ip("10.128.0.1");
	r.oif = a.index;
	assert_int_equal(nl_route(RTM_NEWROUTE, &r), -1);	/* not reachable yet */
	assert_int_equal(errno, ENETUNREACH);
	memset(&r, 0, sizeof(r));
	r.dst = ip("10.128.0.1");
	r.prefix = 32;
	r.oif = a.index;
	assert_int_equal(nl_route(RTM_NEWROUTE, &r), 0);
	memset(&r, 0, sizeof(r));
	r.gw = ip("10.128.0.1");
	r.oif = a.index;
	assert_int_equal(nl_route(RTM_NEWROUTE, &r), 0);
	assert_int_equal(nl_route(RTM_NEWROUTE, &r), 0);	/* replace */
	/* an alias range */
	memset(&r, 0, sizeof(r));
	r.dst = ip("10.128.16.0");
	r.prefix = 28;
	r.oif = a.index;
	r.table = RT_TABLE_LOCAL;
	r.type = RTN_LOCAL;
	assert_int_equal(nl_route(RTM_NEWROUTE, &r), 0);
	assert_int_equal(nl_route(RTM_DELROUTE, &r), 0);
	assert_int_equal(nl_route(RTM_DELROUTE, &r), -1);
	assert_int_equal(errno, ESRCH);

	/* a bridge with the other end as its port */
	assert_int_equal(nl_link_add("nbtbr", "bridge", NULL), 0);
	assert_int_equal(nl_link_get("nbtbr", &br), 0);
	assert_int_equal(nl_link_set(b.index, -1, 0, br.index), 0);
	assert_int_equal(nl_link_get("nbt1", &b), 0);
	assert_int_equal(b.master, br.index);
	assert_int_equal(nl_addr(RTM_NEWADDR, br.index, ip("192.168.122.1"), 24), 0);
	assert_int_equal(nl_addr(RTM_NEWADDR, br.index, ip("192.168.100.1"), 24), 0);
	assert_int_equal(nl_addr_list(br.index, ads, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ads[0].prefix, 24);
	assert_int_equal(nl_addr(RTM_DELADDR, br.index, ip("192.168.100.1"), 24), 0);
	assert_int_equal(nl_addr_list(br.index, ads, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ads[0].addr.s_addr, ip("192.168.122.1").s_addr);
	assert_int_equal(nl_addr(RTM_DELADDR, br.index, ip("192.168.100.1"), 24), -1);
	assert_int_equal(errno, EADDRNOTAVAIL);

	/* bridge_setup: MTU capped by eth0's, the address changed in place */
	assert_int_equal(nl_link_add("eth0", "veth", "eth0p"), 0);
	assert_int_equal(nl_link_get("eth0", &a), 0);
	assert_int_equal(nl_link_set(a.index, -1, 1460, -1), 0);
	assert_int_equal(bridge_setup("virbr0", "192.168.122.1/24", 0), 0);
	assert_int_equal(nl_link_get("virbr0", &br), 0);
	assert_int_equal(br.mtu, 1460);
	assert_int_equal(br.up, 1);
	assert_int_equal(bridge_setup("virbr0", "10.0.5.1/24", 9000), 0);
	assert_int_equal(nl_link_get("virbr0", &br), 0);
	assert_int_equal(br.mtu, 1460);
	assert_int_equal(nl_addr_list(br.index, ads, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ads[0].addr.s_addr, ip("10.0.5.1").s_addr);
	/* no IPv6 on the guests' side: the bridge, and what is made after it */
	assert_int_equal(sysctl_read("/proc/sys/net/ipv6/conf/virbr0/disable_ipv6"), 1);
	assert_int_equal(sysctl_read("/proc/sys/net/ipv6/conf/virbr0/accept_ra"), 0);
	assert_int_equal(sysctl_read("/proc/sys/net/ipv4/conf/virbr0/rp_filter"), 1);
	assert_int_equal(sysctl_read("/proc/sys/net/ipv6/conf/default/disable_ipv6"), 1);
	/* a guest's tap (a veth here): no IPv6, locked to its MAC, up */
	assert_int_equal(nl_link_add("nbtap9", "veth", "nbtap9p"), 0);
	assert_int_equal(sysctl_read("/proc/sys/net/ipv6/conf/nbtap9/disable_ipv6"), 1);
	assert_int_equal(bridge_port_lock("nbtap9", (const uint8_t *)"\x52\x54\x00\x00\x00\x50"), 0);
	assert_int_equal(nl_link_get("nbtap9", &a), 0);
	assert_int_equal(a.master, br.index);
	assert_int_equal(a.up, 1);
	/* the L1's permanent neighbour entries follow the guests */
	bridge_neighbours(&(struct fw_port){ 9, { 0x52, 0x54, 0, 0, 0, 0x50 },
	    0x0a000532 }, 1);
	assert_non_null(strstr(file_text("/proc/net/arp"), "10.0.5.50        0x1         "
	    "0x6         52:54:00:00:00:50"));	/* ATF_COM | ATF_PERM */
	bridge_neighbours(NULL, 0);
	assert_null(strstr(file_text("/proc/net/arp"), "10.0.5.50 "));
	assert_int_equal(bridge_setup("virbr0", "10.0.5.1/31", 1400), -1);
	assert_int_equal(bridge_setup("virbr0", "10.0.5.1", 1400), -1);
	assert_int_equal(net_alias_routes((const char *[]){ "10.128.16.0/28", "10.128.17.5" }, 2), 0);
	assert_int_equal(net_alias_routes((const char *[]){ "10.128.16.0/28", "10.128.17.5/24" }, 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(net_alias_routes(NULL, 0), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(nl_addr_bytes),
	cmocka_unit_test(nl_addr_broadcast),
	cmocka_unit_test(nl_route_bytes),
	cmocka_unit_test(nl_route_local),
	cmocka_unit_test(nl_veth),
	cmocka_unit_test(nl_setlink),
	cmocka_unit_test(nl_overflow),
	cmocka_unit_test(nl_reply),
	cmocka_unit_test(nl_attrs_bad),
	cmocka_unit_test_setup_teardown(nl_live, netns_enter, netns_leave),
};
const struct suite netlink_suite = { tests, NTESTS(tests) };
