/* Attack probes run inside the sandbox by the sandbox crate's tests.
 * Each prints "<name> ok" or "<name> errno=<ENAME>". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc) {
    if (rc < 0)
        printf("%s errno=%s\n", name, strerrorname_np(errno));
    else
        printf("%s ok\n", name);
    fflush(stdout);
}

static void sock(const char *name, int family, int type) {
    int fd = socket(family, type, 0);
    report(name, fd);
    if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *what = argv[1];
    if (!strcmp(what, "tiocsti")) {
        char c = 'x';
        report(what, ioctl(0, TIOCSTI, &c));
    } else if (!strcmp(what, "tioclinux")) {
        char sub = 0;
        report(what, ioctl(0, TIOCLINUX, &sub));
    } else if (!strcmp(what, "ptrace-traceme")) {
        report(what, ptrace(PTRACE_TRACEME, 0, 0, 0));
    } else if (!strcmp(what, "ptrace-attach")) {
        pid_t child = fork();
        if (child == 0) { pause(); _exit(0); }
        report(what, ptrace(PTRACE_ATTACH, child, 0, 0));
        kill(child, SIGKILL);
        waitpid(child, 0, 0);
    } else if (!strcmp(what, "io_uring_setup")) {
        unsigned char params[120];
        memset(params, 0, sizeof params);
        report(what, syscall(SYS_io_uring_setup, 1, params));
    } else if (!strcmp(what, "unshare")) {
        report(what, unshare(CLONE_NEWUSER));
    } else if (!strcmp(what, "clone-newuser")) {
        long rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (rc == 0) _exit(0);
        if (rc > 0) waitpid(rc, 0, 0);
        report(what, rc);
    } else if (!strcmp(what, "bpf")) {
        report(what, syscall(SYS_bpf, 0, NULL, 0));
    } else if (!strcmp(what, "keyctl")) {
        report(what, syscall(SYS_keyctl, 0, -3, 0));
    } else if (!strcmp(what, "mount")) {
        report(what, mount("none", "/tmp", "tmpfs", 0, 0));
    } else if (!strcmp(what, "perf_event_open")) {
        unsigned char attr[128];
        memset(attr, 0, sizeof attr);
        report(what, syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
    } else if (!strcmp(what, "userfaultfd")) {
        report(what, syscall(SYS_userfaultfd, 0));
    } else if (!strcmp(what, "process_vm_readv")) {
        report(what, syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0));
#ifdef __x86_64__
    } else if (!strcmp(what, "x32-getpid")) {
        report(what, syscall(0x40000000 | SYS_getpid));
#endif
    } else if (!strcmp(what, "socket-inet")) {
        sock(what, AF_INET, SOCK_STREAM);
    } else if (!strcmp(what, "socket-inet6")) {
        sock(what, AF_INET6, SOCK_DGRAM);
    } else if (!strcmp(what, "socket-netlink")) {
        sock(what, AF_NETLINK, SOCK_RAW);
    } else if (!strcmp(what, "socket-packet")) {
        sock(what, AF_PACKET, SOCK_RAW);
    } else if (!strcmp(what, "socket-unix")) {
        sock(what, AF_UNIX, SOCK_STREAM);
    } else if (!strcmp(what, "connect") && argc == 4) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { report("connect", fd); return 0; }
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(atoi(argv[3]));
        inet_pton(AF_INET, argv[2], &sa.sin_addr);
        report("connect", connect(fd, (struct sockaddr *)&sa, sizeof sa));
    } else if (!strcmp(what, "forks") && argc == 3) {
        int want = atoi(argv[2]), made = 0;
        pid_t kids[4096];
        for (; made < want && made < 4096; made++) {
            pid_t p = fork();
            if (p == 0) { pause(); _exit(0); }
            if (p < 0) break;
            kids[made] = p;
        }
        printf("forked=%d %s\n", made, made < want ? strerrorname_np(errno) : "all");
        fflush(stdout);
        for (int i = 0; i < made; i++) kill(kids[i], SIGKILL);
        for (int i = 0; i < made; i++) waitpid(kids[i], 0, 0);
    } else if (!strcmp(what, "alloc") && argc == 3) {
        size_t bytes = (size_t)atol(argv[2]) << 20;
        char *p = malloc(bytes);
        if (!p) { puts("alloc failed"); return 3; }
        memset(p, 1, bytes);
        puts("alloc ok");
    } else {
        return 2;
    }
    return 0;
}
