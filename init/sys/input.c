/*
 * The power button. GCE stops an instance by pressing its ACPI power button;
 * the kernel's button driver turns that into KEY_POWER on an evdev device,
 * and that is a clean power off here. Devices are scanned right after the
 * modules load and a few more times, once a second, because a device can
 * register a moment after its driver's module returned.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/input.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "sys/sys-internal.h"

#define INPUT_DIR	"/dev/input"
#define INPUT_SCANS	5
#define INPUT_SCAN_MS	1000
#define BITS_PER_LONG	(sizeof(long) * CHAR_BIT)

struct inputdev {
	struct event	 ev;
	dev_t		 rdev;
	struct inputdev	*next;
};

static struct inputdev	*devs;
static struct timer	 rescan;
static int		 scans;

int
input_has_power_key(const unsigned long *keybits, size_t nbits)
{
	if (KEY_POWER >= nbits)
		return 0;
	return (keybits[KEY_POWER / BITS_PER_LONG] >> (KEY_POWER % BITS_PER_LONG)) & 1;
}

static void
input_close(struct inputdev *d)
{
	struct inputdev	**dp;

	for (dp = &devs; *dp != NULL; dp = &(*dp)->next) {
		if (*dp == d) {
			*dp = d->next;
			break;
		}
	}
	event_del(&d->ev);
	close(d->ev.fd);
	free(d);
}

static void
input_read(struct event *ev, uint32_t events)
{
	struct input_event	 ie[16];
	ssize_t			 n;
	size_t			 i;

	(void)events;
	n = read(ev->fd, ie, sizeof(ie));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {		/* ENODEV: the device went away */
		input_close(ev->arg);
		return;
	}
	for (i = 0; i < (size_t)n / sizeof(ie[0]); i++)
		if (ie[i].type == EV_KEY && ie[i].code == KEY_POWER &&
		    ie[i].value == 1)
			shutdown_request(SHUTDOWN_POWEROFF, "power button");
}

static void
input_open(const char *path)
{
	unsigned long	 keys[KEY_CNT / BITS_PER_LONG + 1];
	struct inputdev	*d;
	struct stat	 st;
	char		 name[64];
	int		 fd, i;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &st) == -1)
		goto err;
	for (d = devs; d != NULL; d = d->next)
		if (d->rdev == st.st_rdev)
			goto err;	/* opened by an earlier scan */
	memset(keys, 0, sizeof(keys));
	if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) == -1 ||
	    !input_has_power_key(keys, sizeof(keys) * CHAR_BIT))
		goto err;
	memset(name, 0, sizeof(name));
	if (ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name) == -1)
		strcpy(name, "?");
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] < ' ' || name[i] > '~')
			name[i] = '?';
	if ((d = calloc(1, sizeof(*d))) == NULL)
		goto err;
	d->ev.fd = fd;
	d->ev.handler = input_read;
	d->ev.arg = d;
	d->rdev = st.st_rdev;
	if (event_add(&d->ev, EPOLLIN) == -1) {
		log_warn("input: %s", path);
		free(d);
		goto err;
	}
	d->next = devs;
	devs = d;
	log_info("input: power key on %s (%s)", path, name);
	return;
err:
	close(fd);
}

static void
input_scan(void)
{
	DIR		*dir;
	struct dirent	*de;
	char		 path[PATH_MAX];

	if ((dir = opendir(INPUT_DIR)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "event", 5) != 0)
			continue;
		if (snprintf(path, sizeof(path), INPUT_DIR "/%s", de->d_name) <
		    (int)sizeof(path))
			input_open(path);
	}
	closedir(dir);
}

static void
input_rescan(struct timer *t)
{
	input_scan();
	if (++scans < INPUT_SCANS)
		timer_set(t, INPUT_SCAN_MS);
	else if (devs == NULL)
		log_warnx("input: no power button; GCE can not stop this instance"
		    " cleanly (are the button and evdev modules loaded?)");
}

int
input_init(void)
{
	input_scan();
	if (timer_init(&rescan, input_rescan, NULL) == -1) {
		log_warn("input: timer");
		return -1;
	}
	scans = 0;
	return timer_set(&rescan, INPUT_SCAN_MS);
}
