/* The load generator of `python -m eloop bench`: one thread, one epoll set, N connections.
 *
 * It is written in C so that the client costs far less than the Python server under test and
 * the figures describe the server. Every reply is checked: an echo must return every byte in
 * order, an HTTP reply must be a 200 with a Content-Length body. Runs are bounded by a duration,
 * a request count and a hard timeout, so the client always stops by itself.
 *
 *   echo_client --port P [--mode echo|http] [--conns N] [--size BYTES] [--duration SEC]
 *               [--requests MAX] [--per-conn K] [--hold] [--timeout SEC] [--cpu C]
 *
 * --hold: once every connection is open, print a JSON line and wait for a line on stdin before
 * sending (the C10K workload measures the server between the two).
 * The result is one JSON line on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_ECHO, MODE_HTTP };

struct options {
    const char *host;
    int port;
    enum mode mode;
    int conns;
    size_t size;
    double duration;
    long max_requests;
    long per_conn;
    int hold;
    double timeout;
    int cpu;
    int connect_batch;
};

enum state { UNUSED, CONNECTING, OPEN, FAILED };

struct conn {
    int fd;
    enum state state;
    int busy;            /* a request is in flight */
    int want_write;      /* EPOLLOUT is registered because a write met EAGAIN */
    long done;           /* requests completed on this connection */
    size_t sent;         /* bytes of the current request written */
    size_t received;     /* bytes of the current reply read */
    unsigned offset;     /* where the current echo payload starts in the pattern */
    char *reply;         /* http: the reply so far */
};

static struct options opt = {
    "127.0.0.1", 0, MODE_ECHO, 50, 1024, 3.0, 10000000, 0, 0, 60.0, -1, 256,
};
static struct conn *conns;
static int epfd;
static unsigned char *pattern;  /* bytes 0,1,...,255,0,1,...: a payload starts anywhere in it */
static const char http_request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
#define REPLY_MAX 65536

static long completed, errors;
static int stopping, in_flight, open_conns, failed_conns;
static char first_error[200];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The first error is reported; keep it printable inside a JSON string. */
static void note_error(const char *fmt, va_list ap)
{
    if (errors++ > 0)
        return;
    vsnprintf(first_error, sizeof first_error, fmt, ap);
    for (char *p = first_error; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '?';
}

static void report_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_error(fmt, ap);
    va_end(ap);
}

/* A failed connection is closed and not replaced: the run reports it in errors. */
static void fail(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_error(fmt, ap);
    va_end(ap);
    if (c->state == OPEN)
        open_conns--;
    if (c->busy)
        in_flight--;
    c->state = FAILED;
    c->busy = 0;
    failed_conns++;
    close(c->fd);
}

static void watch(struct conn *c, int op, unsigned events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
        fail(c, "epoll_ctl: %s", strerror(errno));
}

static size_t request_size(void)
{
    return opt.mode == MODE_ECHO ? opt.size : sizeof http_request - 1;
}

static const unsigned char *request_bytes(struct conn *c)
{
    return opt.mode == MODE_ECHO ? pattern + c->offset : (const unsigned char *)http_request;
}

/* Write what the socket takes now; on EAGAIN wait for EPOLLOUT instead of spinning. */
static void send_pending(struct conn *c)
{
    size_t total = request_size();
    const unsigned char *bytes = request_bytes(c);
    while (c->sent < total) {
        ssize_t n = write(c->fd, bytes + c->sent, total - c->sent);
        if (n > 0) {
            c->sent += n;
        } else if (n < 0 && errno == EAGAIN) {
            if (!c->want_write) {
                c->want_write = 1;
                watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
            }
            return;
        } else {
            fail(c, "write: %s", n < 0 ? strerror(errno) : "wrote nothing");
            return;
        }
    }
    if (c->want_write) {
        c->want_write = 0;
        watch(c, EPOLL_CTL_MOD, EPOLLIN);
    }
}

static int may_start(struct conn *c)
{
    return !stopping && c->state == OPEN && (opt.per_conn == 0 || c->done < opt.per_conn);
}

