/*
 * multus-spawner: starts the daemon's delegate plugins from a small process.
 *
 * Why: a process is started with fork(), and fork copies the page tables of the whole caller.
 * From the daemon (100-250 MiB resident) one plugin start cost 2.5-7 ms of kernel time on its
 * pool thread, measured: most of the pool's CPU per pod. From this process (well under 1 MiB)
 * it costs about 0.2 ms. The daemon starts one spawner at start-up; its pool threads ask it.
 *
 * Usage: multus-spawner <socket path>. It listens there (mode 0600, in the daemon's 0700
 * socket dir; peers of another uid are refused), prints "ready\n" on stdout, and serves each
 * connection in a forked handler that runs exactly one program:
 *
 *   request:  "<length>\n" then <length> bytes of NUL-terminated fields:
 *             file, argc, argv[0..argc), envc, env[0..envc), then the stdin bytes (the rest)
 *   answer:   "pid <pid>\n" once the program runs (or "exec <errno>\n" and the end if it
 *             cannot), then "end <status> <signal> <overflow> <outlen> <errlen>\n", stdout, stderr
 *
 * The program runs in a new session (its own process group, as the daemon's spawn with
 * `detached`), file looked up in PATH. A byte 'K' from the client, or the client going away
 * (its thread died, the daemon died), SIGKILLs the whole group: a plugin never runs on without
 * someone enforcing its timeout. Output beyond MAX_OUTPUT bytes on stdout kills the group too.
 * The handler ends once the program's stdout and stderr are closed and it is reaped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REQUEST (16u << 20)
#define MAX_OUTPUT (4u << 20)
#define MAX_FIELDS 4096

/* A growing output buffer; bytes beyond MAX_OUTPUT are counted, not kept. */
struct buffer {
    char *data;
    size_t len;
    size_t seen;
};

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads "<length>\n" byte by byte (a few bytes, once per connection). */
static long read_length(int fd) {
    char digits[16];
    size_t i = 0;
    for (;;) {
        char c;
        if (read_all(fd, &c, 1) < 0) return -1;
        if (c == '\n') break;
        if (c < '0' || c > '9' || i + 1 >= sizeof digits) return -1;
        digits[i++] = c;
    }
    digits[i] = '\0';
    long len = i == 0 ? -1 : strtol(digits, NULL, 10);
    return len < 0 || (unsigned long)len > MAX_REQUEST ? -1 : len;
}

/* The next NUL-terminated field at *pos, or NULL past the end. */
static char *next_field(char *req, size_t len, size_t *pos) {
    if (*pos >= len) return NULL;
    char *field = req + *pos;
    char *nul = memchr(field, '\0', len - *pos);
    if (nul == NULL) return NULL;
    *pos = (size_t)(nul - req) + 1;
    return field;
}

/* Fills argv or envp from "<count>" and that many fields; NULL-terminated. */
static char **read_list(char *req, size_t len, size_t *pos) {
    char *count_text = next_field(req, len, pos);
    if (count_text == NULL) return NULL;
    long count = strtol(count_text, NULL, 10);
    if (count < 0 || count > MAX_FIELDS) return NULL;
    char **list = calloc((size_t)count + 1, sizeof *list);
    if (list == NULL) return NULL;
    for (long i = 0; i < count; i++) {
        list[i] = next_field(req, len, pos);
        if (list[i] == NULL) return NULL;
    }
    return list;
}

static void collect(int *fd, struct buffer *b, pid_t pid, int *overflow) {
    char chunk[65536];
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    b->seen += (size_t)n;
    if (b->seen > MAX_OUTPUT) {
        if (overflow != NULL && !*overflow) {
            *overflow = 1;
            kill(-pid, SIGKILL);
        }
        return;
    }
    char *grown = realloc(b->data, b->len + (size_t)n);
    if (grown == NULL) return;
    memcpy(grown + b->len, chunk, (size_t)n);
    b->data = grown;
    b->len += (size_t)n;
}

/* Child side of the program's fork: never returns. */
static void run_program(const char *file, char **argv, char **envp, int in, int out, int err, int status_pipe) {
    setsid();
    signal(SIGPIPE, SIG_DFL); /* ignored dispositions survive execve: give the plugin the defaults */
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
    execvpe(file, argv, envp);
    int e = errno;
    (void)write_all(status_pipe, &e, sizeof e);
    _exit(127);
}

