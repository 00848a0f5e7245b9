/*
 * An escaped QEMU gains nothing (docs/security.md, "An escaped QEMU"):
 * each test mounts one attack a guest's uid could make on PID 1's files,
 * fds or sockets, as that uid, and checks that PID 1's real operations
 * (vm_sys_ops, core/util.c, core/spawn.c) are not fooled. Root only: the
 * attacks need a second uid.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "unit.h"
#include "guest/vm.h"

#define GUID	(GUEST_UID_BASE + 5)	/* the guest's uid */
#define OTHER	(GUEST_UID_BASE + 6)	/* another guest's */

static char	*dir;				/* the test's, 0755 */
static char	 g[256];			/* the guest's directory, as it was: its own */

static int
setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	dir = tmpdir();
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(g, sizeof(g), "%s/g", dir);
	assert_int_equal(dir_owned(g, GUID, GUID, 0700), 0);
	put_file(dir, "victim", "precious\n");
	put_file(dir, "secret", "token-abc\n");
	alarm(20);		/* a test that blocks on a FIFO fails, not hangs */
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	alarm(0);
	if (dir != NULL)
		rmtree(dir);
	dir = NULL;
	return 0;
}

#define NEED_ROOT()	do { if (geteuid() != 0) skip(); } while (0)

enum act { SYMLINK, FIFO, HARDLINK };

/* What the guest's uid does, in a child that is that uid: 0 if it could. */
static void
as_guest(enum act a, const char *target, const char *path)
{
	pid_t	 pid;
	int	 status, r;

	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) == -1 || setresgid(GUID, GUID, GUID) == -1 ||
		    setresuid(GUID, GUID, GUID) == -1)
			_exit(2);
		unlink(path);
		r = a == SYMLINK ? symlink(target, path) :
		    a == FIFO ? mkfifo(path, 0666) : link(target, path);
		_exit(r == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
path_of(char *buf, size_t size, const char *a, const char *b)
{
	snprintf(buf, size, "%s/%s", a, b);
}

/* The victim is as it was: its bytes, its owner, its mode. */
static void
intact(const char *name, const char *text, mode_t mode)
{
	char		 path[512], *s;
	struct stat	 st;
	size_t		 len;

	path_of(path, sizeof(path), dir, name);
	assert_non_null(s = read_file(path, 4096, &len));
	assert_string_equal(s, text);
	free(s);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, mode);
}

static void
is_root_file(const char *path)
{
	struct stat	 st;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_nlink, 1);
}

/* qemu.log a symlink: PID 1 truncated its target and handed it to QEMU,
 * and printed the target's last line in status.json. */
static void
qemu_log_symlink(void **state)
{
	char	 path[512], victim[512], secret[512], last[64];
	int	 fd;

	(void)state;
	NEED_ROOT();
	path_of(path, sizeof(path), g, "qemu.log");
	path_of(victim, sizeof(victim), dir, "victim");
	path_of(secret, sizeof(secret), dir, "secret");
	as_guest(SYMLINK, secret, path);
	qemu_last_words(g, last, sizeof(last));
	assert_string_equal(last, "");
	as_guest(SYMLINK, victim, path);
	assert_true((fd = vm_sys_ops.open_log(path)) >= 0);
	assert_int_equal(write(fd, "qemu: x\n", 8), 8);
	close(fd);
	intact("victim", "precious\n", 0644);
	is_root_file(path);
	qemu_last_words(g, last, sizeof(last));
	assert_string_equal(last, "qemu: x");
}

