/*
 * The guests that exist, by slot: vm.c adds and frees them; the other
 * runtime files (prepare, network, report, ops) read them from here, so no
 * arrow points back at vm.c.
 */
#include <string.h>

#include "guest/vm.h"

struct vm_registry vms;

struct vm *
vm_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && strcmp(vms.v[i]->g.name, name) == 0)
			return vms.v[i];
	return NULL;
}
