/*
 * rtnetlink, with the discipline of iproute2's lib/libnetlink.c and libmnl:
 * every attribute is appended through one function that checks it against
 * the buffer, every reply is matched to its request by sequence number
 * (a late answer to an earlier request is skipped, never taken for this
 * one), and an NLMSG_ERROR becomes errno. The nlmsg_* functions only build
 * messages, so the unit tests compare their bytes; nl_* talk to the kernel.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "net/net-internal.h"

#define NL_RECVBUF	32768	/* the kernel's replies fit in a page or two */

/* The header of an empty message with a family header of hdrlen bytes. */
static struct nlmsghdr *
nl_msg_init(void *buf, size_t size, uint16_t type, uint16_t flags, size_t hdrlen)
{
	struct nlmsghdr	*nh = buf;
	size_t		 len = NLMSG_LENGTH(hdrlen);

	if (size < NLMSG_ALIGN(len)) {
		errno = EMSGSIZE;
		return NULL;
	}
	memset(buf, 0, NLMSG_ALIGN(len));
	nh->nlmsg_len = len;
	nh->nlmsg_type = type;
	nh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nh;
}

/* EMSGSIZE when the attribute does not fit in size bytes. */
int
nl_attr_put(struct nlmsghdr *nh, size_t size, uint16_t type, const void *data,
    size_t len)
{
	struct rtattr	*rta;
	size_t		 at = NLMSG_ALIGN(nh->nlmsg_len);

	if (len > UINT16_MAX - RTA_LENGTH(0) ||
	    at + RTA_SPACE(len) > size || at + RTA_SPACE(len) > UINT32_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	rta = (struct rtattr *)((char *)nh + at);
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(rta), data, len);
	/* the padding is zero, so the bytes of a message are reproducible */
	memset((char *)RTA_DATA(rta) + len, 0, RTA_SPACE(len) - RTA_LENGTH(len));
	nh->nlmsg_len = at + RTA_SPACE(len);
	return 0;
}

static int
nl_attr_put_u32(struct nlmsghdr *nh, size_t size, uint16_t type, uint32_t v)
{
	return nl_attr_put(nh, size, type, &v, sizeof(v));
}

static int
nl_attr_put_str(struct nlmsghdr *nh, size_t size, uint16_t type, const char *s)
{
	return nl_attr_put(nh, size, type, s, strlen(s) + 1);
}

/* An empty attribute whose length nl_nest_end() fixes; NULL: EMSGSIZE. */
static struct rtattr *
nl_nest_start(struct nlmsghdr *nh, size_t size, uint16_t type)
{
	struct rtattr	*rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	if (nl_attr_put(nh, size, type, NULL, 0) == -1)
		return NULL;
	return rta;
}