/* A FIFO: PID 1 blocked for good opening it. */
static void
fifo_in_place(void **state)
{
	char	 path[512], last[64];
	int	 fd;

	(void)state;
	NEED_ROOT();
	path_of(path, sizeof(path), g, "qemu.log");
	as_guest(FIFO, NULL, path);
	qemu_last_words(g, last, sizeof(last));
	assert_string_equal(last, "");
	assert_true((fd = vm_sys_ops.open_log(path)) >= 0);
	close(fd);
	is_root_file(path);
	/* `nestbox logs` on console.log (ctl/server.c opens it this way) */
	path_of(path, sizeof(path), g, "console.log");
	as_guest(FIFO, NULL, path);
	assert_int_equal(open_checked(path, O_RDONLY, 0, (uid_t)-1), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(vm_sys_ops.make_file(path, GUID, GUID, 0600), 0);
	assert_true((fd = open_checked(path, O_RDONLY, 0, (uid_t)-1)) >= 0);
	close(fd);
}

/* A hard link to someone's file: truncated, chowned, read out. The link is
 * made by root here: with fs.protected_hardlinks off, the guest can. */
static void
hard_link(void **state)
{
	char		 path[512], victim[512], secret[512], disks[512], last[64];
	struct stat	 st;
	int		 fd;

	(void)state;
	NEED_ROOT();
	path_of(path, sizeof(path), g, "qemu.log");
	path_of(victim, sizeof(victim), dir, "victim");
	path_of(secret, sizeof(secret), dir, "secret");
	assert_int_equal(link(secret, path), 0);
	qemu_last_words(g, last, sizeof(last));
	assert_string_equal(last, "");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(link(victim, path), 0);
	assert_int_equal(open_checked(path, O_WRONLY | O_TRUNC, 0, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_true((fd = vm_sys_ops.open_log(path)) >= 0);
	close(fd);
	intact("victim", "precious\n", 0644);
	is_root_file(path);
	/* own_dir gives the guest its files, not a link to root's */
	path_of(disks, sizeof(disks), g, VM_DISKS);
	assert_int_equal(vm_sys_ops.mkdir_owned(disks, GUID, GUID, 0700), 0);
	path_of(path, sizeof(path), disks, "disk0.qcow2");
	assert_int_equal(link(victim, path), 0);
	path_of(path, sizeof(path), disks, "disk1.qcow2");
	as_guest(SYMLINK, secret, path);
	put_file(disks, "disk2.qcow2", "another slot's\n");
	path_of(path, sizeof(path), disks, "disk2.qcow2");
	assert_int_equal(chown(path, OTHER, OTHER), 0);
	put_file(disks, "root.qcow2", "root's\n");
	vm_sys_ops.own_dir(disks, GUID, "g");
	intact("victim", "precious\n", 0644);
	intact("secret", "token-abc\n", 0644);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, GUID);		/* the guest's own file is */
	path_of(path, sizeof(path), disks, "root.qcow2");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
}

/* A directory swapped for a symlink: PID 1 chowned the target to the guest;
 * seed.iso.tmp a symlink: PID 1 wrote the seed into the target, 0644. */
static void
dir_swapped(void **state)
{
	char		 path[512], target[512], seed[512];
	struct stat	 st;

	(void)state;
	NEED_ROOT();
	path_of(target, sizeof(target), dir, "victimdir");
	assert_int_equal(mkdir(target, 0700), 0);
	path_of(path, sizeof(path), g, VM_DISKS);
	as_guest(SYMLINK, target, path);
	assert_int_equal(vm_sys_ops.mkdir_owned(path, GUID, GUID, 0700), 0);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_uid, GUID);
	/* and the guest's directory itself made PID 1's again */
	assert_int_equal(vm_sys_ops.mkdir_owned(g, 0, GUID, 0750), 0);
	assert_int_equal(stat(g, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, GUID);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* the seed, as it was planted before that */
	assert_int_equal(chown(g, GUID, GUID), 0);
	path_of(seed, sizeof(seed), g, "seed.iso");
	path_of(path, sizeof(path), g, "seed.iso.tmp");
	path_of(target, sizeof(target), dir, "victim");
	assert_int_equal(chmod(target, 0600), 0);
	as_guest(SYMLINK, target, path);
	assert_int_equal(vm_sys_ops.write_file(seed, "ISO", 3, 0644), 0);
	intact("victim", "precious\n", 0600);
	is_root_file(seed);
}

/* QEMU's sockets: connected to only if a socket of the guest's is there. */
static void
sockets(void **state)
{
	struct sockaddr_un	 sun;
	char			 ok[512], evil[512], proc[32];
	int			 l, c, pfd;

	(void)state;
	NEED_ROOT();
	path_of(ok, sizeof(ok), g, "qmp.sock");
	assert_int_equal(unix_addr(&sun, ok), 0);
	assert_true((l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(lchown(ok, GUID, GUID), 0);
	assert_true((pfd = sock_checked(ok, GUID, proc, sizeof(proc))) >= 0);
	assert_int_equal(unix_addr(&sun, proc), 0);
	assert_true((c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(c);
	close(pfd);
	/* not the guest's: another's, or a symlink to any socket */
	assert_int_equal(sock_checked(ok, OTHER, proc, sizeof(proc)), -1);
	assert_int_equal(errno, EPERM);
	path_of(evil, sizeof(evil), g, "console.sock");
	as_guest(SYMLINK, ok, evil);
	assert_int_equal(sock_checked(evil, GUID, proc, sizeof(proc)), -1);
	assert_int_equal(errno, EPERM);		/* the symlink itself, not a socket */
	put_file(g, "file.sock", "");
	path_of(evil, sizeof(evil), g, "file.sock");
	assert_int_equal(sock_checked(evil, (uid_t)-1, proc, sizeof(proc)), -1);
	assert_int_equal(errno, EPERM);
	close(l);
}

/* The boundary's primitives on their own. */
static void
primitives(void **state)
{
	char		 path[512];
	int		 fd, dfd;

	(void)state;
	NEED_ROOT();
	assert_true((dfd = open(g, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(open_at_checked(dfd, "../victim", O_RDONLY, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(open_at_checked(dfd, "..", O_RDONLY, 0, 0), -1);
	assert_int_equal(open_at_checked(dfd, "", O_RDONLY, 0, 0), -1);
	assert_int_equal(open_at_checked(dfd, ".", O_RDONLY, 0, (uid_t)-1), -1);
	put_file(g, "mine", "x");
	assert_true((fd = open_at_checked(dfd, "mine", O_RDONLY, 0, 0)) >= 0);
	close(fd);
	assert_int_equal(open_at_checked(dfd, "mine", O_RDONLY, 0, GUID), -1);
	assert_int_equal(errno, EPERM);
	close(dfd);
	/* a directory in the way of a fresh file: refused, not removed */
	path_of(path, sizeof(path), g, "d");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(file_fresh(path, 0, 0, 0600), -1);
	assert_int_equal(access(path, F_OK), 0);
	path_of(path, sizeof(path), g, "fresh");
	assert_true((fd = file_fresh(path, GUID, OTHER, 0640)) >= 0);
	close(fd);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_uid, GUID);
		assert_int_equal(st.st_gid, OTHER);
		assert_int_equal(st.st_mode & 07777, 0640);
	}
}

/* An fd PID 1 left without close-on-exec reaches no child. */
static void
spawn_fds(void **state)
{
	char		 arg[32], out[256];
	char		*test_argv[] = { "/usr/bin/test", "-e", arg, NULL };
	char		*ls_argv[] = { "/bin/ls", "/proc/self/fd", NULL };
	int		 leak, p[2], fds[3], status;
	ssize_t		 n, len = 0;
	pid_t		 pid;

	(void)state;
	assert_true((leak = open("/dev/null", O_RDONLY)) >= 3);	/* no O_CLOEXEC */
	snprintf(arg, sizeof(arg), "/proc/self/fd/%d", leak);
	assert_true((pid = spawn(test_argv, NULL)) > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);		/* not there */
	/* and every fd: 0-2 and ls's own directory */
	assert_int_equal(pipe(p), 0);
	fds[0] = -1;
	fds[1] = p[1];
	fds[2] = -1;
	assert_true((pid = spawn(ls_argv, fds)) > 0);
	close(p[1]);
	while ((n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_string_equal(out, "0\n1\n2\n3\n");
	close(leak);
}


/* A process the guest's uid left (daemonized, undumpable): found and killed
 * before its slot is used again. */
static void
uid_leftovers(void **state)
{
	pid_t	 pid, pids[4];
	int	 status, p[2];
	char	 c;

	(void)state;
	NEED_ROOT();
	assert_int_equal(vm_sys_ops.uid_kill(GUID), 0);
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) == -1 || setresgid(GUID, GUID, GUID) == -1 ||
		    setresuid(GUID, GUID, GUID) == -1 ||
		    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
			_exit(2);
		close(p[0]);
		(void)write(p[1], "x", 1);
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	/* undumpable: /proc/PID is root's, its status says the truth */
	assert_int_equal(uid_procs("/proc", GUID, pids, 4), 1);
	assert_int_equal(pids[0], pid);
	assert_int_equal(vm_sys_ops.uid_kill(GUID), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(vm_sys_ops.uid_kill(GUID), 0);
}

/* A guest's files go back to root at boot and when it goes; a pd: node to
 * root:disk, through the node itself. */
static void
give_back(void **state)
{
	char		 top[512], path[512], link[512];
	struct stat	 st;

	(void)state;
	NEED_ROOT();
	path_of(path, sizeof(path), g, VM_DISKS);
	assert_int_equal(dir_owned(path, GUID, GUID, 0700), 0);
	disown_guests(dir);
	assert_int_equal(stat(g, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	/* a device node */
	path_of(top, sizeof(top), dir, "sdz");
	if (mknod(top, S_IFBLK | 0600, makedev(7, 250)) == -1)
		skip();			/* a file system without device nodes */
	assert_int_equal(chown(top, GUID, GUID), 0);
	assert_int_equal(vm_sys_ops.own_dev(top, 0, DISK_GID, 0660), 0);
	assert_int_equal(stat(top, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, DISK_GID);
	assert_int_equal(st.st_mode & 07777, 0660);
	/* a symlink where the node was: not followed */
	path_of(link, sizeof(link), dir, "sdy");
	assert_int_equal(symlink(top, link), 0);
	assert_int_equal(vm_sys_ops.own_dev(link, GUID, GUID, 0666), -1);
	assert_int_equal(stat(top, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0660);
}

/* qemu-img 10.0's `info --output=json -f qcow2` of crafted images: a clean
 * 10 GiB one, one with a backing file (/dev/sda), one with an external
 * data file, one whose backing is an NBD export. */
static const char img_clean[] =
    "{\"children\":[{\"name\":\"file\",\"info\":{\"children\":[],\"virtu"
    "al-size\":197120,\"filename\":\"/var/lib/nestbox/images/sha2"
    "56-x.part\",\"format\":\"file\",\"actual-size\":200704,\"format-"
    "specific\":{\"type\":\"file\",\"data\":{}},\"dirty-flag\":false}}"
    "],\"virtual-size\":10737418240,\"filename\":\"/var/lib/nestbo"
    "x/images/sha256-x.part\",\"cluster-size\":65536,\"format\":\"q"
    "cow2\",\"actual-size\":200704,\"format-specific\":{\"type\":\"qc"
    "ow2\",\"data\":{\"compat\":\"1.1\",\"compression-type\":\"zlib\",\"l"
    "azy-refcounts\":false,\"refcount-bits\":16,\"corrupt\":false,"
    "\"extended-l2\":false}},\"dirty-flag\":false}";
static const char img_backing[] =
    "{\"children\":[{\"name\":\"file\",\"info\":{\"children\":[],\"virtu"
    "al-size\":197120,\"filename\":\"/var/lib/nestbox/images/sha2"
    "56-x.part\",\"format\":\"file\",\"actual-size\":200704,\"format-"
    "specific\":{\"type\":\"file\",\"data\":{}},\"dirty-flag\":false}}"
    "],\"backing-filename-format\":\"raw\",\"virtual-size\":1073741"
    "824,\"filename\":\"/var/lib/nestbox/images/sha256-x.part\",\""
    "cluster-size\":65536,\"format\":\"qcow2\",\"actual-size\":20070"
    "4,\"format-specific\":{\"type\":\"qcow2\",\"data\":{\"compat\":\"1."
    "1\",\"compression-type\":\"zlib\",\"lazy-refcounts\":false,\"ref"
    "count-bits\":16,\"corrupt\":false,\"extended-l2\":false}},\"fu"
    "ll-backing-filename\":\"/dev/sda\",\"backing-filename\":\"/dev"
    "/sda\",\"dirty-flag\":false}";
static const char img_data[] =
    "{\"children\":[{\"name\":\"file\",\"info\":{\"children\":[],\"virtu"
    "al-size\":197120,\"filename\":\"/var/lib/nestbox/images/sha2"
    "56-x.part\",\"format\":\"file\",\"actual-size\":200704,\"format-"
    "specific\":{\"type\":\"file\",\"data\":{}},\"dirty-flag\":false}}"
    "],\"virtual-size\":1073741824,\"filename\":\"/var/lib/nestbox"
    "/images/sha256-x.part\",\"cluster-size\":65536,\"format\":\"qc"
    "ow2\",\"actual-size\":200704,\"format-specific\":{\"type\":\"qco"
    "w2\",\"data\":{\"compat\":\"1.1\",\"compression-type\":\"zlib\",\"la"
    "zy-refcounts\":false,\"refcount-bits\":16,\"data-file\":\"/tmp"
    "/q13img/dd.raw\",\"data-file-raw\":false,\"corrupt\":false,\"e"
    "xtended-l2\":false}},\"dirty-flag\":false}";
static const char img_nbd[] =
    "{\"children\":[{\"name\":\"file\",\"info\":{\"children\":[],\"virtu"
    "al-size\":197120,\"filename\":\"/var/lib/nestbox/images/sha2"
    "56-x.part\",\"format\":\"file\",\"actual-size\":200704,\"format-"
    "specific\":{\"type\":\"file\",\"data\":{}},\"dirty-flag\":false}}"
    "],\"backing-filename-format\":\"raw\",\"virtual-size\":1073741"
    "824,\"filename\":\"/var/lib/nestbox/images/sha256-x.part\",\""
    "cluster-size\":65536,\"format\":\"qcow2\",\"actual-size\":20070"
    "4,\"format-specific\":{\"type\":\"qcow2\",\"data\":{\"compat\":\"1."
    "1\",\"compression-type\":\"zlib\",\"lazy-refcounts\":false,\"ref"
    "count-bits\":16,\"corrupt\":false,\"extended-l2\":false}},\"fu"
    "ll-backing-filename\":\"nbd://127.0.0.1:1/x\",\"backing-file"
    "name\":\"nbd://127.0.0.1:1/x\",\"dirty-flag\":false}";

static void
images_are_data(void **state)
{
	char	 why[160];

	(void)state;
	assert_int_equal(image_check(img_clean, strlen(img_clean), why, sizeof(why)), 0);
	assert_int_equal(image_check(img_backing, strlen(img_backing), why,
	    sizeof(why)), -1);
	assert_string_equal(why, "it names a backing file (/dev/sda)");
	assert_int_equal(image_check(img_data, strlen(img_data), why, sizeof(why)), -1);
	assert_string_equal(why, "it names an external data file (/tmp/q13img/dd.raw)");
	assert_int_equal(image_check(img_nbd, strlen(img_nbd), why, sizeof(why)), -1);
	assert_string_equal(why, "it names a backing file (nbd://127.0.0.1:1/x)");
	/* what a changed qemu-img might say, and what is not qemu-img's */
#define CHECK(j)	image_check(j, strlen(j), why, sizeof(why))
	assert_int_equal(CHECK("{\"format\":\"raw\"}"), -1);
	assert_string_equal(why, "not a qcow2 image");
	assert_int_equal(CHECK("{\"format\":\"qcow2\",\"backing-image\":{}}"), -1);
	assert_int_equal(CHECK("{\"format\":\"qcow2\",\"children\":[{\"name\":"
	    "\"data-file\",\"info\":{\"format\":\"nbd\"}}]}"), -1);
	assert_string_equal(why, "it opens another node (data-file)");
	assert_int_equal(image_check("[", 1, why, sizeof(why)), -1);
	assert_int_equal(image_check("", 0, why, sizeof(why)), -1);
}

/* qemu-img next to this binary (out/tests/unit-init -> out/pkg/qemu/...). */
static int
pkg_qemu_img(char *buf, size_t size)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(buf, size, "%.3000s/../pkg/qemu/rootfs/usr/bin/qemu-img",
	    self) >= size)
		return -1;
	return access(buf, X_OK);
}

static void
run_tool(char *const argv[])
{
	int	 fds[3] = { -1, -1, 2 }, status;
	pid_t	 pid;

	assert_true((pid = spawn(argv, fds)) > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The inspection itself: the image's qemu-img on crafted images, and a
 * qemu-img that hangs or talks without end. */
static void
inspect_images(void **state)
{
	char	 qi[PATH_MAX], clean[512], bad[512], raw[512], slow[512], loud[512];
	char	 why[200];
	char	*mk_clean[] = { qi, "create", "-q", "-f", "qcow2", clean, "1G", NULL };
	char	*mk_bad[] = { qi, "create", "-q", "-f", "qcow2", "-u", "-F", "raw", "-b",
		    "/dev/sda", bad, "1G", NULL };
	uint64_t t0;

	(void)state;
	if (pkg_qemu_img(qi, sizeof(qi)) == -1)
		skip();
	path_of(clean, sizeof(clean), dir, "clean.qcow2");
	path_of(bad, sizeof(bad), dir, "bad.qcow2");
	run_tool(mk_clean);
	run_tool(mk_bad);
	assert_int_equal(image_inspect(qi, clean, 30, why, sizeof(why)), FETCH_OK);
	assert_int_equal(image_inspect(qi, bad, 30, why, sizeof(why)), FETCH_REFUSED);
	assert_string_equal(why, "it names a backing file (/dev/sda)");
	/* not qcow2: bytes, never looked at */
	put_file(dir, "raw.img", "QFI but not the magic");
	path_of(raw, sizeof(raw), dir, "raw.img");
	assert_int_equal(image_inspect("/nonexistent", raw, 30, why, sizeof(why)), FETCH_OK);
	assert_int_equal(image_inspect("/nonexistent", bad, 30, why, sizeof(why)),
	    FETCH_ERROR);
	assert_string_equal(why, "/nonexistent did not run");
	/* a qemu-img that hangs: killed at the limit; one that talks on */
	put_file(dir, "slow", "#!/bin/sh\nexec sleep 30\n");
	path_of(slow, sizeof(slow), dir, "slow");
	assert_int_equal(chmod(slow, 0755), 0);
	t0 = now_ms();
	assert_int_equal(image_inspect(slow, bad, 1, why, sizeof(why)), FETCH_REFUSED);
	assert_string_equal(why, "qemu-img info took over 1 s");
	assert_true(now_ms() - t0 < 5000);
	put_file(dir, "loud", "#!/bin/sh\nexec yes\n");
	path_of(loud, sizeof(loud), dir, "loud");
	assert_int_equal(chmod(loud, 0755), 0);
	assert_int_equal(image_inspect(loud, bad, 10, why, sizeof(why)), FETCH_REFUSED);
	assert_string_equal(why, "qemu-img info said over 262144 bytes");
}

/* Secrets stay secret: one redaction for every URL printed or stored. */
static void
redaction(void **state)
{
	static const char *const cases[][2] = {
		{ "https://example.com/a.img", "https://example.com/a.img" },
		{ "https://example.com/a.img?X-Goog-Signature=abc&x=1",
		    "https://example.com/a.img?..." },
		{ "https://user:pw@example.com/a?b", "https://example.com/a?..." },
		{ "http://u@h:8080/p#frag", "http://h:8080/p?..." },
		{ "https://h/p?q=a@b/c", "https://h/p?..." },
		{ "https://h?x", "https://h?..." },
		{ "gs://bucket/obj", "gs://bucket/obj" },
		{ "pd:data", "pd:data" },
		{ "state:x/y.img", "state:x/y.img" },
		{ "", "" },
	};
	char	 buf[64], small[16];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(url_redact(cases[i][0], buf, sizeof(buf)), cases[i][1]);
	/* cut, with "...", never the query's start */
	assert_string_equal(url_redact("https://example.com/long/path?sig=SECRET", small,
	    sizeof(small)), "https://exam...");
	assert_string_equal(url_redact("https://a:SECRET@b/", small, 6), "ht...");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(qemu_log_symlink, setup, teardown),
	cmocka_unit_test_setup_teardown(fifo_in_place, setup, teardown),
	cmocka_unit_test_setup_teardown(hard_link, setup, teardown),
	cmocka_unit_test_setup_teardown(dir_swapped, setup, teardown),
	cmocka_unit_test_setup_teardown(sockets, setup, teardown),
	cmocka_unit_test_setup_teardown(primitives, setup, teardown),
	cmocka_unit_test_setup_teardown(uid_leftovers, setup, teardown),
	cmocka_unit_test_setup_teardown(give_back, setup, teardown),
	cmocka_unit_test(spawn_fds),
	cmocka_unit_test(images_are_data),
	cmocka_unit_test_setup_teardown(inspect_images, setup, teardown),
	cmocka_unit_test(redaction),
};

const struct suite contain_suite = { tests, NTESTS(tests) };
