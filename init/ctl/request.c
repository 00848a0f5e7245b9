/*
 * The control socket's request grammar: one line, "VERB [NAME]\n", at most
 * CONTROL_LINE_MAX bytes with the newline; and the line typed at `nestbox
 * shell`, which becomes such a request. Pure, unit tested and fuzzed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
/* --- the request line ---------------------------------------------------- */

enum arg { ARG_NONE, ARG_OPTIONAL, ARG_NAME };

static const struct {
	const char	*verb;
	enum arg	 arg;
} verbs[] = {
	{ "status",	ARG_OPTIONAL },
	{ "list",	ARG_NONE },
	{ "logs",	ARG_NAME },
	{ "restart",	ARG_NAME },
	{ "stop",	ARG_NAME },
	{ "start",	ARG_NAME },
	{ "reload",	ARG_NONE },
	{ "console",	ARG_NAME },
};

/* The index of verb word in verbs[]; -1: not a verb. */
static int
verb_find(const char *word)
{
	size_t	 i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(word, verbs[i].verb) == 0)
			return i;
	return -1;
}

static int
bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

/*
 * A guest's name: [a-z][a-z0-9-]{0,62}. The one rule for a declared name
 * (guest/decl.c) and a requested one. Unlike an RFC 1123 label (and a GCE
 * device name) it may end with a hyphen: declarations that did keep working.
 */
int
guest_name_ok(const char *s)
{
	size_t	 i;

	if (s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (i >= GUEST_NAME_MAX - 1 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/*
 * Parses a request: len bytes that end with "\n" (or "\r\n"), printable
 * ASCII, the verb and its argument separated by spaces or tabs. Splits line
 * in place: *verb is the table's string, *name points into line (NULL: none).
 * -1 with EINVAL and the reason in err.
 */
int
control_parse(char *line, size_t len, const char **verb, const char **name,
    char *err, size_t errlen)
{
	char	*word[3], *p, q[48];
	size_t	 i, end, n = 0;
	int	 v;

	*verb = *name = NULL;
	if (len > CONTROL_LINE_MAX)
		return bad(err, errlen, "request longer than %d bytes", CONTROL_LINE_MAX);
	if (len == 0 || line[len - 1] != '\n')
		return bad(err, errlen, "request does not end with a newline");
	end = len - 1;
	if (end > 0 && line[end - 1] == '\r')
		end--;
	for (i = 0; i < end; i++)
		if ((line[i] < 0x20 && line[i] != '\t') || (unsigned char)line[i] >= 0x7f)
			return bad(err, errlen, "request has a byte that is not printable "
			    "ASCII (0x%02x at %zu)", (unsigned char)line[i], i);
	line[end] = '\0';
	for (p = line; n < 3; ) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		word[n++] = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
	}
	if (n == 0)
		return bad(err, errlen, "empty request");
	if ((v = verb_find(word[0])) == -1)
		return bad(err, errlen, "unknown command \"%s\"",
		    str_quote(word[0], q, sizeof(q)));
	i = v;
	switch (verbs[i].arg) {
	case ARG_NONE:
		if (n > 1)
			return bad(err, errlen, "%s takes no argument", verbs[i].verb);
		break;
	case ARG_OPTIONAL:
		if (n > 2)
			return bad(err, errlen, "%s takes at most one guest name",
			    verbs[i].verb);
		break;
	case ARG_NAME:
		if (n < 2)
			return bad(err, errlen, "%s needs a guest name", verbs[i].verb);
		if (n > 2)
			return bad(err, errlen, "%s takes one guest name", verbs[i].verb);
		break;
	}
	if (n == 2 && !guest_name_ok(word[1]))
		return bad(err, errlen, "\"%s\" is not a valid guest name "
		    "([a-z][a-z0-9-]{0,62})", str_quote(word[1], q, sizeof(q)));
	*verb = verbs[i].verb;
	*name = n == 2 ? word[1] : NULL;
	return 0;
}

/*
 * One line typed at `nestbox shell`: NUL-terminated, without its newline (a
 * last "\r" is dropped). Words are split on spaces and tabs, nothing more:
 * no quoting, no globbing, no variables. SHELL_REQUEST: req (size bytes,
 * CONTROL_LINE_MAX + 1 is enough) is the request line for the socket, "verb
 * name\n", as control_parse accepted it. SHELL_ERROR: err says why, ready to
 * print.
 */
enum shell_cmd
shell_line(const char *line, char *req, size_t size, char *err, size_t errlen)
{
	char		 buf[CONTROL_LINE_MAX + 1], e[160], q[48], *w, *rest, blank;
	const char	*verb, *name;
	size_t		 len = strlen(line), n;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len + 1 > CONTROL_LINE_MAX) {
		snprintf(err, errlen, "error: line longer than %d bytes",
		    CONTROL_LINE_MAX);
		return SHELL_ERROR;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	w = buf + strspn(buf, " \t");
	if (*w == '\0')
		return SHELL_EMPTY;
	n = strcspn(w, " \t");
	rest = w + n + strspn(w + n, " \t");
	blank = w[n];
	w[n] = '\0';
	if (strcmp(w, "help") == 0 || strcmp(w, "exit") == 0) {
		if (*rest == '\0')
			return w[0] == 'h' ? SHELL_HELP : SHELL_EXIT;
		snprintf(err, errlen, "error: %s takes no argument", w);
		return SHELL_ERROR;
	}
	if (verb_find(w) == -1) {
		snprintf(err, errlen, "unknown command: %s; type help",
		    str_quote(w, q, sizeof(q)));
		return SHELL_ERROR;
	}
	w[n] = blank;		/* control_parse splits it again */
	buf[len] = '\n';
	if (control_parse(buf, len + 1, &verb, &name, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "error: %s", e);
		return SHELL_ERROR;
	}
	if (snprintf(req, size, "%s%s%s\n", verb, name != NULL ? " " : "",
	    name != NULL ? name : "") >= (int)size) {
		snprintf(err, errlen, "error: request too long");
		return SHELL_ERROR;
	}
	return SHELL_REQUEST;
}
