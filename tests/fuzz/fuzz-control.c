/* Fuzz a request line on the control socket: control_parse() on the input
 * as it is, in a buffer of exactly its size. Whatever it accepts must name
 * a known verb, and a guest name of [a-z][a-z0-9-]{0,62} inside the line.
 * Then shell_line() on the input up to its first NUL, as typed at `nestbox
 * shell`: a request it makes must be one that control_parse() accepts. */
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
#include "fuzz.h"

static void
shell(const uint8_t *data, size_t size)
{
	const char	*verb, *name;
	char		*line, req[CONTROL_LINE_MAX + 1], copy[sizeof(req)];
	char		 err[200], e[160];
	size_t		 n;

	if ((line = malloc(size + 1)) == NULL)
		return;
	memcpy(line, data, size);
	line[size] = '\0';
	switch (shell_line(line, req, sizeof(req), err, sizeof(err))) {
	case SHELL_EMPTY:
	case SHELL_HELP:
	case SHELL_EXIT:
		break;
	case SHELL_ERROR:
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
		break;
	case SHELL_REQUEST:
		n = strlen(req);
		if (n == 0 || req[n - 1] != '\n')
			abort();
		memcpy(copy, req, n + 1);
		if (control_parse(copy, n, &verb, &name, e, sizeof(e)) == -1)
			abort();
		break;
	default:
		abort();
	}
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const verbs[] = {
		"status", "list", "logs", "restart", "stop", "start", "reload", "console",
	};
	const char	*verb, *name;
	char		*line, err[160];
	size_t		 i, n;

	shell(data, size);
	if ((line = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	if (control_parse(line, size, &verb, &name, err, sizeof(err)) == -1) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
		free(line);
		return 0;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verb, verbs[i]) == 0)
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0]) || size > CONTROL_LINE_MAX)
		abort();
	if (name != NULL) {
		if (name < line || name >= line + size)
			abort();
		n = strlen(name);
		if (n == 0 || n > GUEST_NAME_MAX - 1 || name[0] < 'a' || name[0] > 'z')
			abort();
		for (i = 0; i < n; i++)
			if (!((name[i] >= 'a' && name[i] <= 'z') ||
			    (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
				abort();
	}
	free(line);
	return 0;
}
