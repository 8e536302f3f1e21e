/* One system call an attacker in a container would make, with harmless arguments; prints
   "NAME ok" or "NAME ERRNONAME" and exits 0 for ok, 1 for a refusal, 2 for bad usage.
   Built static by the tests and bound into the container read-only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static int report(const char *name, long rc) {
    if (rc >= 0) { printf("%s ok\n", name); return 0; }
    const char *e = errno == EPERM ? "EPERM" : errno == EACCES ? "EACCES" : errno == ENOSYS ? "ENOSYS"
                  : errno == EINVAL ? "EINVAL" : errno == ENOENT ? "ENOENT" : errno == EFAULT ? "EFAULT"
                  : errno == EBADF ? "EBADF" : errno == ENODEV ? "ENODEV" : strerror(errno);
    printf("%s %s\n", name, e);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *what = argv[1];
    if (!strcmp(what, "add_key"))
        return report(what, syscall(SYS_add_key, "user", "bocker-test", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */));
    if (!strcmp(what, "keyctl"))  /* KEYCTL_GET_KEYRING_ID of the user keyring */
        return report(what, syscall(SYS_keyctl, 0, -4 /* KEY_SPEC_USER_KEYRING */, 0));
    if (!strcmp(what, "unshare_user")) return report(what, unshare(CLONE_NEWUSER));
    if (!strcmp(what, "unshare_mount")) return report(what, unshare(CLONE_NEWNS));
    if (!strcmp(what, "mount")) return report(what, mount("none", "/tmp", "tmpfs", 0, NULL));
    if (!strcmp(what, "init_module")) return report(what, syscall(SYS_init_module, NULL, 0, ""));
    if (!strcmp(what, "kexec_load")) return report(what, syscall(SYS_kexec_load, 0, 0, NULL, 0));
    if (!strcmp(what, "reboot"))  /* bad magic: refused by the kernel even when allowed */
        return report(what, syscall(SYS_reboot, 0, 0, 0, NULL));
    if (!strcmp(what, "clock_settime")) {
        struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts);
        return report(what, clock_settime(CLOCK_REALTIME, &ts));
    }
    if (!strcmp(what, "bpf")) {
        union bpf_attr attr; memset(&attr, 0, sizeof attr);
        return report(what, syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
    }
    if (!strcmp(what, "perf_event_open")) {
        struct perf_event_attr attr; memset(&attr, 0, sizeof attr);
        attr.size = sizeof attr; attr.type = PERF_TYPE_SOFTWARE; attr.config = PERF_COUNT_SW_CPU_CLOCK;
        return report(what, syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    }
    if (!strcmp(what, "mknod_block")) {  /* the host's loop0, or whatever b 7:0 is */
        unlink("/tmp/blk");
        return report(what, mknod("/tmp/blk", S_IFBLK | 0600, makedev(7, 0)));
    }
    if (!strcmp(what, "open") && argc > 2) {
        int fd = open(argv[2], O_RDONLY);
        if (fd >= 0) { char buf[64]; long n = read(fd, buf, sizeof buf); close(fd); return report(what, n); }
        return report(what, fd);
    }
    return 2;
}
