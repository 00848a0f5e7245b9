#include <errno.h>
#include <string.h>

#include "unit.h"
#include "net/net-internal.h"

static void
dnsmasq_default(void **state)
{
	struct netconf	 nc;
	char		 buf[2048];
	int		 len;

	(void)state;
	netconf_default(&nc);
	assert_true((len = dnsmasq_config(&nc, 1460, buf, sizeof(buf))) > 0);
	assert_int_equal(len, strlen(buf));
	golden("dnsmasq-default.conf", buf);
	/* an MTU of 1500 is every guest's default: no option */
	assert_true(dnsmasq_config(&nc, 1500, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "option:mtu"));
}

static void
dnsmasq_override(void **state)
{
	struct netconf	 nc;
	char		 buf[2048], err[256];
	const char	*json = "{\"subnet\": \"10.20.0.0/24\", \"dhcp_range\": "
	    "\"10.20.0.100-10.20.0.199\", \"mtu\": 1400, \"lease_time\": 86400}";

	(void)state;
	assert_int_equal(netconf_parse(json, strlen(json), &nc, err, sizeof(err)), 0);
	assert_true(dnsmasq_config(&nc, netconf_mtu(&nc, 1460), buf, sizeof(buf)) > 0);
	golden("dnsmasq-override.conf", buf);
}

static void
dnsmasq_short(void **state)
{
	struct netconf	 nc;
	char		 buf[2048];
	int		 len, n;

	(void)state;
	netconf_default(&nc);
	len = dnsmasq_config(&nc, 1460, buf, sizeof(buf));
	for (n = 0; n <= len; n++) {
		errno = 0;
		assert_int_equal(dnsmasq_config(&nc, 1460, buf, n), -1);
		assert_int_equal(errno, ENOSPC);
	}
	assert_int_equal(dnsmasq_config(&nc, 1460, buf, len + 1), len);
}

static void
dnsmasq_hostsfile(void **state)
{
	static const struct static_lease leases[] = {
		{ "52:54:00:12:34:56", "192.168.122.10", "web" },
		{ "52:54:00:AB:CD:EF", "192.168.122.11", NULL },
		{ "52:54:00:00:00:01", "10.0.0.5", "moved" },
		{ "52:54:00:00:00:02", "192.168.122.1", "bridge" },
	};
	static const struct static_lease malformed[] = {
		{ "52:54:00:12:34", "192.168.122.10", "a" },
		{ "52:54:00:12:34:5g", "192.168.122.10", "a" },
		{ "52-54-00-12-34-56", "192.168.122.10", "a" },
		{ "52:54:00:12:34:56", "192.168.122.010", "a" },
		{ "52:54:00:12:34:56", "192.168.122.10\n", "a" },
		{ "52:54:00:12:34:56", NULL, "a" },
		{ NULL, "192.168.122.10", "a" },
		{ "52:54:00:12:34:56", "192.168.122.10", "a,b" },
		{ "52:54:00:12:34:56", "192.168.122.10", "-a" },
		{ "52:54:00:12:34:56", "192.168.122.10", "" },
		{ "52:54:00:12:34:56", "192.168.122.10", "web\nserver=1.2.3.4" },
	};
	struct netconf	 nc;
	char		 buf[1024];
	size_t		 i;

	(void)state;
	netconf_default(&nc);
	assert_true(dnsmasq_hosts(&nc, leases, NTESTS(leases), buf, sizeof(buf)) > 0);
	golden("dnsmasq.hosts", buf);
	assert_true(dnsmasq_hosts(&nc, NULL, 0, buf, sizeof(buf)) > 0);
	for (i = 0; i < NTESTS(malformed); i++) {
		errno = 0;
		if (dnsmasq_hosts(&nc, &malformed[i], 1, buf, sizeof(buf)) != -1)
			fail_msg("accepted lease %zu", i);
		assert_int_equal(errno, EINVAL);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(dnsmasq_default),
	cmocka_unit_test(dnsmasq_override),
	cmocka_unit_test(dnsmasq_short),
	cmocka_unit_test(dnsmasq_hostsfile),
};

const struct suite dnsmasq_suite = { tests, NTESTS(tests) };
