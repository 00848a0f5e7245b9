/*
 * Readers of /proc text: the caller reads the file (read_file), these
 * parse it, so the unit tests can hand them any text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/*
 * A "Field:  1234 kB" line of /proc/PID/status (VmRSS, VmHWM, ...) in KiB.
 * -1 with ENOENT if the field is not there (a kernel thread, a zombie),
 * EINVAL if its value is not a number of kB, ERANGE if it is too large.
 */
int
proc_status_kib(const char *text, const char *field, unsigned long *kib)
{
	size_t		 n = strlen(field);
	const char	*line, *p;
	char		*end;
	unsigned long	 v;

	for (line = text; line != NULL && *line != '\0'; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, field, n) != 0 || line[n] != ':')
			continue;
		for (p = line + n + 1; *p == ' ' || *p == '\t'; p++)
			;
		if (*p < '0' || *p > '9')
			break;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno == ERANGE)
			return -1;
		if (strncmp(end, " kB", 3) != 0 || (end[3] != '\n' && end[3] != '\0'))
			break;
		*kib = v;
		return 0;
	}
	errno = line != NULL && *line != '\0' ? EINVAL : ENOENT;
	return -1;
}

/*
 * The default route's gateway for ifname from /proc/net/route (*gw in
 * network byte order, as the file has it). -1 (ENOENT) if there is none.
 */
int
route_gateway(const char *text, const char *ifname, uint32_t *gw)
{
	char		 ifn[32];
	unsigned long	 dst, via, mask;
	unsigned	 flags;
	const char	*line;

	for (line = text; line != NULL && *line != '\0'; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (sscanf(line, "%31s %lx %lx %x %*d %*d %*d %lx", ifn, &dst, &via,
		    &flags, &mask) != 5)
			continue;
		/* RTF_UP 0x1, RTF_GATEWAY 0x2 */
		if (strcmp(ifn, ifname) == 0 && dst == 0 && mask == 0 &&
		    (flags & 0x3) == 0x3) {
			*gw = (uint32_t)via;
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}