static void start_request(struct conn *c)
{
    c->busy = 1;
    in_flight++;
    c->sent = c->received = 0;
    c->offset = (unsigned)((c - conns) * 131 + c->done * 7) & 0xff;
    send_pending(c);
}

static void finish_request(struct conn *c)
{
    c->busy = 0;
    in_flight--;
    c->done++;
    if (!stopping)
        completed++;
    if (may_start(c))
        start_request(c);
}

/* An echo reply must be the request, byte for byte, and nothing more. */
static void take_echo(struct conn *c, const unsigned char *data, size_t n)
{
    if (!c->busy || c->received + n > opt.size) {
        fail(c, "echo: more bytes came back than were sent");
        return;
    }
    const unsigned char *expected = pattern + c->offset + c->received;
    if (memcmp(data, expected, n) != 0) {
        fail(c, "echo: reply differs from the request at byte %zu", c->received);
        return;
    }
    c->received += n;
    if (c->received == opt.size)
        finish_request(c);
}

/* The whole reply length once the headers are in, else 0. */
static size_t http_reply_length(struct conn *c)
{
    char *end = memmem(c->reply, c->received, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t header = end + 4 - c->reply;
    char *p = c->reply;
    char *stop = end;
    long length = -1;
    while ((p = memchr(p, '\n', stop - p)) != NULL) {
        p++;
        if (stop - p > 15 && strncasecmp(p, "content-length:", 15) == 0) {
            length = strtol(p + 15, NULL, 10);
            break;
        }
    }
    if (length < 0)
        return (size_t)-1;
    return header + length;
}

static void take_http(struct conn *c, const unsigned char *data, size_t n)
{
    if (!c->busy || c->received + n > REPLY_MAX) {
        fail(c, "http: unexpected or oversized reply");
        return;
    }
    memcpy(c->reply + c->received, data, n);
    c->received += n;
    size_t length = http_reply_length(c);
    if (length == 0 || c->received < length)
        return;
    if (length == (size_t)-1 || c->received > length) {
        fail(c, "http: reply without Content-Length or with extra bytes");
        return;
    }
    if (c->received < 12 || memcmp(c->reply + 9, "200", 3) != 0) {
        fail(c, "http: status %.3s", c->reply + 9);
        return;
    }
    finish_request(c);
}

static void on_readable(struct conn *c)
{
    unsigned char buffer[65536];
    while (c->state == OPEN) {
        ssize_t n = read(c->fd, buffer, sizeof buffer);
        if (n > 0) {
            if (opt.mode == MODE_ECHO)
                take_echo(c, buffer, n);
            else
                take_http(c, buffer, n);
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else {
            fail(c, "read: %s", n < 0 ? strerror(errno) : "server closed the connection");
            return;
        }
    }
}

static void on_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        fail(c, "connect: %s", strerror(err));
        return;
    }
    c->state = OPEN;
    open_conns++;
    watch(c, EPOLL_CTL_MOD, EPOLLIN);
}

static void begin_connect(struct conn *c, const struct sockaddr_in *addr)
{
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "socket: %s\n", strerror(errno));
        exit(2);
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CONNECTING;
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS) {
        fail(c, "connect: %s", strerror(errno));
        return;
    }
    watch(c, EPOLL_CTL_ADD, EPOLLOUT);
}

