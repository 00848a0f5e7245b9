/*
 * nestbox: PID 1 of the nestbox appliance.
 *
 * Starts the system (mounts, console, modules, power button, getty, the
 * serial shell), then runs one event loop. Every signal is blocked from the
 * first instruction and read from a signalfd in that loop, so nothing runs
 * in an asynchronous signal handler (see tini for why PID 1 wants this).
 *
 * Signals: SIGTERM, SIGINT (Ctrl-Alt-Del: the kernel sends it because CAD
 * is disabled), SIGPWR and SIGUSR2 (busybox's poweroff) power off, as does
 * a press of the ACPI power button, which is how GCE stops a VM. SIGUSR1
 * (busybox's halt) halts. SIGRTMIN+5 reboots (systemd's convention):
 * busybox's reboot would send SIGTERM, so /sbin/reboot is this program,
 * which sends SIGRTMIN+5 to PID 1. SIGCHLD reaps and restarts supervised
 * children.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "core/core.h"
#include "sys/sys.h"
#include "md/md.h"
#include "net/net.h"
#include "ctl/ctl.h"
#include "guest/guest.h"
#include "tools/tools.h"

static void
sig_child(int sig)
{
	(void)sig;
	if (child_reap() && shutdown_running())
		shutdown_children_gone();
}

static void
sig_shutdown(int sig)
{
	switch (sig) {
	case SIGUSR1:
		shutdown_request(SHUTDOWN_HALT, "SIGUSR1");
		break;
	case SIGUSR2:
		shutdown_request(SHUTDOWN_POWEROFF, "SIGUSR2");
		break;
	case SIGPWR:
		shutdown_request(SHUTDOWN_POWEROFF, "SIGPWR");
		break;
	case SIGTERM:
		shutdown_request(SHUTDOWN_POWEROFF, "SIGTERM");
		break;
	case SIGINT:
		shutdown_request(SHUTDOWN_POWEROFF, "Ctrl-Alt-Del");
		break;
	default:
		if (sig == SIGRTMIN + 5)
			shutdown_request(SHUTDOWN_REBOOT, "reboot requested");
		break;
	}
}

static const struct {
	int	  sig;
	void	(*handler)(int);
} sigtab[] = {
	{ SIGCHLD, sig_child },
	{ SIGUSR1, sig_shutdown },
	{ SIGUSR2, sig_shutdown },
	{ SIGPWR, sig_shutdown },
	{ SIGTERM, sig_shutdown },
	{ SIGINT, sig_shutdown },
};

static void
signal_read(struct event *ev, uint32_t events)
{
	struct signalfd_siginfo	 si;
	size_t			 i;

	(void)events;
	/* Other signals are read and dropped: PID 1 ignores them. */
	while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
		/* SIGRTMIN is not a constant: it can not sit in the table. */
		if ((int)si.ssi_signo == SIGRTMIN + 5)
			sig_shutdown(si.ssi_signo);
		for (i = 0; i < sizeof(sigtab) / sizeof(sigtab[0]); i++)
			if (sigtab[i].sig == (int)si.ssi_signo)
				sigtab[i].handler(si.ssi_signo);
	}
}

static struct event sigev = { -1, signal_read, NULL };

/* GCE preempts this VM: the shutdown (and the guests' 25 s stop) starts now. */
static void
preempted(void)
{
	shutdown_request(SHUTDOWN_POWEROFF, "preempted");
}

/* the metadata client's transport and its effects on the system */
static const struct md_ops md_ops = { md_http_start, hostname_set, net_alias_routes,
    preempted };
static const struct status_conf status_conf = { STATUS_PATH, kvm_status, "eth0", dnsmasq_pid };

