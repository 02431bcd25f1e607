/* The reference row of `python -m eloop bench`: a plain C epoll echo server, measured the same
 * way as the Python servers, to show what the kernel and the load generator cost on their own.
 *
 *   echo_server [--port P] [--cpu C]
 *
 * Binds 127.0.0.1:P (0: any free port), prints {"port": N} on stdout and echoes until killed.
 * Level-triggered; a reply the socket cannot take at once is kept and reading from that
 * connection pauses until it is written (the same back-pressure an asyncio transport applies).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct pending {
    char *data;
    size_t length;
    size_t written;
};

static struct pending *pending;  /* indexed by fd */
static int epfd;

static void watch(int fd, int op, unsigned events)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };
    epoll_ctl(epfd, op, fd, &ev);
}

static void drop(int fd)
{
    free(pending[fd].data);
    pending[fd].data = NULL;
    close(fd);
}

static int listen_on(int port)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4096) < 0) {
        perror("listen");
        exit(1);
    }
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    printf("{\"port\": %d}\n", ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

static void accept_all(int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        watch(fd, EPOLL_CTL_ADD, EPOLLIN);
    }
}

/* Write what is left of a reply; returns 1 once all of it is written. */
static int flush_pending(int fd)
{
    struct pending *p = &pending[fd];
    while (p->written < p->length) {
        ssize_t n = write(fd, p->data + p->written, p->length - p->written);
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            drop(fd);
            return 0;
        }
        p->written += n;
    }
    free(p->data);
    p->data = NULL;
    return 1;
}

static void echo(int fd)
{
    static char buffer[65536];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            drop(fd);
            return;
        }
        ssize_t written = write(fd, buffer, n);
        if (written < 0 && errno != EAGAIN) {
            drop(fd);
            return;
        }
        if (written < 0)
            written = 0;
        if (written < n) {
            struct pending *p = &pending[fd];
            p->length = n - written;
            p->written = 0;
            p->data = malloc(p->length);
            memcpy(p->data, buffer + written, p->length);
            watch(fd, EPOLL_CTL_MOD, EPOLLOUT);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    int port = 0, cpu = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--cpu") == 0) cpu = atoi(argv[i + 1]);
    }
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    pending = calloc(limit.rlim_cur, sizeof *pending);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    int listener = listen_on(port);
    watch(listener, EPOLL_CTL_ADD, EPOLLIN);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener)
                accept_all(listener);
            else if (events[i].events & EPOLLOUT) {
                if (flush_pending(fd))
                    watch(fd, EPOLL_CTL_MOD, EPOLLIN);
            } else
                echo(fd);
        }
    }
}
