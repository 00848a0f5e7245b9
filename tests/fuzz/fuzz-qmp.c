/* Fuzz what QEMU says on a guest's QMP socket: qmp_parse() on the whole
 * input, then on each of its lines as the client splits them. Whatever it
 * accepts must be a message the owner can use as it is: a known kind, an
 * event name of [A-Z0-9_], printable text, an id of ours or -1. */
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
#include "guest/guest-internal.h"
#include "fuzz.h"

static void
check(const char *line, size_t len)
{
	struct qmp_msg	 m;
	size_t		 i;

	memset(&m, 0, sizeof(m));
	if (qmp_parse(line, len, &m) == -1)
		return;
	if ((m.kind != QMP_GREETING && m.kind != QMP_RETURN && m.kind != QMP_ERROR &&
	    m.kind != QMP_EVENT) || m.id < -1 ||
	    memchr(m.event, '\0', sizeof(m.event)) == NULL ||
	    memchr(m.error, '\0', sizeof(m.error)) == NULL)
		abort();
	if ((m.kind == QMP_EVENT) != (m.event[0] != '\0') ||
	    (m.kind != QMP_EVENT && m.guest) || (m.guest != 0 && m.guest != 1))
		abort();
	for (i = 0; m.event[i] != '\0'; i++)
		if (!((m.event[i] >= 'A' && m.event[i] <= 'Z') ||
		    (m.event[i] >= '0' && m.event[i] <= '9') || m.event[i] == '_'))
			abort();
	for (i = 0; m.error[i] != '\0'; i++)
		if (m.error[i] < 0x20 || m.error[i] >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, *cursor, *line;

	/* exactly size bytes, no NUL after them: the parser must not need one */
	if ((s = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	check(s, size);
	free(s);

	/* line by line, as the client hands them over */
	if ((s = fuzz_copy(data, size)) == NULL)
		return 0;
	cursor = s;
	while ((line = next_line(&cursor, s + size)) != NULL)
		check(line, cursor - 1 - line);
	free(s);
	return 0;
}
