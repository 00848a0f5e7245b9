/* Fuzz the parsers of the boot's module data: the module list, modules.dep
 * (with a dependency plan for every entry), modules.builtin, cpuinfo and the
 * mount table. All of them take a writable buffer and its length. */
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
#include "sys/sys-internal.h"
#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct modlist	 list;
	struct moddep	 dep;
	struct names	 builtin;
	struct cpu	 cpu;
	struct modentry	*order[64];
	const char	*culprit;
	char		*dirs[64];
	char		*s;
	size_t		 i, n;

	if ((s = fuzz_copy(data, size)) != NULL) {
		memset(&list, 0, sizeof(list));
		if (modlist_parse(s, size, &list) == 0)
			modlist_free(&list);
		free(s);
	}
	if ((s = fuzz_copy(data, size)) != NULL) {
		memset(&dep, 0, sizeof(dep));
		if (moddep_parse(s, size, &dep) == 0) {
			for (i = 0; i < dep.n; i++)
				moddep_plan(&dep, &dep.v[i], order, 64, &n, &culprit);
			moddep_free(&dep);
		}
		free(s);
	}
	if ((s = fuzz_copy(data, size)) != NULL) {
		memset(&builtin, 0, sizeof(builtin));
		if (names_parse(s, size, &builtin) == 0)
			names_free(&builtin);
		free(s);
	}
	cpu_parse((const char *)data, size, &cpu);
	if ((s = fuzz_copy(data, size)) != NULL) {
		mounts_parse(s, size, dirs, 64, &n);
		free(s);
	}
	return 0;
}
