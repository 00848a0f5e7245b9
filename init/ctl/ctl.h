/*
 * ctl/: the control socket: the request grammar and the server.
 *
 * Unless a comment says otherwise, functions return 0 on success and -1
 * with errno set on failure.
 */
#ifndef NESTBOX_CTL_H
#define NESTBOX_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "core/core.h"

/*
 * control.c: /run/nestbox/control.sock, the `nestbox` command's way in.
 * One request line per connection ("status NAME\n"), the reply is text,
 * then the server closes; "console NAME" turns the connection into a relay.
 */
#define CONTROL_SOCK		"/run/nestbox/control.sock"
#define CONTROL_LINE_MAX	256
#define GUEST_NAME_MAX		64	/* [a-z][a-z0-9-]{0,62} and the NUL: guest_name_ok */
struct control_ops {			/* what the server asks of the guests (vm.c) */
	char	*(*status)(const char *name);	/* JSON text, free() it; NULL name: all */
	char	*(*list)(void);			/* a table, a line per guest; free() it */
	int	 (*action)(const char *name, const char *verb);	/* ENOENT, EINVAL */
	int	 (*log_path)(const char *name, char *buf, size_t size);
	int	 (*console_attach)(const char *name,
		    void (*fn)(void *, const char *, size_t), void *arg);	/* fn(arg, NULL, 0): gone */
	void	 (*console_detach)(const char *name, void *arg);
	int	 (*console_write)(const char *name, const void *buf, size_t len);
	void	 (*reload)(void);
};
extern const struct control_ops vm_control_ops;	/* vm.c */
int	 guest_name_ok(const char *s);	/* [a-z][a-z0-9-]{0,62} */
int	 control_parse(char *line, size_t len, const char **verb, const char **name,
	    char *err, size_t errlen);	/* splits in place; EINVAL */
int	 control_init(const struct control_ops *, const char *path);	/* NULL: CONTROL_SOCK */
enum shell_cmd { SHELL_EMPTY, SHELL_HELP, SHELL_EXIT, SHELL_REQUEST, SHELL_ERROR };
enum shell_cmd shell_line(const char *line, char *req, size_t size,
	    char *err, size_t errlen);	/* a line typed at `nestbox shell` */

#endif /* NESTBOX_CTL_H */