static int
signals_init(const sigset_t *all)
{
	if ((sigev.fd = signalfd(-1, all, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    event_add(&sigev, EPOLLIN) == -1)
		return -1;
	return 0;
}

static void
log_cpu(const struct cpu *cpu)
{
	log_info("cpu: %s, %s", cpu->vendor_id, cpu->vmx ? "vmx" :
	    cpu->svm ? "svm" : "no vmx or svm (no KVM)");
}

static int
not_init(int argc, char *argv[])
{
	const char	*self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int		 i;

	if (strcmp(self, "dhcp-hook") == 0)	/* udhcpc's script, dhcp.c */
		return dhcp_hook_main(argc, argv);
	if (strcmp(self, "nestbox-fetch") == 0)	/* a guest's download, fetch_curl.c */
		return fetch_main(argc, argv);
	if (strcmp(self, "nestbox") == 0 && argc >= 2 && strcmp(argv[1], "check") == 0)
		return guests_check_main(argc - 1, argv + 1);	/* guest.c */
	if (strcmp(self, "nestbox") == 0)	/* the control socket's client, control.c */
		return control_main(argc, argv);
	if (strcmp(self, "reboot") == 0) {
		if (kill(1, SIGRTMIN + 5) == -1) {
			perror("reboot: signalling PID 1");
			return 1;
		}
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("nestbox %s\n", NESTBOX_VERSION);
			printf("%s\n", libraries_version());
			return 0;
		}
	}
	fprintf(stderr, "usage: init [--version]\n"
	    "nestbox's PID 1: the kernel runs it as /init; as any other\n"
	    "process it prints its version, or, called as reboot, asks\n"
	    "PID 1 to reboot, or, called as dhcp-hook, is udhcpc's script.\n");
	return 2;
}

int
main(int argc, char *argv[])
{
	struct utsname	 u;
	struct cpu	 cpu;
	sigset_t	 all;
	int		 dev, deverr;

	if (getpid() != 1)
		return not_init(argc, argv);

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	setsid();
	umask(022);
	dev = mount_dev();
	deverr = errno;
	if (console_init() == -1)
		log_warn("console: /dev/console");
	if (uname(&u) == -1)
		strcpy(u.release, "?");
	log_info("nestbox %s starting (kernel %s)", NESTBOX_VERSION, u.release);
	if (dev == -1) {
		errno = deverr;
		log_warn("mount: devtmpfs on /dev");
	}
	if (chdir("/") == -1)
		log_warn("chdir /");
	mount_early();
	if (setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1) == -1)
		log_warn("setenv PATH");
	/* Ctrl-Alt-Del becomes SIGINT, instead of an immediate reboot. */
	if (reboot(RB_DISABLE_CAD) == -1)
		log_warn("reboot(RB_DISABLE_CAD)");

	if (event_init() == -1)
		fatalx("no event loop");
	if (signals_init(&all) == -1)
		fatal("signalfd");
	if (shutdown_init(NULL, unmount_all) == -1)
		fatal("shutdown: timer");

	if (cpu_read("/proc/cpuinfo", &cpu) == -1) {
		log_warn("cpu: /proc/cpuinfo");
		modules_init(NULL);
		kvm_init(NULL);
	} else {
		log_cpu(&cpu);
		modules_init(&cpu);
		kvm_init(&cpu);
	}
	/* the metadata client starts with eth0's first lease */
	metadata_init(&md_ops);
	metadata_on_stats(status_changed);	/* md/status.c sits above md/metadata.c */
	if (status_init(&status_conf) == -1)
		log_warnx("status: no status.json");
	/* the state partition: downloads, overlays, console logs */
	store_init();
	net_on_ready(metadata_start);
	/* virbr0, dnsmasq, firewall: at the lease, again on nestbox-network */
	if (l2net_init() == -1)
		log_warn("l2net");
	/* the guests: after l2net, so virbr0 is up before the first guest */
	if (vm_init() == -1)
		log_warn("guests");
	if (control_init(&vm_control_ops, NULL) == -1)
		log_warn("control: %s", CONTROL_SOCK);
	net_init();
	input_init();
	getty_start();
	shell_start();

	log_info("ready");
	event_loop();
}
