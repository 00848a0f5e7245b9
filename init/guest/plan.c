/*
 * The plan from what runs to what is declared, and the names the outside
 * sees. Pure.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guest/vm.h"

const char *const vm_state_names[VM_NSTATES] = {
	"pending", "fetching", "starting", "running", "stopping", "stopped",
	"failed", "backing off",
};
static const char *const op_names[] = { "keep", "start", "stop", "restart" };

const char *
vm_state_str(enum vm_state s)
{
	return (unsigned)s < VM_NSTATES ? vm_state_names[s] : "?";
}

const char *
plan_op_str(enum plan_op op)
{
	return (unsigned)op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : "?";
}

const struct guest *
guest_find(const struct guest_set *want, const char *name)
{
	size_t	 i;

	for (i = 0; i < want->n; i++)
		if (strcmp(want->v[i].name, name) == 0)
			return &want->v[i];
	return NULL;
}

/*
 * The plan from what runs (have) to what is declared (want): removed guests
 * stop, changed ones (their declaration differs) restart, new ones start,
 * the rest are kept as they are. Stops come first, then restarts, then
 * starts, each in declaration order. Pure; returns the number of items
 * (at most max are written).
 */
size_t
vm_plan(const struct vm_have *have, size_t nhave, const struct guest_set *want,
    struct plan_item *out, size_t max)
{
	const struct guest *g;
	size_t		 i, j, n = 0;
	int		 pass;

#define EMIT(o, nm) do { if (n < max) { out[n].op = (o); out[n].name = (nm); } n++; } while (0)
	for (i = 0; i < nhave; i++)
		if (guest_find(want, have[i].name) == NULL)
			EMIT(PLAN_STOP, have[i].name);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < want->n; i++) {
			g = &want->v[i];
			for (j = 0; j < nhave; j++)
				if (strcmp(have[j].name, g->name) == 0)
					break;
			if (pass == 0 && j < nhave) {
				if (have[j].decl == NULL || g->decl == NULL ||
				    strcmp(have[j].decl, g->decl) != 0)
					EMIT(PLAN_RESTART, g->name);
				else
					EMIT(PLAN_KEEP, g->name);
			} else if (pass == 1 && j == nhave)
				EMIT(PLAN_START, g->name);
		}
	}
#undef EMIT
	return n;
}

/*
 * The RSS of a QEMU beyond its guest's RAM: every mapping's Rss but that
 * of the guest RAM block, the largest mapping of at least guest_kib (QEMU
 * may round it up for huge pages). Pure: smaps is the text of the file.
 */
int
smaps_beyond_guest(const char *smaps, unsigned long guest_kib, unsigned long *kib)
{
	const char	*p, *e;
	unsigned long	 size = 0, rss, total = 0, ram_size = 0, ram_rss = 0;
	int		 maps = 0;

	for (p = smaps; p != NULL && *p != '\0'; p = e != NULL ? e + 1 : NULL) {
		e = strchr(p, '\n');
		if (sscanf(p, "Size: %lu kB", &rss) == 1) {
			size = rss;
			maps++;
		} else if (sscanf(p, "Rss: %lu kB", &rss) == 1) {
			total += rss;
			if (size >= guest_kib && size > ram_size) {
				ram_size = size;
				ram_rss = rss;
			}
		}
	}
	if (maps == 0) {
		errno = EINVAL;
		return -1;
	}
	*kib = total - ram_rss;
	return 0;
}
