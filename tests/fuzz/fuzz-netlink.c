/* Fuzz the netlink reply parser with a datagram as the kernel would send
 * it, through the callbacks that read links and addresses out of it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "core/core.h"
#include "sys/sys.h"
#include "md/md.h"
#include "net/net.h"
#include "net/net-internal.h"
#include "ctl/ctl.h"
#include "guest/guest.h"
#include "tools/tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
both(const struct nlmsghdr *nh, void *arg)
{
	static struct nl_ifaddr	 v[4];
	struct nl_addrs		 a = { 2, v, 4, 0 };
	struct nl_link		 l;
	const struct rtattr	*tb[IFLA_MAX + 1];

	(void)arg;
	memset(&l, 0, sizeof(l));
	if (nl_parse_link(nh, &l) == -1 || nl_parse_addr(nh, &a) == -1)
		return -1;
	nl_attrs_parse(nh, sizeof(struct rtmsg), tb, IFLA_MAX + 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t	*buf;
	uint32_t	 seq = 0;

	/* the kernel's datagrams are aligned; the first message's seq is ours */
	if ((buf = malloc(size + 4)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (size >= sizeof(struct nlmsghdr))
		seq = ((struct nlmsghdr *)buf)->nlmsg_seq;
	nl_reply_parse(buf, size, seq, both, NULL);
	free(buf);
	return 0;
}
