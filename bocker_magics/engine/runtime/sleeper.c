/* bocker's sleeper: a container's monitor while nothing happens (issue 22: memory per
 * container; sleeper.py says the why and the whole hand-off, README's Density the cost).
 *
 * The Python monitor (monitor.py) execs this program in its own process when its container
 * is idle: no client attached, no published-port connection, no healthcheck due soon. It
 * keeps the monitor's pid, its children (pid 1 among them), its session and every fd it
 * was handed. While it runs it does the one thing an idle container needs: what pid 1
 * writes to its stdout/stderr (pipes, or a pty's master) goes to the container's log, in
 * logfile.py's format (a record per line, `TIME STREAM F|P LINE`). On anything else it execs
 * the Python monitor again, which resumes from the record the monitor left in a memfd:
 *   - pid 1 exited (SIGCHLD; the zombie is left for Python to reap and record),
 *   - a "wake" fd became readable (the attach socket, a published port's listener),
 *   - the deadline passed (a healthcheck is due).
 *
 *   bocker-sleeper LOGFD PID DEADLINE_NS LOGFULL SOURCES WAKES PYTHON ARG...
 *     LOGFD        the log, open for appending (-1: none)
 *     PID          pid 1 of the container, our child
 *     DEADLINE_NS  CLOCK_MONOTONIC time to wake at, 0 for none
 *     LOGFULL      1: the disk filled up before, the log is not written any more
 *     SOURCES      FD:o or FD:e (stdout, stderr), comma separated, or -
 *     WAKES        FD,FD,... or -
 *     PYTHON ARG.. the command that resumes the monitor; `logfull=0|1` is appended
 *
 * A source at its end (EOF, or EIO from a pty) is left open and no longer watched: the
 * resumed monitor reads its end again and closes it, as it would have. Nothing is read
 * from the wake fds. Plain C and libc only; no allocation after the start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536 /* as stdio.py reads */
#define MAX_SOURCES 4
#define MAX_WAKES 64
#define MAX_IOV 1020 /* a multiple of 3, under IOV_MAX */
#define TAG_SOURCE 0x100000000ULL
#define TAG_WAKE 0x200000000ULL
#define TAG_SIGNAL 0x300000000ULL

static char buf[CHUNK];
static struct iovec iov[MAX_IOV];
static char **resume_argv;
static int resume_argc;
static int log_fd = -1, log_full;

static void resume(void)
{
    char full[16];
    char *argv[resume_argc + 2];
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the resumed monitor starts with no signal blocked */
    snprintf(full, sizeof full, "logfull=%d", log_full);
    memcpy(argv, resume_argv, resume_argc * sizeof(char *));
    argv[resume_argc] = full;
    argv[resume_argc + 1] = NULL;
    execv(argv[0], argv);
    dprintf(2, "bocker-sleeper: could not resume the monitor (%s: %s): the container is left to `bocker gc`\n",
            argv[0], strerror(errno));
    _exit(1);
}

static int exited(pid_t pid)
{
    siginfo_t info;

    memset(&info, 0, sizeof info);
    if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == ECHILD;
    return info.si_pid == pid;
}

static void flush(int n)
{
    ssize_t want = 0, done;
    int i;

    for (i = 0; i < n; i++)
        want += iov[i].iov_len;
    if (n == 0 || log_full)
        return;
    done = writev(log_fd, iov, n);
    if (done != want) /* as LogWriter: an error (a full disk) ends the log; the relay goes on */
        log_full = 1;
}

/* One read's records, all with the same time, as logfile.LogWriter.write makes them. */
static void write_log(const char *stream, const char *data, size_t len)
{
    char head_f[64], head_p[64], stamp[32];
    struct timespec now;
    struct tm tm;
    size_t start = 0, hf, hp;
    int n = 0;
    static char newline = '\n';

    if (log_fd < 0 || log_full)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    hf = snprintf(head_f, sizeof head_f, "%s.%09ldZ %s F ", stamp, now.tv_nsec, stream);
    hp = snprintf(head_p, sizeof head_p, "%s.%09ldZ %s P ", stamp, now.tv_nsec, stream);
    while (start < len) {
        const char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len;

        if (n + 3 > MAX_IOV) {
            flush(n);
            n = 0;
        }
        iov[n].iov_base = nl ? head_f : head_p;
        iov[n++].iov_len = nl ? hf : hp;
        iov[n].iov_base = (char *)data + start;
        iov[n++].iov_len = end - start;
        iov[n].iov_base = &newline;
        iov[n++].iov_len = 1;
        start = nl ? end + 1 : len;
    }
    flush(n);
}

