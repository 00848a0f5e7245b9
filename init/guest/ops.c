/*
 * The control socket's operations on the guests (struct control_ops,
 * ctl/ctl.h): status, list, stop/start/restart, the console relay, reload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "guest/vm.h"

static char *
ctl_status(const char *name)
{
	cJSON		*o;
	struct vm	*v;
	char		*s;

	if (name == NULL) {
		if ((o = cJSON_CreateObject()) == NULL)
			return NULL;
		vm_render(o, 0);
	} else {
		if ((v = vm_find(name)) == NULL) {
			errno = ENOENT;
			return NULL;
		}
		if ((o = vm_json(v)) == NULL)
			return NULL;
		cJSON_AddStringToObject(o, "name", v->g.name);
	}
	s = cJSON_Print(o);
	cJSON_Delete(o);
	return s;
}

static char *
ctl_list(void)
{
	struct text	 t;
	char		*buf;
	size_t		 i, size = 128 + GUESTS_MAX * 160;

	if ((buf = malloc(size)) == NULL)
		return NULL;
	text_init(&t, buf, size);
	text_add(&t, "%-20s %-12s %-15s %8s  %s\n", "NAME", "STATE", "IP", "RESTARTS",
	    "LAST ERROR");
	for (i = 0; i < GUESTS_MAX; i++) {
		const struct vm *v = vms.v[i];

		if (v == NULL)
			continue;
		text_add(&t, "%-20s %-12s %-15s %8u  %.60s\n", v->g.name,
		    vm_state_str(v->state), v->ip[0] ? v->ip : "-", v->restarts,
		    v->error[0] ? v->error : "-");
	}
	text_done(&t);
	return buf;
}

static int
ctl_action(const char *name, const char *verb)
{
	struct vm	*v;

	if ((v = vm_find(name)) == NULL || v->fsm.goal == G_REMOVE) {
		errno = ENOENT;
		return -1;
	}
	return vm_request(v, verb);
}

static int
ctl_log_path(const char *name, char *buf, size_t size)
{
	struct vm	*v;

	if ((v = vm_find(name)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	snprintf(buf, size, "%s/console.log", v->dir);
	return 0;
}

static int
ctl_attach(const char *name, void (*fn)(void *, const char *, size_t), void *arg)
{
	struct vm	*v;

	if ((v = vm_find(name)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	return con_attach(v, fn, arg);
}

static void
ctl_detach(const char *name, void *arg)
{
	struct vm	*v;

	if ((v = vm_find(name)) != NULL)
		con_detach(v, arg);
}

static int
ctl_write(const char *name, const void *buf, size_t len)
{
	struct vm	*v;

	if ((v = vm_find(name)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	return con_write(v, buf, len);
}

const struct control_ops vm_control_ops = {
	ctl_status, ctl_list, ctl_action, ctl_log_path, ctl_attach, ctl_detach,
	ctl_write, vm_reload,
};
