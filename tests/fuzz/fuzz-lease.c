/* Fuzz the DHCP lease parser with udhcpc's environment (one variable a
 * line), and check that every lease it accepts survives the lease file:
 * written by lease_format and read back, it is the same lease. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "sys/sys.h"
#include "md/md.h"
#include "net/net.h"
#include "ctl/ctl.h"
#include "guest/guest.h"
#include "tools/tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VARS	64

static size_t
split(char *s, size_t len, const char *envp[])
{
	char	*cur = s, *line;
	size_t	 n = 0;

	while (n < VARS && (line = next_line(&cur, s + len)) != NULL)
		envp[n++] = line;
	envp[n] = NULL;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lease	 l, back;
	const char		*envp[VARS + 1];
	char			*s, err[160], buf[8192];
	int			 n;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	split(s, size, envp);
	if (dhcp_lease_parse(envp, &l, err, sizeof(err)) == 0) {
		resolv_format(&l, buf, sizeof(buf));
		hosts_format(&l, buf, sizeof(buf));
		lease_gateway(&l);
		if ((n = lease_format(&l, buf, sizeof(buf))) == -1)
			abort();	/* the buffer holds any valid lease */
		split(buf, n, envp);
		if (dhcp_lease_parse(envp, &back, err, sizeof(err)) == -1)
			abort();
		/* what the file does not keep: the refusals */
		l.mtu_refused = 0;
		l.hostname_refused = 0;
		if (memcmp(&l, &back, sizeof(l)) != 0)
			abort();
	}
	free(s);
	return 0;
}
