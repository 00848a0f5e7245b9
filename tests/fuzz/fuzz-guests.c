/* Fuzz the nestbox-guests declaration: guests_parse() on any bytes; every
 * guest it keeps must satisfy the documented limits, fit QEMU's command line
 * in the documented buffer sizes, and survive the network check. Every
 * message names the document or a guest. */
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
#include "guest/guest-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 buf[QEMU_BUF_MAX];
	static char		*argv[QEMU_ARGV_MAX];
	struct guest_set	 set;
	struct guest_errors	 errs;
	struct qemu_env		 env;
	struct guest_env	 ge;
	const char		*ranges[] = { "10.128.16.0/28", "10.0.0.7" };
	const struct guest	*g;
	size_t			 i, j;
	char			*s;
	int			 rv;

	/* exactly size bytes, no NUL after them: the parser must not need one */
	if ((s = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	rv = guests_parse(s, size, &set, &errs);
	free(s);
	if (rv == -1 && (!errs.document || set.n != 0 || errs.n != 1))
		abort();
	memset(&env, 0, sizeof(env));
	env.run_dir = "/run/nestbox/guests/x";
	env.console_log = "/state/guests/x/console.log";
	env.tap = "nbt0";
	env.kernel = env.initrd = "/state/cache/k";
	env.seed = "/state/seeds/x.img";
	for (i = 0; i < GUEST_DISKS_MAX; i++)
		env.disk[i] = "/state/overlays/x/disk,0.qcow2";
	for (i = 0; i < set.n; i++) {
		g = &set.v[i];
		if (g->name[0] < 'a' || g->name[0] > 'z' || strlen(g->name) > 63 ||
		    g->vcpus < 1 || g->vcpus > GUEST_VCPUS_MAX ||
		    g->memory < GUEST_MEM_MIN || g->memory > GUEST_MEM_MAX ||
		    g->ndisks > GUEST_DISKS_MAX || (g->ndisks == 0 && g->kernel.kind == SRC_NONE) ||
		    g->nforwards > GUEST_FORWARDS_MAX || g->nqemu_args % 2 != 0 ||
		    (g->mac[0] & 1) || g->decl == NULL)
			abort();
		for (j = 0; j < g->ndisks; j++)
			if (g->disks[j].src.uri == NULL || g->disks[j].src.ref < g->disks[j].src.uri)
				abort();
		for (j = 0; j < g->nqemu_args; j += 2)
			if (guest_qemu_arg_ok(g->qemu_args[j], g->qemu_args[j + 1], buf,
			    sizeof(buf)) != 0)
				abort();
		env.kvm = (int)(i & 1);
		env.vhost = env.direct_io = (int)(i & 2);
		if (qemu_argv(g, &env, buf, sizeof(buf), argv, QEMU_ARGV_MAX) <= 0)
			abort();
	}
	/* against the L2 network and alias ranges, as PID 1 does */
	memset(&ge, 0, sizeof(ge));
	netconf_default(&ge.net);
	ge.have_net = 1;
	ge.l1 = 0x0a800005;
	if (guest_env_aliases(&ge, ranges, 2) == -1)
		abort();
	guests_check_net(&set, &ge, &errs);
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.v[i], "guest ", 6) != 0 &&
		    strncmp(errs.v[i], "nestbox-guests: ", 16) != 0)
			abort();
	guests_free(&set);
	guest_errors_free(&errs);
	return 0;
}
