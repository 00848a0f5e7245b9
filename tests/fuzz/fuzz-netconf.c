/* Fuzz the nestbox-network value: netconf_parse() on any bytes, and for
 * every value it accepts, the checks and the generators that follow it
 * (dnsmasq's config and the iptables ruleset), which must fit and agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "sys/sys.h"
#include "md/md.h"
#include "net/net.h"
#include "net/net-internal.h"
#include "ctl/ctl.h"
#include "guest/guest.h"
#include "tools/tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 buf[65536];
	struct netconf	 nc;
	char		 err[256], *s;

	/* exactly size bytes, no NUL after them: the parser must not need one */
	if ((s = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	if (netconf_parse(s, size, &nc, err, sizeof(err)) == 0) {
		if (nc.prefix < 16 || nc.prefix > 29 || !netconf_contains(&nc, nc.addr) ||
		    !netconf_contains(&nc, nc.range_start) ||
		    !netconf_contains(&nc, nc.range_end) || nc.range_start > nc.range_end ||
		    (nc.addr >= nc.range_start && nc.addr <= nc.range_end) ||
		    netconf_range_size(&nc) == 0)
			abort();
		netconf_check(&nc, 0x0a800005, err, sizeof(err));
		if (dnsmasq_config(&nc, netconf_mtu(&nc, 1460), buf, sizeof(buf)) <= 0 ||
		    firewall_rules(&nc, NULL, 0, NULL, 0, 0x0a800005, buf, sizeof(buf)) <= 0)
			abort();
	} else if (strncmp(err, "nestbox-network: ", 17) != 0)
		abort();
	free(s);
	return 0;
}
