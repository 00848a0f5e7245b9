/*
 * What the guests tell: their section of status.json (and of the
 * nestbox/status attribute), and each guest's own guest attribute
 * nestbox/guest-NAME when enable-guest-attributes is TRUE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "guest/vm.h"

cJSON *
vm_json(const struct vm *v)
{
	cJSON		*o = cJSON_CreateObject();
	char		 mac[18], path[160];

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "state", vm_state_str(v->state));
	cJSON_AddNumberToObject(o, "since_s", (double)((now_ms() - v->since) / 1000));
	if (v->qemu.pid != 0)
		cJSON_AddNumberToObject(o, "pid", v->qemu.pid);
	else
		cJSON_AddNullToObject(o, "pid");
	cJSON_AddNumberToObject(o, "vcpus", v->g.vcpus);
	cJSON_AddNumberToObject(o, "memory_mib", (double)(v->g.memory >> 20));
	cJSON_AddStringToObject(o, "accel", v->g.accel == ACCEL_KVM ? "kvm" :
	    v->g.accel == ACCEL_TCG ? "tcg" : kvm_available() ? "kvm" : "tcg");
	cJSON_AddStringToObject(o, "mac", guest_mac_str(v->g.mac, mac));
	if (v->ip[0] != '\0')
		cJSON_AddStringToObject(o, "ip", v->ip);
	else
		cJSON_AddNullToObject(o, "ip");
	cJSON_AddStringToObject(o, "tap", v->tap);
	cJSON_AddStringToObject(o, "restart", restart_str(v->g.restart));
	cJSON_AddNumberToObject(o, "restarts", v->restarts);
	if (v->error[0] != '\0')
		cJSON_AddStringToObject(o, "last_error", v->error);
	else
		cJSON_AddNullToObject(o, "last_error");
	/* vm.c's sample, not /proc read again at every rewrite of the file */
	if (v->sample_rss != 0) {
		cJSON_AddNumberToObject(o, "qemu_rss_kib", (double)v->sample_rss);
		cJSON_AddNumberToObject(o, "qemu_overhead_kib", (double)v->sample_overhead);
	}
	snprintf(path, sizeof(path), "%s/console.log", v->dir);
	cJSON_AddStringToObject(o, "console_log", path);
	cJSON_AddNumberToObject(o, "console_lines_dropped", (double)v->dropped_total);
	return o;
}

/*
 * brief (the nestbox/status guest attribute, at most 4 KiB): the counts by
 * state always, each guest's state and memory sample only for a few; the
 * nestbox/guest-NAME attributes have every guest's.
 */
void
vm_render(cJSON *obj, int brief)
{
	cJSON	*list, *errs, *states;
	size_t	 i, n = 0;
	double	 count[VM_NSTATES] = { 0 };

	cJSON_AddStringToObject(obj, "declaration", !vms.have_doc ? "not read yet" :
	    vms.doc == NULL ? "unset" : vms.doc_error[0] != '\0' ? "rejected" : "applied");
	if (vms.doc_error[0] != '\0')
		cJSON_AddStringToObject(obj, "error", vms.doc_error);
	if (brief)
		cJSON_AddNumberToObject(obj, "invalid", vms.doc_error[0] != '\0' ? 0 :
		    (double)vms.errs.n);
	else if ((errs = cJSON_AddArrayToObject(obj, "invalid")) != NULL)
		for (i = 0; i < vms.errs.n && vms.doc_error[0] == '\0'; i++)
			cJSON_AddItemToArray(errs, cJSON_CreateString(vms.errs.v[i]));
	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL) {
			n++;
			count[vms.v[i]->state]++;
		}
	cJSON_AddNumberToObject(obj, "count", (double)n);
	if ((states = cJSON_AddObjectToObject(obj, "states")) != NULL)
		for (i = 0; i < VM_NSTATES; i++)
			if (count[i] > 0)
				cJSON_AddNumberToObject(states, vm_state_names[i], count[i]);
	if (brief && n > VM_BRIEF_MAX)
		return;
	if ((list = cJSON_AddObjectToObject(obj, "guests")) == NULL)
		return;
	for (i = 0; i < GUESTS_MAX; i++) {
		struct vm *v = vms.v[i];
		cJSON	*o;

		if (v == NULL)
			continue;
		if (brief) {
			/* what changes rarely: the state, the memory sample */
			if ((o = cJSON_AddObjectToObject(list, v->g.name)) == NULL)
				continue;
			cJSON_AddStringToObject(o, "state", vm_state_str(v->state));
			cJSON_AddNumberToObject(o, "restarts", v->restarts);
			if (v->sample_rss != 0) {
				cJSON_AddNumberToObject(o, "qemu_rss_kib", (double)v->sample_rss);
				cJSON_AddNumberToObject(o, "qemu_overhead_kib",
				    (double)v->sample_overhead);
			}
			continue;
		}
		if ((o = vm_json(v)) != NULL)
			cJSON_AddItemToObject(list, v->g.name, o);
	}
}

/* --- the guest attribute nestbox/guest-NAME -------------------------------- */

/* md/ga.c writes it: at its rate, the latest value, not twice the same. */
void
vm_attr_open(struct vm *v)
{
	snprintf(v->ga_key, sizeof(v->ga_key), "nestbox/guest-%s", v->g.name);
	if (ga_open(v->ga_key, "guest attribute", GA_DROP_FAILED) == -1)
		log_warn("guest %s: guest attribute", v->g.name);
}

/* nestbox/guest-NAME: {"state":..,"ip":..,"restarts":..,"error":..} */
void
vm_attr_update(struct vm *v)
{
	cJSON	*o;
	char	*s;

	if ((o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "state", vm_state_str(v->state));
	if (v->ip[0] != '\0')
		cJSON_AddStringToObject(o, "ip", v->ip);
	else
		cJSON_AddNullToObject(o, "ip");
	cJSON_AddNumberToObject(o, "restarts", v->restarts);
	if (v->error[0] != '\0')
		cJSON_AddStringToObject(o, "error", v->error);
	else
		cJSON_AddNullToObject(o, "error");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s == NULL)
		return;
	ga_set(v->ga_key, s);
	free(s);
}

void
vm_attr_close(struct vm *v)
{
	ga_close(v->ga_key);
}