static int parse_int(const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0';
}

int main(int argc, char **argv)
{
    int source_fd[MAX_SOURCES], open_sources = 0, nsources = 0, ep, sfd, i;
    const char *source_stream[MAX_SOURCES];
    long long v, deadline;
    pid_t pid;
    sigset_t chld;
    struct epoll_event ev, events[16];
    char *list, *item, *save;

    if (argc < 8) {
        dprintf(2, "usage: bocker-sleeper LOGFD PID DEADLINE_NS LOGFULL SOURCES WAKES PYTHON [ARG...]"
                   " (the monitor runs it: see sleeper.py)\n");
        return 2;
    }
    resume_argv = argv + 7;
    resume_argc = argc - 7;
    if (!parse_int(argv[1], &v))
        return 2;
    log_fd = (int)v;
    if (!parse_int(argv[2], &v) || v <= 0)
        return 2;
    pid = (pid_t)v;
    if (!parse_int(argv[3], &deadline))
        return 2;
    log_full = argv[4][0] == '1';

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || ep < 0)
        resume();
    ev.events = EPOLLIN;
    ev.data.u64 = TAG_SIGNAL;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

    if (strcmp(argv[5], "-") != 0) {
        list = argv[5];
        for (item = strtok_r(list, ",", &save); item && nsources < MAX_SOURCES; item = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(item, ':');
            if (!colon)
                return 2;
            *colon = '\0';
            if (!parse_int(item, &v))
                return 2;
            source_fd[nsources] = (int)v;
            source_stream[nsources] = colon[1] == 'e' ? "stderr" : "stdout";
            ev.events = EPOLLIN;
            ev.data.u64 = TAG_SOURCE | (unsigned)nsources;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, source_fd[nsources], &ev) == 0)
                open_sources++;
            nsources++;
        }
    }
    if (strcmp(argv[6], "-") != 0) {
        list = argv[6];
        for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            if (!parse_int(item, &v))
                return 2;
            ev.events = EPOLLIN;
            ev.data.u64 = TAG_WAKE | (unsigned)v;
            epoll_ctl(ep, EPOLL_CTL_ADD, (int)v, &ev);
        }
    }
    (void)open_sources;
    if (exited(pid)) /* before we blocked SIGCHLD */
        resume();

    for (;;) {
        int timeout = -1, n;

        if (deadline > 0) {
            struct timespec now;
            long long left;

            clock_gettime(CLOCK_MONOTONIC, &now);
            left = deadline - ((long long)now.tv_sec * 1000000000LL + now.tv_nsec);
            if (left <= 0)
                resume();
            timeout = (int)((left + 999999) / 1000000);
        }
        n = epoll_wait(ep, events, 16, timeout);
        if (n < 0 && errno != EINTR)
            resume();
        for (i = 0; i < n; i++) {
            unsigned long long tag = events[i].data.u64 & 0xF00000000ULL;

            if (tag == TAG_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) > 0)
                    ;
                if (exited(pid))
                    resume();
            } else if (tag == TAG_WAKE) {
                resume();
            } else {
                int k = (int)(events[i].data.u64 & 0xFF);
                ssize_t got = read(source_fd[k], buf, CHUNK);

                if (got > 0) {
                    write_log(source_stream[k], buf, (size_t)got);
                } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    /* its end (EIO: a pty whose every slave is closed): the monitor reads it again */
                    epoll_ctl(ep, EPOLL_CTL_DEL, source_fd[k], NULL);
                    open_sources--;
                }
            }
        }
    }
}
