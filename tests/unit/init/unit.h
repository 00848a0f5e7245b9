/* The unit tests of nestbox's PID 1: one cmocka group, TAP on stdout. */
#ifndef UNIT_H
#define UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/core.h"
#include "sys/sys.h"
#include "md/md.h"
#include "net/net.h"
#include "ctl/ctl.h"
#include "guest/guest.h"
#include "tools/tools.h"
/* and what each folder keeps for itself and its tests */
#include "core/core-internal.h"
#include "sys/sys-internal.h"
#include "ctl/ctl-internal.h"
#include "guest/guest-internal.h"
#include "md/md-internal.h"
#include "net/net-internal.h"

#define NTESTS(a)	(sizeof(a) / sizeof((a)[0]))

struct suite {
	const struct CMUnitTest	*tests;
	size_t			 n;
};

extern const struct suite cpu_suite, log_suite, modules_suite, mount_suite,
    proc_suite, shutdown_suite, util_suite;
extern const struct suite netconf_suite, dnsmasq_suite, firewall_suite;
extern const struct suite kvm_suite, netlink_suite, dhcp_suite;
extern const struct suite metadata_suite, status_suite;
extern const struct suite guest_suite, qemu_suite;
extern const struct suite fetch_suite;
extern const struct suite qmp_suite;
extern const struct suite vm_suite;
extern const struct suite store_suite, seed_suite;
extern const struct suite control_suite;
extern const struct suite contain_suite;

/* main.c: fixtures */
char	*tmpdir(void);				/* a fresh directory; free() it */
void	 rmtree(char *dir);			/* and free() */
void	 put_file(const char *dir, const char *name, const char *text);
int	 log_capture(void);			/* the log goes to a memfd */
char	*log_captured(int fd);			/* what it got; free() it */
char	*dupstr(const char *);			/* a heap copy, so ASan sees overruns */

/* guest.c: every error of docs/guests.md, with the document that makes it
 * and what the L1 has (vm.c runs `nestbox check` and PID 1 over them) */
struct guest_case {
	const char	*doc;
	const char	*msg;
	size_t		 len;		/* 0: strlen(doc) */
	const char	*network;	/* a nestbox-network value; NULL: the defaults */
	const char	*aliases;	/* "a.b.c.d/n,..."; NULL: not known */
};
extern const struct guest_case *const guest_cases;
extern const size_t guest_ncases;
void	 guest_case_env(const struct guest_case *, struct guest_env *);
size_t	 guest_case_len(const struct guest_case *);

/* golden.c */
void	 golden(const char *name, const char *text);	/* == tests/unit/golden/NAME */

#endif