static int
nl_nest_end(struct nlmsghdr *nh, struct rtattr *nest)
{
	size_t	 len = (char *)nh + nh->nlmsg_len - (char *)nest;

	if (len > UINT16_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	nest->rta_len = len;
	return 0;
}

/* RTM_GETLINK of one link by name. */
int
nlmsg_getlink(void *buf, size_t size, const char *name)
{
	struct nlmsghdr	*nh;

	if (strlen(name) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* with NLM_F_ACK the answer is followed by an ACK: a reply with an end */
	if ((nh = nl_msg_init(buf, size, RTM_GETLINK, NLM_F_ACK,
	    sizeof(struct ifinfomsg))) == NULL)
		return -1;
	return nl_attr_put_str(nh, size, IFLA_IFNAME, name);
}

/*
 * Changes a link: up 1 or 0 (-1: leave it), mtu (0: leave it), master
 * (an index, 0: no master, -1: leave it). As `ip link set`.
 */
int
nlmsg_setlink(void *buf, size_t size, int index, int up, unsigned mtu, int master)
{
	struct nlmsghdr		*nh;
	struct ifinfomsg	*ifi;

	if ((nh = nl_msg_init(buf, size, RTM_NEWLINK, NLM_F_ACK,
	    sizeof(*ifi))) == NULL)
		return -1;
	ifi = NLMSG_DATA(nh);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	if (up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = up ? IFF_UP : 0;
	}
	if (mtu > 0 && nl_attr_put_u32(nh, size, IFLA_MTU, mtu) == -1)
		return -1;
	if (master >= 0 && nl_attr_put_u32(nh, size, IFLA_MASTER, master) == -1)
		return -1;
	return 0;
}

/*
 * A bridge port locked to what the bridge's table says (Linux 5.18's
 * IFLA_BRPORT_LOCKED): a frame whose source MAC has no entry pointing at
 * this port is dropped, and the port learns nothing.
 */
int
nlmsg_portlock(void *buf, size_t size, int index)
{
	struct nlmsghdr		*nh;
	struct ifinfomsg	*ifi;
	struct rtattr		*nest;
	uint8_t			 off = 0, on = 1;

	if ((nh = nl_msg_init(buf, size, RTM_SETLINK, NLM_F_ACK, sizeof(*ifi))) == NULL)
		return -1;
	ifi = NLMSG_DATA(nh);
	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = index;
	if ((nest = nl_nest_start(nh, size, IFLA_PROTINFO | NLA_F_NESTED)) == NULL ||
	    nl_attr_put(nh, size, IFLA_BRPORT_LEARNING, &off, 1) == -1 ||
	    nl_attr_put(nh, size, IFLA_BRPORT_LOCKED, &on, 1) == -1)
		return -1;
	return nl_nest_end(nh, nest);
}

/*
 * The L1's own neighbour entry for addr on link index (cmd RTM_NEWNEIGH:
 * permanent, mac; RTM_DELNEIGH: removed). A permanent entry is never
 * changed by ARP.
 */
int
nlmsg_neigh(void *buf, size_t size, int cmd, int index, struct in_addr addr,
    const uint8_t mac[6])
{
	struct nlmsghdr	*nh;
	struct ndmsg	*nd;

	if ((nh = nl_msg_init(buf, size, cmd, NLM_F_ACK | (cmd == RTM_NEWNEIGH ?
	    NLM_F_CREATE | NLM_F_REPLACE : 0), sizeof(*nd))) == NULL)
		return -1;
	nd = NLMSG_DATA(nh);
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = index;
	nd->ndm_state = cmd == RTM_NEWNEIGH ? NUD_PERMANENT : 0;
	if (nl_attr_put(nh, size, NDA_DST, &addr, sizeof(addr)) == -1)
		return -1;
	if (cmd == RTM_NEWNEIGH && nl_attr_put(nh, size, NDA_LLADDR, mac, 6) == -1)
		return -1;
	return 0;
}

/* A static entry in the bridge's table: mac is behind port index. */
int
nlmsg_fdb_static(void *buf, size_t size, int index, const uint8_t mac[6])
{
	struct nlmsghdr	*nh;
	struct ndmsg	*nd;

	if ((nh = nl_msg_init(buf, size, RTM_NEWNEIGH,
	    NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sizeof(*nd))) == NULL)
		return -1;
	nd = NLMSG_DATA(nh);
	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = index;
	nd->ndm_state = NUD_NOARP;
	nd->ndm_flags = NTF_MASTER;
	return nl_attr_put(nh, size, NDA_LLADDR, mac, 6);
}

/*
 * Creates a link of kind ("bridge", "veth"); for a veth, peer names the
 * other end. Fails with EEXIST if name exists.
 */
int
nlmsg_newlink(void *buf, size_t size, const char *name, const char *kind,
    const char *peer)
{
	struct nlmsghdr		*nh;
	struct ifinfomsg	*ifi, pifi;
	struct rtattr		*info, *data, *p;
	size_t			 at;

	if (strlen(name) >= IFNAMSIZ || (peer != NULL && strlen(peer) >= IFNAMSIZ)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((nh = nl_msg_init(buf, size, RTM_NEWLINK,
	    NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi))) == NULL)
		return -1;
	ifi = NLMSG_DATA(nh);
	ifi->ifi_family = AF_UNSPEC;
	if (nl_attr_put_str(nh, size, IFLA_IFNAME, name) == -1 ||
	    (info = nl_nest_start(nh, size, IFLA_LINKINFO)) == NULL ||
	    nl_attr_put_str(nh, size, IFLA_INFO_KIND, kind) == -1)
		return -1;
	if (peer != NULL) {
		/* VETH_INFO_PEER holds an ifinfomsg, then the peer's attributes */
		memset(&pifi, 0, sizeof(pifi));
		if ((data = nl_nest_start(nh, size, IFLA_INFO_DATA)) == NULL ||
		    (p = nl_nest_start(nh, size, VETH_INFO_PEER)) == NULL)
			return -1;
		at = nh->nlmsg_len;
		if (at + sizeof(pifi) > size) {
			errno = EMSGSIZE;
			return -1;
		}
		memcpy((char *)nh + at, &pifi, sizeof(pifi));
		nh->nlmsg_len = at + NLMSG_ALIGN(sizeof(pifi));
		if (nl_attr_put_str(nh, size, IFLA_IFNAME, peer) == -1 ||
		    nl_nest_end(nh, p) == -1 || nl_nest_end(nh, data) == -1)
			return -1;
	}
	return nl_nest_end(nh, info);
}

/* RTM_NEWADDR (as `ip addr replace`) or RTM_DELADDR of addr/prefix. */
int
nlmsg_addr(void *buf, size_t size, int cmd, int index, struct in_addr addr,
    int prefix)
{
	struct nlmsghdr		*nh;
	struct ifaddrmsg	*ifa;
	uint32_t		 brd;

	if (prefix < 0 || prefix > 32 || (cmd != RTM_NEWADDR && cmd != RTM_DELADDR)) {
		errno = EINVAL;
		return -1;
	}
	if ((nh = nl_msg_init(buf, size, cmd, NLM_F_ACK | (cmd == RTM_NEWADDR ?
	    NLM_F_CREATE | NLM_F_REPLACE : 0), sizeof(*ifa))) == NULL)
		return -1;
	ifa = NLMSG_DATA(nh);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_index = index;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	if (nl_attr_put(nh, size, IFA_LOCAL, &addr, 4) == -1 ||
	    nl_attr_put(nh, size, IFA_ADDRESS, &addr, 4) == -1)
		return -1;
	/* as `ip addr add ... brd +`: libvirt's bridge has one */
	if (cmd == RTM_NEWADDR && prefix < 31) {
		brd = addr.s_addr | htonl(prefix ? 0xffffffffu >> prefix : 0xffffffffu);
		if (nl_attr_put(nh, size, IFA_BROADCAST, &brd, 4) == -1)
			return -1;
	}
	return 0;
}

/* RTM_GETADDR: a dump of the IPv4 addresses (the kernel sends them all). */
int
nlmsg_getaddr(void *buf, size_t size)
{
	struct nlmsghdr		*nh;
	struct ifaddrmsg	*ifa;

	if ((nh = nl_msg_init(buf, size, RTM_GETADDR, NLM_F_DUMP,
	    sizeof(*ifa))) == NULL)
		return -1;
	ifa = NLMSG_DATA(nh);
	ifa->ifa_family = AF_INET;
	return 0;
}

/*
 * RTM_NEWROUTE (as `ip route replace`) or RTM_DELROUTE. A gateway of
 * 0.0.0.0 means none; table, type, scope and protocol 0 mean main,
 * unicast, universe (link without a gateway) and boot.
 */
int
nlmsg_route(void *buf, size_t size, int cmd, const struct nl_route *r)
{
	struct nlmsghdr	*nh;
	struct rtmsg	*rtm;
	uint32_t	 mask;

	if (r->prefix < 0 || r->prefix > 32 || (cmd != RTM_NEWROUTE &&
	    cmd != RTM_DELROUTE)) {
		errno = EINVAL;
		return -1;
	}
	mask = r->prefix ? htonl(0xffffffffu << (32 - r->prefix)) : 0;
	if ((r->dst.s_addr & ~mask) != 0) {	/* the kernel refuses it too */
		errno = EINVAL;
		return -1;
	}
	if ((nh = nl_msg_init(buf, size, cmd, NLM_F_ACK | (cmd == RTM_NEWROUTE ?
	    NLM_F_CREATE | NLM_F_REPLACE : 0), sizeof(*rtm))) == NULL)
		return -1;
	rtm = NLMSG_DATA(nh);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = r->prefix;
	rtm->rtm_table = r->table ? r->table : RT_TABLE_MAIN;
	rtm->rtm_protocol = r->protocol ? r->protocol : RTPROT_BOOT;
	rtm->rtm_type = r->type ? r->type : RTN_UNICAST;
	if (r->scope)
		rtm->rtm_scope = r->scope;
	else if (rtm->rtm_type == RTN_LOCAL)
		rtm->rtm_scope = RT_SCOPE_HOST;
	else if (r->gw.s_addr == 0)
		rtm->rtm_scope = RT_SCOPE_LINK;
	else
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	if (cmd == RTM_DELROUTE)
		rtm->rtm_scope = RT_SCOPE_NOWHERE;	/* matches any scope */
	if (r->prefix > 0 && nl_attr_put(nh, size, RTA_DST, &r->dst, 4) == -1)
		return -1;
	if (r->gw.s_addr != 0 && nl_attr_put(nh, size, RTA_GATEWAY, &r->gw, 4) == -1)
		return -1;
	if (r->oif > 0 && nl_attr_put_u32(nh, size, RTA_OIF, r->oif) == -1)
		return -1;
	return 0;
}

/*
 * Fills tb[type] for each attribute of a message whose family header is
 * hdrlen bytes; types >= max are skipped, the last of a repeated type wins.
 * EPROTO when an attribute runs past the message.
 */
int
nl_attrs_parse(const struct nlmsghdr *nh, size_t hdrlen, const struct rtattr *tb[],
    size_t max)
{
	const struct rtattr	*rta;
	size_t			 left;

	memset(tb, 0, max * sizeof(*tb));
	if (nh->nlmsg_len < NLMSG_SPACE(hdrlen)) {
		errno = EPROTO;
		return -1;
	}
	left = nh->nlmsg_len - NLMSG_SPACE(hdrlen);
	rta = (const struct rtattr *)((const char *)NLMSG_DATA(nh) + NLMSG_ALIGN(hdrlen));
	while (left >= sizeof(*rta)) {
		if (rta->rta_len < sizeof(*rta) || rta->rta_len > left) {
			errno = EPROTO;
			return -1;
		}
		if (rta->rta_type < max)
			tb[rta->rta_type] = rta;
		if (RTA_ALIGN(rta->rta_len) >= left)
			break;
		left -= RTA_ALIGN(rta->rta_len);
		rta = (const struct rtattr *)((const char *)rta + RTA_ALIGN(rta->rta_len));
	}
	return 0;
}

/*
 * Walks the messages of one datagram from the kernel. Messages of another
 * sequence number are skipped; each data message of seq goes to cb (which
 * may be NULL, and returns 0 or -1 with errno). Returns 1 when the reply is
 * complete (an ACK, NLMSG_DONE), 0 when more datagrams follow, -1 with
 * errno: the kernel's error, cb's, or EPROTO for a malformed datagram.
 */
int
nl_reply_parse(const void *buf, size_t len, uint32_t seq,
    int (*cb)(const struct nlmsghdr *, void *), void *arg)
{
	const char		*p = buf;
	const struct nlmsghdr	*nh;
	const struct nlmsgerr	*e;
	size_t			 left, step;
	int			 err;

	for (left = len; left > 0; p += step, left -= step) {
		nh = (const struct nlmsghdr *)p;
		if (left < sizeof(*nh) || nh->nlmsg_len < sizeof(*nh) ||
		    nh->nlmsg_len > left) {
			errno = EPROTO;
			return -1;
		}
		/* the last message of a datagram need not be padded */
		step = NLMSG_ALIGN(nh->nlmsg_len) < left ? NLMSG_ALIGN(nh->nlmsg_len) : left;
		if (nh->nlmsg_seq != seq)
			continue;
		switch (nh->nlmsg_type) {
		case NLMSG_NOOP:
			break;
		case NLMSG_ERROR:
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
				errno = EPROTO;
				return -1;
			}
			e = NLMSG_DATA(nh);
			if (e->error == 0)
				return 1;
			/* a positive or absurd error is a broken reply */
			errno = e->error < 0 && e->error > -4096 ? -e->error : EPROTO;
			return -1;
		case NLMSG_DONE:
			/* since 4.x a dump's DONE carries an int error */
			if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
				memcpy(&err, NLMSG_DATA(nh), sizeof(err));
				if (err < 0 && err > -4096) {
					errno = -err;
					return -1;
				}
			}
			return 1;
		default:
			if (cb != NULL && cb(nh, arg) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

static int	 nlfd = -1;
static uint32_t	 nlseq;

static int
nl_socket(void)
{
	struct sockaddr_nl	 sa;

	if (nlfd != -1)
		return 0;
	if ((nlfd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (bind(nlfd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(nlfd);
		nlfd = -1;
		return -1;
	}
	nlseq = (uint32_t)now_ms();	/* not 0, not the last process's */
	return 0;
}

/* The socket belongs to the namespace it was opened in: the tests close it. */
void
nl_close(void)
{
	if (nlfd != -1)
		close(nlfd);
	nlfd = -1;
}

/*
 * Sends a request built by an nlmsg_* function and reads until its reply is
 * complete, handing each data message to cb. Every request asks for an ACK
 * or is a dump, so every reply has an end.
 */
static int
nl_talk(void *msg, int (*cb)(const struct nlmsghdr *, void *), void *arg)
{
	static char		 buf[NL_RECVBUF] __attribute__((aligned(4)));
	struct nlmsghdr		*nh = msg;
	struct sockaddr_nl	 sa;
	struct iovec		 iov = { buf, sizeof(buf) };
	struct msghdr		 mh;
	ssize_t			 n;
	int			 rv;

	if (nl_socket() == -1)
		return -1;
	nh->nlmsg_seq = ++nlseq;
	nh->nlmsg_pid = 0;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (sendto(nlfd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		return -1;
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &sa;
		mh.msg_namelen = sizeof(sa);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if ((n = recvmsg(nlfd, &mh, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			errno = EMSGSIZE;
			return -1;
		}
		if (sa.nl_pid != 0)	/* not from the kernel */
			continue;
		if ((rv = nl_reply_parse(buf, n, nh->nlmsg_seq, cb, arg)) != 0)
			return rv == 1 ? 0 : -1;
	}
}

/* nl_talk callbacks, public for the fuzz target: an RTM_NEWLINK into a struct nl_link */
int
nl_parse_link(const struct nlmsghdr *nh, void *arg)
{
	struct nl_link		*l = arg;
	const struct ifinfomsg	*ifi = NLMSG_DATA(nh);
	const struct rtattr	*tb[IFLA_MAX + 1];

	if (nh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nl_attrs_parse(nh, sizeof(*ifi), tb, IFLA_MAX + 1) == -1)
		return -1;
	l->index = ifi->ifi_index;
	l->up = (ifi->ifi_flags & IFF_UP) != 0;
	if (tb[IFLA_MTU] && RTA_PAYLOAD(tb[IFLA_MTU]) >= 4)
		memcpy(&l->mtu, RTA_DATA(tb[IFLA_MTU]), 4);
	if (tb[IFLA_MASTER] && RTA_PAYLOAD(tb[IFLA_MASTER]) >= 4)
		memcpy(&l->master, RTA_DATA(tb[IFLA_MASTER]), 4);
	return 0;
}

/* ENODEV if there is no such link. */
int
nl_link_get(const char *name, struct nl_link *l)
{
	char	 buf[256] __attribute__((aligned(4)));

	memset(l, 0, sizeof(*l));
	if (nlmsg_getlink(buf, sizeof(buf), name) == -1 ||
	    nl_talk(buf, nl_parse_link, l) == -1)
		return -1;
	if (l->index == 0) {
		errno = ENODEV;
		return -1;
	}
	return 0;
}

int
nl_link_set(int index, int up, unsigned mtu, int master)
{
	char	 buf[256] __attribute__((aligned(4)));

	if (nlmsg_setlink(buf, sizeof(buf), index, up, mtu, master) == -1)
		return -1;
	return nl_talk(buf, NULL, NULL);
}

int
nl_port_lock(int index, const uint8_t mac[6])
{
	char	 buf[256] __attribute__((aligned(4)));

	if (nlmsg_fdb_static(buf, sizeof(buf), index, mac) == -1 ||
	    nl_talk(buf, NULL, NULL) == -1)
		return -1;
	if (nlmsg_portlock(buf, sizeof(buf), index) == -1)
		return -1;
	return nl_talk(buf, NULL, NULL);
}

int
nl_neigh(int cmd, int index, struct in_addr addr, const uint8_t mac[6])
{
	char	 buf[256] __attribute__((aligned(4)));

	if (nlmsg_neigh(buf, sizeof(buf), cmd, index, addr, mac) == -1)
		return -1;
	return nl_talk(buf, NULL, NULL);
}

int
nl_link_add(const char *name, const char *kind, const char *peer)
{
	char	 buf[512] __attribute__((aligned(4)));

	if (nlmsg_newlink(buf, sizeof(buf), name, kind, peer) == -1)
		return -1;
	return nl_talk(buf, NULL, NULL);
}

int
nl_addr(int cmd, int index, struct in_addr addr, int prefix)
{
	char	 buf[256] __attribute__((aligned(4)));

	if (nlmsg_addr(buf, sizeof(buf), cmd, index, addr, prefix) == -1)
		return -1;
	return nl_talk(buf, NULL, NULL);
}

/* RTM_NEWADDR of w->index into w->v */
int
nl_parse_addr(const struct nlmsghdr *nh, void *arg)
{
	struct nl_addrs		*w = arg;
	const struct ifaddrmsg	*ifa = NLMSG_DATA(nh);
	const struct rtattr	*tb[IFA_MAX + 1], *a;

	if (nh->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (nl_attrs_parse(nh, sizeof(*ifa), tb, IFA_MAX + 1) == -1)
		return -1;
	if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != w->index)
		return 0;
	if ((a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]) == NULL ||
	    RTA_PAYLOAD(a) != 4 || w->n == w->max)
		return 0;
	memcpy(&w->v[w->n].addr, RTA_DATA(a), 4);
	w->v[w->n++].prefix = ifa->ifa_prefixlen;
	return 0;
}

/* The IPv4 addresses of a link, at most max of them. */
int
nl_addr_list(int index, struct nl_ifaddr *v, size_t max, size_t *n)
{
	char			 buf[64] __attribute__((aligned(4)));
	struct nl_addrs		 w = { index, v, max, 0 };

	if (nlmsg_getaddr(buf, sizeof(buf)) == -1 || nl_talk(buf, nl_parse_addr, &w) == -1)
		return -1;
	*n = w.n;
	return 0;
}

int
nl_route(int cmd, const struct nl_route *r)
{
	char	 buf[256] __attribute__((aligned(4)));

	if (nlmsg_route(buf, sizeof(buf), cmd, r) == -1)
		return -1;
	return nl_talk(buf, NULL, NULL);
}
