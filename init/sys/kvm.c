/*
 * KVM for the L2 guests. modules.c has loaded kvm and the vendor module
 * (with nested=1, from the module list) for the CPU cpu.c read; this checks
 * that /dev/kvm opens and speaks API 12. On GCE nothing fails loudly when
 * nested virtualization is off: the CPU just lacks VMX and kvm_intel does
 * not load. So when KVM is missing this says why and how to fix it, once,
 * as "nestbox: warning: kvm: " lines, and the appliance goes on without it (guests
 * that allow TCG still run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "sys/sys-internal.h"

#define KVM_API	12	/* the only version there has ever been (KVM_API_VERSION) */

static int	 available;
static char	 reason[160] = "not checked";

/*
 * Why KVM is not usable, from what was found: the CPU (NULL: unknown), the
 * errno of opening /dev/kvm (0: it opened) and the API version it answered.
 * NULL when it is usable.
 */
const char *
kvm_diagnose(const struct cpu *cpu, int open_errno, int api, char *buf, size_t size)
{
	const char	*mod;

	if (cpu != NULL && (mod = cpu_kvm_module(cpu)) == NULL) {
		if (cpu->vendor == CPU_INTEL)
			snprintf(buf, size, "the CPU has no VMX: nested virtualization is off");
		else if (cpu->vendor == CPU_AMD)
			snprintf(buf, size, "the CPU is %s without SVM: GCE nests on Intel only",
			    cpu->vendor_id);
		else
			snprintf(buf, size, "the CPU is %s, neither Intel nor AMD",
			    cpu->vendor_id[0] ? cpu->vendor_id : "unknown");
		return buf;
	}
	if (open_errno == ENOENT)
		snprintf(buf, size, "/dev/kvm is missing: %s did not load",
		    cpu != NULL ? cpu_kvm_module(cpu) : "the kvm module");
	else if (open_errno != 0)
		snprintf(buf, size, "/dev/kvm: %s", strerror(open_errno));
	else if (api != KVM_API)
		snprintf(buf, size, "/dev/kvm answers API version %d, not %d", api, KVM_API);
	else
		return NULL;
	return buf;
}

/* Opens path (/dev/kvm) and asks its API version; 1 if KVM is usable. */
int
kvm_check(const struct cpu *cpu, const char *path)
{
	const char	*why;
	char		 nested[8] = "";
	int		 fd, err = 0, api = -1;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		err = errno;
	else {
		if ((api = ioctl(fd, KVM_GET_API_VERSION, 0)) == -1)
			err = errno;
		close(fd);
	}
	if ((why = kvm_diagnose(cpu, err, api, reason, sizeof(reason))) == NULL) {
		available = 1;
		snprintf(reason, sizeof(reason), "ok");
		if (cpu != NULL && cpu_kvm_module(cpu) != NULL) {
			char	 p[96];

			snprintf(p, sizeof(p), "/sys/module/%s/parameters/nested",
			    cpu_kvm_module(cpu));
			if (read_head(p, nested, sizeof(nested)) > 0)
				nested[strcspn(nested, "\n")] = '\0';
		}
		log_info("kvm: %s ready (API %d%s%s)", path, api,
		    nested[0] ? ", nested=" : "", nested);
		return 1;
	}
	available = 0;
	log_warnx("kvm: not available: %s", why);
	log_warnx("kvm: on GCE, nested virtualization needs the image created with "
	    "--licenses=https://www.googleapis.com/compute/v1/projects/vm-options/"
	    "global/licenses/enable-vmx");
	log_warnx("kvm: and the instance created with --enable-nested-virtualization "
	    "on an Intel machine type, Haswell or newer (--min-cpu-platform), "
	    "not E2 and not AMD (N2D, C2D, T2D)");
	log_warnx("kvm: going on without KVM: guests that allow tcg run emulated, "
	    "guests that require kvm do not start");
	return 0;
}

int
kvm_init(const struct cpu *cpu)
{
	return kvm_check(cpu, "/dev/kvm");
}

int
kvm_available(void)
{
	return available;
}

/* "ok", or why not: for the status. */
const char *
kvm_status(void)
{
	return reason;
}
