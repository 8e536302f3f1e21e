/* A pod's pause process, as a test builds it (tests/test_cri.py, benchmarks/bench_cri.py):
   pid 1 of the pod's sandbox, holding its namespaces; it reaps what is re-parented to it and
   exits 0 on SIGTERM or SIGINT. A static binary: the pause image holds nothing else. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction stop = {.sa_handler = quit}, child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGCHLD, &child, NULL);
    for (;;)
        pause();
    return 1;
}
