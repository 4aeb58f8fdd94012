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
 *             timeout ms (0: none), file, argc, argv[0..argc), envc, env[0..envc), then the
 *             stdin bytes (the rest)
 *   answer:   "exec <errno>\n" if the program cannot be started; else once it has ended,
 *             "end <status> <signal> <overflow> <outlen> <errlen> <timedout>\n", stdout, stderr, in
 *             one write (so the client's thread wakes once per run, not once per piece); only
 *             "end -1 9 0 0 0 0\n" for a run killed while it waited for its lock
 *
 * The program runs in a new session (its own process group, as the daemon's spawn with
 * `detached`), file looked up in PATH. A byte 'K' from the client SIGKILLs the whole group (the
 * client's timeout). A client that goes away (its thread died, the daemon died) does not: a
 * plugin killed half-way can leave its own state broken (host-local's reservation file created
 * but not yet written holds that IP forever, with no owner to release it). The program runs to
 * its end instead, and the handler enforces the timeout in the client's place.
 *
 * Runs for the same container (CNI_CONTAINERID) are serialized by a lock file in
 * "<socket path>.locks": the DEL that undoes an ADD whose thread died waits until that ADD has
 * ended, so the ADD cannot reserve anything after the DEL released it. A client that goes away
 * or sends 'K' while its run waits for the lock ends the wait; nothing was started.
 * Output beyond MAX_OUTPUT bytes on stdout kills the group too.
 * The handler ends once the program's stdout and stderr are closed and it is reaped.
 *
 * Usage: multus-spawner --thin <program> [args]: the thin plugin's launcher (install-thin.ts)
 * execs this with Node and the plugin. From the thin plugin, a Node process of 40-50 MiB, each
 * plugin start cost a fork of it, a second Node module (child_process) and streams over three
 * pipes. In this mode the spawner starts <program> with one end of a socket pair as fd 3
 * (MULTUS_SPAWNER_FD=3), serves its runs one at a time on the other end, each in a handler as
 * above, and exits as the program did. The client blocks on each answer, so the handler times
 * the program out itself, exactly; no lock files (the runtime serializes a container's calls).
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST (16u << 20)
#define MAX_OUTPUT (4u << 20)
#define MAX_FIELDS 4096
/* While its client is there, the client times a program out ('K'); the handler only backs it up. */
#define BACKSTOP_MS 1000
/* The thin plugin's end of the socket pair. */
#define THIN_FD 3

static char *lock_dir; /* NULL: runs are not locked (--thin) */
static long long backstop_ms = BACKSTOP_MS; /* 0 under --thin: its client has no timer */

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

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The lock file of a container: its id with anything but [A-Za-z0-9_-] as '_' (a collision
 * only serializes two containers' runs). */
static char *lock_path(const char *container) {
    size_t n = strnlen(container, 200), dir = strlen(lock_dir);
    char *path = malloc(dir + n + 2);
    if (path == NULL) return NULL;
    memcpy(path, lock_dir, dir);
    path[dir] = '/';
    for (size_t i = 0; i < n; i++) {
        char c = container[i];
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        path[dir + 1 + i] = plain ? c : '_';
    }
    path[dir + 1 + n] = '\0';
    return path;
}

/*
 * Takes the container's lock, polling for it every 10 ms: 1 once held (the holder unlinks the
 * file when its run ends, so a lock on a file no longer at the path is taken again); 0 when no
 * lock file can be made (the run goes unserialized rather than not at all); -1 when the client
 * went away or sent 'K' meanwhile (*killed says which: the caller answers "killed").
 */
static int lock_container(const char *path, int conn, int *killed) {
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return 0;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            struct stat held, now;
            if (fstat(fd, &held) == 0 && stat(path, &now) == 0 && held.st_ino == now.st_ino && held.st_dev == now.st_dev) return 1;
            close(fd);
            continue;
        }
        close(fd);
        struct pollfd p = {.fd = conn, .events = POLLIN};
        if (poll(&p, 1, 10) > 0) {
            char c;
            ssize_t r = read(conn, &c, 1);
            if (r <= 0 || c == 'K') {
                *killed = r > 0;
                return -1;
            }
        }
    }
}

/* The value of `name` in envp, or NULL. */
static const char *env_value(char **envp, const char *name) {
    size_t n = strlen(name);
    for (char **e = envp; *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static void handle(int conn) {
    signal(SIGCHLD, SIG_DFL); /* the handler reaps its program itself */
    long len = read_length(conn);
    char *req = len < 0 ? NULL : malloc((size_t)len + 1);
    if (req == NULL || read_all(conn, req, (size_t)len) < 0) _exit(1);
    size_t pos = 0;
    char *timeout_text = next_field(req, (size_t)len, &pos);
    long long timeout_ms = timeout_text == NULL ? 0 : strtoll(timeout_text, NULL, 10);
    char *file = timeout_text == NULL ? NULL : next_field(req, (size_t)len, &pos);
    char **argv = file == NULL ? NULL : read_list(req, (size_t)len, &pos);
    char **envp = argv == NULL ? NULL : read_list(req, (size_t)len, &pos);
    if (envp == NULL || argv[0] == NULL) _exit(1);
    const char *input = req + pos;
    size_t input_len = (size_t)len - pos;

    const char *container = env_value(envp, "CNI_CONTAINERID");
    char *lock = lock_dir == NULL || container == NULL || container[0] == '\0' ? NULL : lock_path(container);
    int killed = 0, locked = lock == NULL ? 0 : lock_container(lock, conn, &killed);
    if (locked < 0) {
        /* Given up before it started: for 'K', the end of a program killed at once. */
        if (killed) (void)write_all(conn, "end -1 9 0 0 0 0\n", 17);
        _exit(0);
    }
    if (!locked) lock = NULL; /* nothing of ours to unlink */
    long long started = now_ms();

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
        if (lock != NULL) unlink(lock);
        _exit(0);
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    int stdin_fd = in[1], out_fd = out[0], err_fd = err[0], conn_open = 1, overflow = 0, timed_out = 0;
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
        /* The handler's deadline: the timeout itself once the client is gone, a backstop before. */
        int wait_ms = -1;
        if (timeout_ms > 0 && !timed_out) {
            long long left = started + timeout_ms + (conn_open ? backstop_ms : 0) - now_ms();
            if (left <= 0) {
                timed_out = 1;
                kill(-pid, SIGKILL);
            } else {
                wait_ms = left > 60000 ? 60000 : (int)left;
            }
        }
        if (poll(fds, 4, wait_ms) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents != 0) {
            char c;
            ssize_t r = read(conn, &c, 1);
            if (r <= 0) conn_open = 0; /* the client is gone: the program runs on to its end or its timeout */
            if (r > 0 && c == 'K') kill(-pid, SIGKILL);
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
    if (lock != NULL) unlink(lock); /* before the lock goes with this process: see lock_container */
    if (!conn_open) _exit(0);
    int n = snprintf(line, sizeof line, "end %d %d %d %zu %zu %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0, overflow, o.len, e.len, timed_out);
    char *answer = malloc((size_t)n + o.len + e.len);
    if (answer == NULL) _exit(1);
    memcpy(answer, line, (size_t)n);
    if (o.len > 0) memcpy(answer + n, o.data, o.len);
    if (e.len > 0) memcpy(answer + n + o.len, e.data, e.len);
    if (write_all(conn, answer, (size_t)n + o.len + e.len) < 0) _exit(1);
    _exit(0);
}

static void reap_handlers(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

/*
 * --thin: runs `program` with fd 3 connected to this process and serves its runs, one at a time,
 * until it exits; then exits as it did. A socket pair that cannot be made leaves `program` to
 * spawn its plugins itself (it finds no MULTUS_SPAWNER_FD).
 */
static int serve_thin(char **program) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
        execv(program[0], program);
        perror("multus-spawner: exec");
        return 127;
    }
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        perror("multus-spawner: fork");
        return 1;
    }
    if (child == 0) {
        /* The runtime kills this process at its timeout: the program goes with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || dup2(pair[1], THIN_FD) < 0 || setenv("MULTUS_SPAWNER_FD", "3", 1) < 0) _exit(1);
        execv(program[0], program);
        perror("multus-spawner: exec");
        _exit(127);
    }
    close(pair[1]);
    signal(SIGPIPE, SIG_IGN); /* a handler whose client is gone answers no one */
    /* Done when the program exits, even if something it started still holds its end. */
    int exited = (int)syscall(SYS_pidfd_open, child, 0);
    lock_dir = NULL;
    backstop_ms = 0;
    for (;;) {
        struct pollfd fds[2] = {{.fd = pair[0], .events = POLLIN}, {.fd = exited, .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents != 0) break;
        char c;
        if (recv(pair[0], &c, 1, MSG_PEEK) <= 0) break; /* the program closed its end */
        pid_t handler = fork();
        if (handler == 0) {
            /* A handler left running (its client gone) must not hold the runtime's pipes open. */
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                if (null > 2) close(null);
            }
            handle(pair[0]);
        }
        /* The handler's end, or the program's exit meanwhile (a crash): then the run is the
         * handler's alone, as when the daemon's client goes away, and the runtime waits no longer. */
        int handler_done = handler < 0 ? -1 : (int)syscall(SYS_pidfd_open, handler, 0);
        struct pollfd waits[2] = {{.fd = handler_done, .events = POLLIN}, {.fd = exited, .events = POLLIN}};
        while (handler_done >= 0 && poll(waits, 2, -1) < 0 && errno == EINTR) {
        }
        if (handler_done >= 0) close(handler_done);
        if (waits[0].revents == 0 && waits[1].revents != 0) break;
        int handled = 0;
        while (handler > 0 && waitpid(handler, &handled, 0) < 0 && errno == EINTR) {
        }
        /* A handler that could not answer (a request it could not read, no fork): the program
         * would wait for that answer forever. Closing this end tells it the spawner is gone. */
        if (handler < 0 || !WIFEXITED(handled) || WEXITSTATUS(handled) != 0) break;
    }
    close(pair[0]);
    int st = 0;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(st)) {
        signal(WTERMSIG(st), SIG_DFL);
        kill(getpid(), WTERMSIG(st));
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "--thin") == 0) return serve_thin(argv + 2);
    if (argc != 2) {
        fputs("usage: multus-spawner <socket path> | multus-spawner --thin <program> [args]\n", stderr);
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
    /* Lock files of the containers' runs; kept across restarts (a new spawner's runs wait for
     * the programs an old one's handlers still run). */
    lock_dir = malloc(strlen(argv[1]) + sizeof ".locks");
    if (lock_dir == NULL) return 1;
    strcpy(lock_dir, argv[1]);
    strcat(lock_dir, ".locks");
    if (mkdir(lock_dir, 0700) < 0 && errno != EEXIST) {
        perror("multus-spawner: lock dir");
        return 1;
    }
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