static void handle(int conn) {
    signal(SIGCHLD, SIG_DFL); /* the handler reaps its program itself */
    long len = read_length(conn);
    char *req = len < 0 ? NULL : malloc((size_t)len + 1);
    if (req == NULL || read_all(conn, req, (size_t)len) < 0) _exit(1);
    size_t pos = 0;
    char *file = next_field(req, (size_t)len, &pos);
    char **argv = file == NULL ? NULL : read_list(req, (size_t)len, &pos);
    char **envp = argv == NULL ? NULL : read_list(req, (size_t)len, &pos);
    if (envp == NULL || argv[0] == NULL) _exit(1);
    const char *input = req + pos;
    size_t input_len = (size_t)len - pos;

    int in[2], out[2], err[2], status[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0) _exit(1);
    pid_t pid = fork();
    if (pid < 0) _exit(1);
    if (pid == 0) run_program(file, argv, envp, in[0], out[1], err[1], status[1]);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    close(status[1]);
    char line[128];
    int exec_errno;
    if (read_all(status[0], &exec_errno, sizeof exec_errno) == 0) {
        waitpid(pid, NULL, 0);
        int n = snprintf(line, sizeof line, "exec %d\n", exec_errno);
        (void)write_all(conn, line, (size_t)n);
        _exit(0);
    }
    int n = snprintf(line, sizeof line, "pid %d\n", (int)pid);
    (void)write_all(conn, line, (size_t)n);

    fcntl(in[1], F_SETFL, O_NONBLOCK);
    int stdin_fd = in[1], out_fd = out[0], err_fd = err[0], conn_open = 1, overflow = 0;
    size_t written = 0;
    if (input_len == 0) {
        close(stdin_fd);
        stdin_fd = -1;
    }
    struct buffer o = {0}, e = {0};
    while (out_fd >= 0 || err_fd >= 0) {
        struct pollfd fds[4] = {
            {.fd = conn_open ? conn : -1, .events = POLLIN},
            {.fd = out_fd, .events = POLLIN},
            {.fd = err_fd, .events = POLLIN},
            {.fd = stdin_fd, .events = POLLOUT},
        };
        if (poll(fds, 4, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents != 0) {
            char c;
            ssize_t r = read(conn, &c, 1);
            if (r <= 0) conn_open = 0; /* the client is gone: nobody enforces the timeout any more */
            if (r <= 0 || c == 'K') kill(-pid, SIGKILL);
        }
        if (fds[1].revents != 0) collect(&out_fd, &o, pid, &overflow);
        if (fds[2].revents != 0) collect(&err_fd, &e, pid, NULL);
        if (fds[3].revents != 0) {
            ssize_t w = write(stdin_fd, input + written, input_len - written);
            if (w > 0) written += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input_len) {
                close(stdin_fd); /* done, or EPIPE: a plugin that does not read stdin is fine */
                stdin_fd = -1;
            }
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!conn_open) _exit(0);
    n = snprintf(line, sizeof line, "end %d %d %d %zu %zu\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0, overflow, o.len, e.len);
    if (write_all(conn, line, (size_t)n) < 0 || write_all(conn, o.data, o.len) < 0 || write_all(conn, e.data, e.len) < 0) _exit(1);
    _exit(0);
}

static void reap_handlers(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: multus-spawner <socket path>\n", stderr);
        return 2;
    }
    /* Started by the daemon's main thread: it goes when the daemon goes, even on SIGKILL. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 1;
    signal(SIGPIPE, SIG_IGN);
    /* Handlers are reaped (not ignored): their CPU and their programs' then count in this
     * process's cutime/cstime, where the bench reads what plugin starts cost. */
    struct sigaction reap = {.sa_handler = reap_handlers, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigemptyset(&reap.sa_mask);
    sigaction(SIGCHLD, &reap, NULL);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fputs("multus-spawner: socket path too long\n", stderr);
        return 2;
    }
    strcpy(addr.sun_path, argv[1]);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(argv[1]);
    mode_t old = umask(0177);
    if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(sock, 4096) < 0) {
        perror("multus-spawner: listen");
        return 1;
    }
    umask(old);
    if (write_all(1, "ready\n", 6) < 0) return 1;
    for (;;) {
        int conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) continue;
        struct ucred peer;
        socklen_t peer_len = sizeof peer;
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) < 0 || peer.uid != getuid()) {
            close(conn);
            continue;
        }
        pid_t handler = fork();
        if (handler == 0) {
            close(sock);
            handle(conn);
        }
        close(conn);
    }
}