static int dispatch(int timeout_ms)
{
    struct epoll_event events[256];
    int n = epoll_wait(epfd, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) {
        perror("epoll_wait");
        exit(2);
    }
    for (int i = 0; i < n; i++) {
        struct conn *c = events[i].data.ptr;
        if (c->state == CONNECTING) {
            on_connected(c);
            continue;
        }
        if (c->state == OPEN && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(c);
        if (c->state == OPEN && (events[i].events & EPOLLOUT) && c->busy)
            send_pending(c);
    }
    return n;
}

/* Open every connection, at most connect_batch handshakes at a time so the server's accept
 * backlog is not flooded. Returns the time it took. */
static double connect_all(const struct sockaddr_in *addr, double deadline)
{
    double start = now();
    int next = 0;
    while (open_conns + failed_conns < opt.conns) {
        while (next < opt.conns && next - open_conns - failed_conns < opt.connect_batch)
            begin_connect(&conns[next++], addr);
        dispatch(10);
        if (now() > deadline) {
            report_error("connect: timed out with %d of %d open", open_conns, opt.conns);
            break;
        }
    }
    return now() - start;
}

static void wait_for_go(double connect_seconds)
{
    printf("{\"connected\": %d, \"connect_seconds\": %.6f}\n", open_conns, connect_seconds);
    fflush(stdout);
    char line[64];
    if (fgets(line, sizeof line, stdin) == NULL) {
        fprintf(stderr, "no go line on stdin\n");
        exit(2);
    }
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--hold") == 0) { opt.hold = 1; continue; }
        if (v == NULL) { fprintf(stderr, "%s needs a value\n", a); exit(2); }
        i++;
        if (strcmp(a, "--host") == 0) opt.host = v;
        else if (strcmp(a, "--port") == 0) opt.port = atoi(v);
        else if (strcmp(a, "--mode") == 0) opt.mode = strcmp(v, "http") == 0 ? MODE_HTTP : MODE_ECHO;
        else if (strcmp(a, "--conns") == 0) opt.conns = atoi(v);
        else if (strcmp(a, "--size") == 0) opt.size = strtoul(v, NULL, 10);
        else if (strcmp(a, "--duration") == 0) opt.duration = atof(v);
        else if (strcmp(a, "--requests") == 0) opt.max_requests = atol(v);
        else if (strcmp(a, "--per-conn") == 0) opt.per_conn = atol(v);
        else if (strcmp(a, "--timeout") == 0) opt.timeout = atof(v);
        else if (strcmp(a, "--cpu") == 0) opt.cpu = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); exit(2); }
    }
    if (opt.port <= 0 || opt.conns <= 0 || opt.size == 0) {
        fprintf(stderr, "usage: echo_client --port P [--mode echo|http] [--conns N] [--size BYTES] ...\n");
        exit(2);
    }
}

static void prepare(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (opt.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(opt.cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    pattern = malloc(opt.size + 256);
    for (size_t i = 0; i < opt.size + 256; i++)
        pattern[i] = (unsigned char)i;
    conns = calloc(opt.conns, sizeof *conns);
    for (int i = 0; i < opt.conns; i++) {
        conns[i].fd = -1;
        if (opt.mode == MODE_HTTP)
            conns[i].reply = malloc(REPLY_MAX);
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    prepare();
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(opt.port) };
    inet_pton(AF_INET, opt.host, &addr.sin_addr);

    double hard_deadline = now() + opt.timeout;
    double connect_seconds = connect_all(&addr, hard_deadline);
    if (opt.hold) {
        wait_for_go(connect_seconds);
        hard_deadline = now() + opt.timeout;
    }

    double start = now();
    double deadline = start + opt.duration;
    for (int i = 0; i < opt.conns; i++)
        if (may_start(&conns[i]))
            start_request(&conns[i]);
    double stopped = 0;
    while (in_flight > 0 && now() < hard_deadline) {
        dispatch(10);
        if (!stopping && (now() >= deadline || completed >= opt.max_requests)) {
            stopping = 1;
            stopped = now();
        }
    }
    if (!stopping)
        stopped = now();
    if (in_flight > 0)
        report_error("%d requests unanswered at the timeout", in_flight);
    double seconds = stopped - start;
    printf("{\"requests\": %ld, \"seconds\": %.6f, \"rps\": %.3f, \"errors\": %ld, "
           "\"connected\": %d, \"connect_seconds\": %.6f, \"first_error\": \"%s\"}\n",
           completed, seconds, seconds > 0 ? completed / seconds : 0.0, errors,
           open_conns, connect_seconds, first_error);
    return errors ? 1 : 0;
}
