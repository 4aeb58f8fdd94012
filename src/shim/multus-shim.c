/*
 * multus-shim -- the CNI binary half of the Multus thick plugin.
 *
 * The container runtime executes this program once per CNI operation with the
 * CNI_* variables in the environment and the network configuration on stdin.
 * All real work happens in multus-daemon (TypeScript); the shim only
 *
 *   1. answers VERSION locally (so `cnitool`/the runtime can probe it even when
 *      the daemon is down),
 *   2. forwards `{"env":{...},"config":"<base64 stdin>"}` as `POST /cni` over
 *      the unix socket <daemonSocketDir>/multus.sock,
 *   3. only when no daemon serves that (no socket, refused, or 503 while ours
 *      shuts down): waits until the daemon answers `GET /readyz` with 200 (or,
 *      when it has no /readyz, as upstream's daemons up to v4.3.0, `GET
 *      /healthz`), and sends it again, and
 *   4. turns the HTTP answer into CNI output on stdout.
 *
 * Why C and not Node: the runtime runs one shim per pod sandbox operation, on
 * the host, possibly hundreds at once. A static libc-only binary starts in
 * well under a millisecond and has no dependency on the host's userland.
 *
 * Robustness rules followed throughout:
 *   - everything the shim itself reports is ONE line of CNI error JSON on
 *     stdout and exit status 1; stderr stays silent unless MULTUS_SHIM_DEBUG=1
 *     (runtimes often log stderr as noise, and some treat it as failure);
 *   - every blocking operation is bounded by a deadline enforced with poll();
 *   - every input (stdin, response) is size-capped, so memory stays bounded;
 *   - EINTR, partial writes and SIGPIPE are handled explicitly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef MULTUS_SHIM_VERSION
#define MULTUS_SHIM_VERSION "unknown"
#endif

#define STDIN_MAX ((size_t)1 << 20)       /* network configs are small; refuse abuse */
#define BODY_MAX ((size_t)16 << 20)       /* largest daemon answer we accept */
#define HEADER_MAX ((size_t)64 << 10)     /* status line + headers */
#define READYZ_BODY_MAX ((size_t)64 << 10)
#define DEFAULT_SOCKET_DIR "/run/multus/"
#define SOCKET_NAME "multus.sock"
/* 30 s, not upstream's 60 s: a failed ADD is followed by a DEL that waits too, and both
 * must fit kubelet's default 2-minute runtime request timeout (seen with containerd). */
#define DEFAULT_READY_MS 30000L
#define DEFAULT_CLIENT_MS 120000L
#define READY_POLL_US 100000LL            /* readiness re-probe interval */
#define PROBE_MIN_US 100000LL             /* one probe may always take this long */
#define JSON_MAX_DEPTH 512
#define EXCERPT_MAX 512                   /* bytes of a daemon body quoted in msg */

/* CNI spec error codes (https://www.cni.dev/docs/spec/#error). */
#define CNI_ERR_ENV 4
#define CNI_ERR_CONFIG 7
#define CNI_ERR_TRY_AGAIN 11
#define CNI_ERR_INTERNAL 999

#define RETRY_DETAILS "multus-daemon is not reachable or not ready; the container runtime should retry the operation later"

extern char **environ;

static int g_debug;
static const char *g_cni_version; /* stdin cniVersion, used to label our errors */

/* ------------------------------------------------------------------------ */
/* small utilities                                                          */

typedef struct { char *d; size_t len, cap; } buf_t;

static void oom(void) __attribute__((noreturn));
static void oom(void)
{
    /* No allocation possible: emit a fixed error line. */
    static const char m[] = "{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"multus-shim: out of memory\"}\n";
    ssize_t r = write(1, m, sizeof m - 1);
    (void)r;
    _exit(1);
}

/* Ensures room for `extra` more bytes plus a NUL terminator. */
static void buf_reserve(buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len) oom();
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *d = realloc(b->d, cap);
    if (!d) oom();
    b->d = d;
    b->cap = cap;
}

static void buf_add(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->d + b->len, p, n);
    b->len += n;
    b->d[b->len] = 0;
}

static void buf_adds(buf_t *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    buf_reserve(b, (size_t)n);
    vsnprintf(b->d + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

static void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static void buf_free(buf_t *b) { free(b->d); b->d = NULL; b->len = b->cap = 0; }

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits for `events` on fd until the absolute deadline; 1 = ready, 0 = timed out. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_us();
        if (left <= 0) return 0;
        int ms = left > INT_MAX / 2 ? INT_MAX / 2 : (int)((left + 999) / 1000);
        struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
        int r = poll(&p, 1, ms);
        if (r > 0) return 1;       /* also on POLLERR/POLLHUP: the next I/O call reports it */
        if (r < 0 && errno != EINTR) return 1;
    }
}

/* Writes everything, coping with EINTR, partial writes and non-blocking fds. */
static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t r = write(fd, s, n);
        if (r > 0) { s += r; n -= (size_t)r; continue; }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = { .fd = fd, .events = POLLOUT, .revents = 0 };
            (void)poll(&pf, 1, -1);
            continue;
        }
        return -1;
    }
    return 0;
}

static void dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dbg(const char *fmt, ...)
{
    if (!g_debug) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)(sizeof line - 2);
    line[n++] = '\n';
    (void)write_all(2, line, (size_t)n);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void trim_ws(const char **p, size_t *n)
{
    while (*n && is_ws((*p)[0])) { (*p)++; (*n)--; }
    while (*n && is_ws((*p)[*n - 1])) (*n)--;
}

/* Shortens n to at most max bytes without cutting a UTF-8 sequence in half. */
static size_t utf8_trunc(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
    return len;
}

/* Length of the valid UTF-8 sequence at s, or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* Appends s as JSON string content. Invalid UTF-8 (env vars, daemon bodies can
 * hold anything) becomes U+FFFD so that our output is always valid JSON. */
static void json_escape(buf_t *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    buf_reserve(b, n + n / 8 + 16);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        char tmp[8];
        if (c == '"' || c == '\\') { tmp[0] = '\\'; tmp[1] = (char)c; buf_add(b, tmp, 2); }
        else if (c == '\n') buf_add(b, "\\n", 2);
        else if (c == '\r') buf_add(b, "\\r", 2);
        else if (c == '\t') buf_add(b, "\\t", 2);
        else if (c < 0x20) { snprintf(tmp, sizeof tmp, "\\u%04x", c); buf_add(b, tmp, 6); }
        else if (c < 0x80) buf_add(b, &s[i], 1);
        else {
            size_t l = utf8_len(s + i, n - i);
            if (l) { buf_add(b, s + i, l); i += l - 1; }
            else buf_add(b, "\\ufffd", 6);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* CNI error output                                                         */

static void fail_msg(int code, const char *details, const char *msg, size_t msglen) __attribute__((noreturn));
static void fail_msg(int code, const char *details, const char *msg, size_t msglen)
{
    dbg("multus-shim: error %d: %.*s", code, (int)msglen, msg);
    buf_t out = {0};
    const char *v = g_cni_version ? g_cni_version : "1.0.0";
    buf_adds(&out, "{\"cniVersion\":\"");
    json_escape(&out, v, strlen(v));
    buf_printf(&out, "\",\"code\":%d,\"msg\":\"", code);
    json_escape(&out, msg, msglen);
    buf_adds(&out, "\"");
    if (details) {
        buf_adds(&out, ",\"details\":\"");
        json_escape(&out, details, strlen(details));
        buf_adds(&out, "\"");
    }
    buf_adds(&out, "}\n");
    (void)write_all(1, out.d, out.len);
    exit(1);
}

static void fail(int code, const char *details, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
static void fail(int code, const char *details, const char *fmt, ...)
{
    buf_t m = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&m, fmt, ap);
    va_end(ap);
    fail_msg(code, details, m.d, m.len);
}

/* Error whose msg quotes daemon output (may hold NULs, so not via printf %s). */
static void fail_excerpt(int code, const char *prefix, const char *body, size_t n) __attribute__((noreturn));
static void fail_excerpt(int code, const char *prefix, const char *body, size_t n)
{
    buf_t m = {0};
    trim_ws(&body, &n);
    buf_adds(&m, prefix);
    if (n == 0) buf_adds(&m, "(empty body)");
    else buf_add(&m, body, utf8_trunc(body, n, EXCERPT_MAX));
    fail_msg(code, NULL, m.d, m.len);
}

/* ------------------------------------------------------------------------ */
/* JSON: a strict validating scanner that exposes only top-level members.   */
/* We never build a tree: we only need a few top-level values, and their    */
/* raw byte spans (the "Result" value is printed verbatim).                 */

typedef struct { const unsigned char *p, *end; int depth; } jscan_t;

static void j_ws(jscan_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int j_string(jscan_t *j)
{
    if (j->p >= j->end || *j->p != '"') return -1;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = *j->p++;
        if (c == '"') return 0;
        if (c < 0x20) return -1;
        if (c != '\\') continue;
        if (j->p >= j->end) return -1;
        c = *j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, j->p++)
                if (j->p >= j->end || !is_hex(*j->p)) return -1;
        } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
            return -1;
        }
    }
    return -1;
}

static int j_digits(jscan_t *j)
{
    const unsigned char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    return j->p > s ? 0 : -1;
}

static int j_number(jscan_t *j)
{
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') j->p++;
    else if (j_digits(j)) return -1;
    if (j->p < j->end && *j->p == '.') { j->p++; if (j_digits(j)) return -1; }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (j_digits(j)) return -1;
    }
    return 0;
}

static int j_literal(jscan_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n)) return -1;
    j->p += n;
    return 0;
}

static int j_value(jscan_t *j);

/* Object or array (close = '}' or ']'); depth-limited so hostile input cannot
 * exhaust the stack. */
static int j_container(jscan_t *j, unsigned char close)
{
    if (++j->depth > JSON_MAX_DEPTH) return -1;
    j->p++;
    j_ws(j);
    if (j->p < j->end && *j->p == close) { j->p++; j->depth--; return 0; }
    for (;;) {
        j_ws(j);
        if (close == '}') {
            if (j_string(j)) return -1;
            j_ws(j);
            if (j->p >= j->end || *j->p != ':') return -1;
            j->p++;
        }
        if (j_value(j)) return -1;
        j_ws(j);
        if (j->p >= j->end) return -1;
        if (*j->p == ',') { j->p++; continue; }
        if (*j->p == close) { j->p++; break; }
        return -1;
    }
    j->depth--;
    return 0;
}

static int j_value(jscan_t *j)
{
    j_ws(j);
    if (j->p >= j->end) return -1;
    switch (*j->p) {
    case '{': return j_container(j, '}');
    case '[': return j_container(j, ']');
    case '"': return j_string(j);
    case 't': return j_literal(j, "true");
    case 'f': return j_literal(j, "false");
    case 'n': return j_literal(j, "null");
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) return j_number(j);
        return -1;
    }
}

/* A raw byte span of the input; for strings it includes the quotes. */
typedef struct { const char *p; size_t n; } span_t;
typedef void (*member_cb)(void *ctx, span_t key, span_t value);

/* Calls cb for every top-level member, then returns 0 iff the whole input is
 * exactly one valid JSON object. Callers must discard what cb collected when
 * this returns -1 (invalid JSON means "use defaults"). */
static int json_members(const char *s, size_t n, member_cb cb, void *ctx)
{
    jscan_t j = { (const unsigned char *)s, (const unsigned char *)s + n, 1 };
    j_ws(&j);
    if (j.p >= j.end || *j.p != '{') return -1;
    j.p++;
    j_ws(&j);
    if (j.p < j.end && *j.p == '}') { j.p++; goto done; }
    for (;;) {
        j_ws(&j);
        const unsigned char *ks = j.p;
        if (j_string(&j)) return -1;
        span_t key = { (const char *)ks, (size_t)(j.p - ks) };
        j_ws(&j);
        if (j.p >= j.end || *j.p != ':') return -1;
        j.p++;
        j_ws(&j);
        const unsigned char *vs = j.p;
        if (j_value(&j)) return -1;
        span_t val = { (const char *)vs, (size_t)(j.p - vs) };
        cb(ctx, key, val);
        j_ws(&j);
        if (j.p >= j.end) return -1;
        if (*j.p == ',') { j.p++; continue; }
        if (*j.p == '}') { j.p++; break; }
        return -1;
    }
done:
    j_ws(&j);
    return j.p == j.end ? 0 : -1;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Decodes a validated JSON string span (with quotes) into a fresh NUL-terminated
 * string. \uXXXX escapes (including surrogate pairs) become UTF-8; lone
 * surrogates become U+FFFD like Go and JS do. Returns NULL if the value
 * contains U+0000, which cannot be represented in a C string or a path. */
static char *json_decode(span_t v)
{
    const char *s = v.p + 1, *e = v.p + v.n - 1;
    char *out = malloc(v.n), *o = out;   /* decoding never grows the text */
    if (!out) oom();
    while (s < e) {
        if (*s != '\\') { *o++ = *s++; continue; }
        s++;
        char c = *s++;
        switch (c) {
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u': break;
        default: *o++ = c; continue;         /* \" \\ \/ */
        }
        unsigned cp = hex4(s);
        s += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
            unsigned lo = hex4(s + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); s += 6; }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        if (cp == 0) { free(out); return NULL; }
        if (cp < 0x80) *o++ = (char)cp;
        else if (cp < 0x800) { *o++ = (char)(0xC0 | cp >> 6); *o++ = (char)(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | cp >> 12); *o++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *o++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (char)(0xF0 | cp >> 18); *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *o++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    *o = 0;
    return out;
}

/* Compares a key span to a name, honouring escapes (keys are short). */
static int key_is(span_t key, const char *name)
{
    if (key.n > 64) return 0;
    if (!memchr(key.p, '\\', key.n))
        return key.n == strlen(name) + 2 && !memcmp(key.p + 1, name, key.n - 2);
    char *k = json_decode(key);
    int eq = k && !strcmp(k, name);
    free(k);
    return eq;
}

/* ------------------------------------------------------------------------ */
/* stdin network configuration                                              */

typedef struct {
    span_t cni_version, socket_dir, ready_ms, client_ms;   /* n == 0: absent */
} conf_t;

static void conf_cb(void *ctx, span_t key, span_t val)
{
    conf_t *c = ctx;   /* duplicate keys: last one wins, as in JSON.parse */
    if (key_is(key, "cniVersion")) c->cni_version = val;
    else if (key_is(key, "daemonSocketDir")) c->socket_dir = val;
    else if (key_is(key, "shimReadyTimeoutMs")) c->ready_ms = val;
    else if (key_is(key, "shimTimeoutMs")) c->client_ms = val;
}

/* Strict decimal milliseconds: digits only, fits in an int (poll() takes int). */
static int parse_ms(const char *s, size_t n, long *out)
{
    if (n == 0 || n > 10) return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > INT_MAX) return -1;
    *out = (long)v;
    return 0;
}

/* Environment beats network config beats default. allow_zero: a ready timeout
 * of 0 means "probe exactly once"; a client timeout of 0 could never succeed. */
static long timeout_setting(const char *envname, const char *key, span_t cfg, long def, int allow_zero)
{
    const char *kind = allow_zero ? "non-negative" : "positive";
    long v;
    const char *e = getenv(envname);
    if (e && *e) {
        if (parse_ms(e, strlen(e), &v) || (!allow_zero && v == 0))
            fail(CNI_ERR_CONFIG, NULL, "invalid %s=\"%.64s\": must be a %s integer number of milliseconds (at most %d)",
                 envname, e, kind, INT_MAX);
        return v;
    }
    if (cfg.n == 0 || (cfg.n == 4 && !memcmp(cfg.p, "null", 4))) return def;
    if (parse_ms(cfg.p, cfg.n, &v) || (!allow_zero && v == 0))
        fail(CNI_ERR_CONFIG, NULL, "invalid %s in network config: %.*s is not a %s integer number of milliseconds (at most %d)",
             key, (int)(cfg.n > 64 ? 64 : cfg.n), cfg.p, kind, INT_MAX);
    return v;
}

static void read_stdin(buf_t *in)
{
    buf_reserve(in, 16384);
    for (;;) {
        if (in->len > STDIN_MAX)
            fail(CNI_ERR_CONFIG, NULL, "stdin config larger than %zu bytes", STDIN_MAX);
        if (in->cap - in->len < 4096) buf_reserve(in, in->cap);
        size_t room = in->cap - in->len - 1;
        if (room > STDIN_MAX + 1 - in->len) room = STDIN_MAX + 1 - in->len;
        ssize_t r = read(0, in->d + in->len, room);
        if (r > 0) { in->len += (size_t)r; in->d[in->len] = 0; continue; }
        if (r == 0) return;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd pf = { .fd = 0, .events = POLLIN, .revents = 0 };
            (void)poll(&pf, 1, -1);
            continue;
        }
        if (errno == EBADF) return;   /* no stdin at all: same as empty */
        fail(CNI_ERR_CONFIG, NULL, "cannot read the network config from stdin: %s", strerror(errno));
    }
}

/* ------------------------------------------------------------------------ */
/* HTTP/1.1 over a unix socket                                              */

enum { XR_OK, XR_CONNECT, XR_TIMEOUT, XR_IO, XR_PROTO, XR_TOOBIG };

typedef struct {
    buf_t raw;              /* bytes received */
    buf_t dechunked;        /* decoded body for Transfer-Encoding: chunked */
    int headers_done, status, chunked, has_cl;
    size_t body_off, cl;
    const char *body;
    size_t body_len;
} http_resp_t;

static void resp_free(http_resp_t *r)
{
    buf_free(&r->raw);
    buf_free(&r->dechunked);
    memset(r, 0, sizeof *r);
}

/* Connects non-blocking so that connect() too respects the deadline. */
static int unix_connect(const struct sockaddr_un *sa, int64_t deadline)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    /* Linux reports a full listen backlog on unix sockets as EAGAIN instead of
     * waiting. Retry until the deadline, backing off (1 ms doubling to 64 ms, with
     * jitter): a thousand shims retrying every 2 ms kept the daemon itself from
     * running (load 280 on 2 cores, measured with the soak's 1,000 ADDs at once). */
    int64_t backoff = 1000;
    for (;;) {
        if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0) return fd;
        if (errno == EAGAIN) {
            int64_t left = deadline - now_us();
            if (left <= 0) { close(fd); errno = ETIMEDOUT; return -1; }
            int64_t us = backoff / 2 + (int64_t)(rand() % (int)(backoff / 2 + 1));
            if (us > left) us = left;
            struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
            nanosleep(&ts, NULL);
            if (backoff < 64000) backoff *= 2;
            continue;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            if (!wait_fd(fd, POLLOUT, deadline)) { close(fd); errno = ETIMEDOUT; return -1; }
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            if (err == 0) return fd;
            close(fd);
            errno = err;
            return -1;
        }
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r > 0) { p += r; n -= (size_t)r; continue; }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline)) { errno = ETIMEDOUT; return -1; }
            continue;
        }
        return -1;
    }
    return 0;
}

/* Finds the end of the header block ("\n\r\n" or "\n\n"); 0 if not there yet. */
static size_t header_end(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\n') continue;
        if (s[i + 1] == '\n') return i + 2;
        if (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* Walks a chunked body. Returns 1 when complete (appending the data to out if
 * out != NULL), 0 when more bytes are needed, XR_PROTO/XR_TOOBIG (negated) on
 * error. Walking is cheap (it jumps over chunk data), so it runs after every
 * read and the body is copied exactly once. */
static int chunked_walk(const char *s, size_t n, size_t max, buf_t *out, const char **why)
{
    size_t i = 0, total = 0;
    for (;;) {
        const char *nl = memchr(s + i, '\n', n - i);
        if (!nl) { if (n - i > 4096) { *why = "chunk size line too long"; return -XR_PROTO; } return 0; }
        size_t sz = 0, k = i;
        while (k < (size_t)(nl - s) && is_hex((unsigned char)s[k])) {
            sz = sz * 16 + (size_t)(s[k] <= '9' ? s[k] - '0' : (s[k] | 0x20) - 'a' + 10);
            if (sz > max) return -XR_TOOBIG;
            k++;
        }
        if (k == i || (k < (size_t)(nl - s) && !strchr(";\r \t", s[k]))) { *why = "bad chunk size"; return -XR_PROTO; }
        i = (size_t)(nl - s) + 1;
        if (sz == 0) {                      /* last chunk: skip trailers up to the empty line */
            for (;;) {
                nl = memchr(s + i, '\n', n - i);
                if (!nl) { if (n - i > HEADER_MAX) { *why = "trailers too long"; return -XR_PROTO; } return 0; }
                size_t len = (size_t)(nl - s) - i;
                i = (size_t)(nl - s) + 1;
                if (len == 0 || (len == 1 && s[i - 2] == '\r')) return 1;
            }
        }
        if (total + sz > max) return -XR_TOOBIG;
        if (n - i < sz + 1) return 0;
        if (out) buf_add(out, s + i, sz);
        total += sz;
        i += sz;
        if (s[i] == '\r') {
            if (i + 1 >= n) return 0;
            if (s[i + 1] != '\n') { *why = "chunk not followed by CRLF"; return -XR_PROTO; }
            i += 2;
        } else if (s[i] == '\n') i++;
        else { *why = "chunk not followed by CRLF"; return -XR_PROTO; }
    }
}

/* Parses the status line and headers once they are complete. */
static int parse_headers(http_resp_t *r, size_t end, size_t max_body, const char **why)
{
    const char *s = r->raw.d;
    if (end < 13 || memcmp(s, "HTTP/1.", 7) || s[7] < '0' || s[7] > '9' || s[8] != ' ' ||
        s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
        (s[12] != ' ' && s[12] != '\r' && s[12] != '\n')) {
        *why = "bad status line";
        return -XR_PROTO;
    }
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    const char *line = (const char *)memchr(s, '\n', end) + 1;
    while (line < s + end) {
        const char *nl = memchr(line, '\n', (size_t)(s + end - line));
        size_t len = (size_t)(nl - line);
        if (len && line[len - 1] == '\r') len--;
        if (len == 0) break;
        const char *colon = memchr(line, ':', len);
        if (!colon) { *why = "header line without colon"; return -XR_PROTO; }
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vlen = len - nlen - 1;
        trim_ws(&v, &vlen);
        if (nlen == 14 && !strncasecmp(line, "Content-Length", 14)) {
            size_t cl = 0;
            if (vlen == 0 || vlen > 12) { *why = "bad Content-Length"; return -XR_PROTO; }
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') { *why = "bad Content-Length"; return -XR_PROTO; }
                cl = cl * 10 + (size_t)(v[i] - '0');
            }
            if (r->has_cl && cl != r->cl) { *why = "conflicting Content-Length headers"; return -XR_PROTO; }
            if (cl > max_body) return -XR_TOOBIG;
            r->has_cl = 1;
            r->cl = cl;
        } else if (nlen == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
            if (vlen == 7 && !strncasecmp(v, "chunked", 7)) r->chunked = 1;
            else if (!(vlen == 8 && !strncasecmp(v, "identity", 8))) { *why = "unsupported Transfer-Encoding"; return -XR_PROTO; }
        }
        line = nl + 1;
    }
    r->headers_done = 1;
    r->body_off = end;
    return 0;
}

/* Returns 1 when a full response is in r->raw, 0 to keep reading, or a negated
 * X_* error. eof: the peer closed, no more bytes will come. */
static int http_parse(http_resp_t *r, int eof, size_t max_body, const char **why)
{
    while (!r->headers_done) {
        size_t end = header_end(r->raw.d, r->raw.len);
        if (!end) {
            if (r->raw.len > HEADER_MAX) { *why = "headers too large"; return -XR_PROTO; }
            if (eof) { *why = r->raw.len ? "connection closed inside the headers" : "connection closed without an answer"; return r->raw.len ? -XR_PROTO : -XR_IO; }
            return 0;
        }
        int rc = parse_headers(r, end, max_body, why);
        if (rc) return rc;
        if (r->status >= 100 && r->status < 200) {
            /* Interim response (e.g. 100 Continue): drop it, parse the next. */
            if (r->status == 101) { *why = "unexpected protocol switch"; return -XR_PROTO; }
            memmove(r->raw.d, r->raw.d + end, r->raw.len - end);
            r->raw.len -= end;
            r->headers_done = r->chunked = r->has_cl = 0;
            r->cl = 0;
        }
    }
    const char *b = r->raw.d + r->body_off;
    size_t avail = r->raw.len - r->body_off;
    if (r->chunked) {                        /* chunked wins over Content-Length (RFC 9112) */
        int rc = chunked_walk(b, avail, max_body, NULL, why);
        if (rc == 0 && eof) { *why = "connection closed inside a chunked body"; return -XR_PROTO; }
        if (rc != 1) return rc;
        chunked_walk(b, avail, max_body, &r->dechunked, why);
        r->body = r->dechunked.d ? r->dechunked.d : "";
        r->body_len = r->dechunked.len;
        return 1;
    }
    if (r->has_cl || r->status == 204 || r->status == 304) {
        size_t want = r->has_cl ? r->cl : 0;
        if (avail < want) {
            if (eof) { *why = "connection closed before the end of the body"; return -XR_PROTO; }
            return 0;
        }
        r->body = b;
        r->body_len = want;
        return 1;
    }
    if (avail > max_body) return -XR_TOOBIG;  /* body delimited by EOF */
    if (!eof) return 0;
    r->body = b;
    r->body_len = avail;
    return 1;
}

/* One request/response on a fresh connection, bounded by deadline. On failure
 * `why` gets a short human-readable reason. */
static int http_exchange(const struct sockaddr_un *sa, const char *head, size_t headn, const char *body,
                         size_t bodyn, int64_t deadline, size_t max_body, http_resp_t *r, char *why, size_t whyn)
{
    resp_free(r);
    int fd = unix_connect(sa, deadline);
    if (fd < 0) {
        int err = errno;
        snprintf(why, whyn, "connect: %s", strerror(err));
        return err == ETIMEDOUT ? XR_TIMEOUT : XR_CONNECT;
    }
    int send_err = 0;
    if (send_all(fd, head, headn, deadline) || (bodyn && send_all(fd, body, bodyn, deadline))) {
        if (errno == ETIMEDOUT) { close(fd); snprintf(why, whyn, "timed out writing the request"); return XR_TIMEOUT; }
        /* The daemon may have answered before reading everything (e.g. an
         * early rejection) and closed: still try to read that answer. */
        send_err = errno;
    }
    int eof = 0, rc;
    const char *reason = "";
    size_t raw_cap = HEADER_MAX + 2 * max_body + 65536;   /* chunk framing overhead */
    for (;;) {
        rc = http_parse(r, eof, max_body, &reason);
        if (rc) break;
        if (r->raw.len > raw_cap) { rc = -XR_TOOBIG; break; }
        if (r->raw.cap - r->raw.len < 16384) buf_reserve(&r->raw, r->raw.cap < 65536 ? 65536 : r->raw.cap);
        if (!wait_fd(fd, POLLIN, deadline)) { rc = -XR_TIMEOUT; reason = "timed out waiting for the answer"; break; }
        ssize_t n = recv(fd, r->raw.d + r->raw.len, r->raw.cap - r->raw.len - 1, 0);
        if (n > 0) { r->raw.len += (size_t)n; r->raw.d[r->raw.len] = 0; continue; }
        if (n == 0) { eof = 1; continue; }
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        if (errno == ECONNRESET && !send_err) { eof = 1; continue; }  /* parse what we have */
        snprintf(why, whyn, "read: %s", strerror(errno));
        rc = -XR_IO;
        reason = NULL;
        break;
    }
    close(fd);
    if (rc == 1) return XR_OK;
    if (send_err) { snprintf(why, whyn, "write: %s", strerror(send_err)); return XR_IO; }
    if (rc == -XR_TOOBIG) { snprintf(why, whyn, "answer larger than %zu bytes", max_body); return XR_TOOBIG; }
    if (reason) snprintf(why, whyn, "%s", reason);
    return -rc;
}

/* ------------------------------------------------------------------------ */
/* main flow                                                                */

static const char READYZ_REQ[] = "GET /readyz HTTP/1.1\r\nHost: multus\r\nConnection: close\r\n\r\n";
/* Upstream's released daemons (v4.1 to v4.3.0) have no /readyz and answer it 404; their own
 * shims wait on /healthz. A 404 is asked again there, so this shim drives them too (a node in
 * the middle of a rolling update or rollback between upstream and us). */
static const char HEALTHZ_REQ[] = "GET /healthz HTTP/1.1\r\nHost: multus\r\nConnection: close\r\n\r\n";

static void wait_ready(const struct sockaddr_un *sa, const char *path, long ready_ms)
{
    int64_t start = now_us(), deadline = start + (int64_t)ready_ms * 1000;
    http_resp_t r = {0};
    char why[256];
    for (int attempt = 1;; attempt++) {
        int64_t now = now_us();
        int64_t pd = deadline - now < PROBE_MIN_US ? now + PROBE_MIN_US : deadline;
        int rc = http_exchange(sa, READYZ_REQ, sizeof READYZ_REQ - 1, NULL, 0, pd, READYZ_BODY_MAX, &r, why, sizeof why);
        if (rc == XR_OK && r.status == 404) {
            resp_free(&r);
            rc = http_exchange(sa, HEALTHZ_REQ, sizeof HEALTHZ_REQ - 1, NULL, 0, pd, READYZ_BODY_MAX, &r, why, sizeof why);
            if (rc == XR_OK && r.status != 200) {
                snprintf(why, sizeof why, "/readyz answered 404 and /healthz %d", r.status);
                rc = XR_IO; /* the reason is set; not ready */
            }
        }
        if (rc == XR_OK && r.status == 200) {
            dbg("multus-shim: daemon ready after %d probe(s), %.3f ms", attempt, (double)(now_us() - start) / 1000);
            resp_free(&r);
            return;
        }
        if (rc == XR_OK) snprintf(why, sizeof why, "/readyz answered %d", r.status);
        else if (rc == XR_TIMEOUT) snprintf(why, sizeof why, "/readyz did not answer in time");
        dbg("multus-shim: readyz probe %d: %s", attempt, why);
        now = now_us();
        if (now >= deadline)
            fail(CNI_ERR_TRY_AGAIN, RETRY_DETAILS, "multus-daemon is not ready at %s after %ld ms: %s", path, ready_ms, why);
        int64_t left = deadline - now;
        int64_t us = left < READY_POLL_US ? left : READY_POLL_US;
        struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    }
}

static void base64(buf_t *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_reserve(b, (n + 2) / 3 * 4);
    char *o = b->d + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63]; *o++ = tab[(v >> 6) & 63]; *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        *o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->d);
    b->d[b->len] = 0;
}

/* {"env":{<all of environ>},"config":"<base64 stdin>"}: the daemon needs the
 * CNI_* variables, and forwarding everything keeps the shim policy-free. */
static void build_body(buf_t *b, const buf_t *in)
{
    buf_adds(b, "{\"env\":{");
    int first = 1;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t nlen = eq ? (size_t)(eq - *e) : strlen(*e);
        const char *val = eq ? eq + 1 : "";
        if (!first) buf_add(b, ",", 1);
        first = 0;
        buf_add(b, "\"", 1);
        json_escape(b, *e, nlen);
        buf_add(b, "\":\"", 3);
        json_escape(b, val, strlen(val));
        buf_add(b, "\"", 1);
    }
    buf_adds(b, "},\"config\":\"");
    base64(b, (const unsigned char *)in->d, in->len);
    buf_adds(b, "\"}");
}

/* One POST /cni, bounded by the client timeout from now. */
static int post_cni(const struct sockaddr_un *sa, const buf_t *head, const buf_t *body, long client_ms, http_resp_t *r,
                    char *why, size_t whyn, const char *cmd, int64_t t0)
{
    int64_t t1 = now_us();
    int rc = http_exchange(sa, head->d, head->len, body->d, body->len, t1 + (int64_t)client_ms * 1000, BODY_MAX, r, why, whyn);
    dbg("multus-shim: POST /cni %s: rc=%d status=%d body=%zu bytes in %.3f ms (total %.3f ms)", cmd, rc, r->status,
        r->body_len, (double)(now_us() - t1) / 1000, (double)(now_us() - t0) / 1000);
    return rc;
}

static void result_cb(void *ctx, span_t key, span_t val)
{
    if (key_is(key, "Result")) *(span_t *)ctx = val;
}

static void code_cb(void *ctx, span_t key, span_t val)
{
    (void)val;
    if (key_is(key, "code")) *(int *)ctx = 1;
}

int main(int argc, char **argv)
{
    /* A daemon that disappears mid-write must yield an error, not a silent kill. */
    signal(SIGPIPE, SIG_IGN);
    const char *d = getenv("MULTUS_SHIM_DEBUG");
    g_debug = d && !strcmp(d, "1");
    int64_t t0 = now_us();
    /* Connect back-off jitter differs per shim, so a burst of them spreads out. */
    srand((unsigned)getpid() ^ (unsigned)t0);

    if (argc > 1 && (!strcmp(argv[1], "-version") || !strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        static const char v[] = "multus-shim: version:" MULTUS_SHIM_VERSION "\n";
        return write_all(1, v, sizeof v - 1) ? 1 : 0;
    }

    buf_t in = {0};
    read_stdin(&in);

    /* Invalid JSON is the daemon's to report (it answers with a decode error),
     * so on any parse failure we keep defaults and forward stdin untouched. */
    conf_t conf = {0};
    if (json_members(in.d, in.len, conf_cb, &conf)) memset(&conf, 0, sizeof conf);
    if (conf.cni_version.n && conf.cni_version.p[0] == '"') g_cni_version = json_decode(conf.cni_version);

    const char *cmd = getenv("CNI_COMMAND");
    if (!cmd || !*cmd) fail(CNI_ERR_ENV, NULL, "required env variable CNI_COMMAND missing");

    if (!strcmp(cmd, "VERSION")) {
        buf_t out = {0};
        const char *v = g_cni_version ? g_cni_version : "1.1.0";
        buf_adds(&out, "{\"cniVersion\":\"");
        json_escape(&out, v, strlen(v));
        buf_adds(&out, "\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
        return write_all(1, out.d, out.len) ? 1 : 0;
    }

    long ready_ms = timeout_setting("MULTUS_SHIM_READY_TIMEOUT_MS", "shimReadyTimeoutMs", conf.ready_ms, DEFAULT_READY_MS, 1);
    long client_ms = timeout_setting("MULTUS_SHIM_TIMEOUT_MS", "shimTimeoutMs", conf.client_ms, DEFAULT_CLIENT_MS, 0);

    /* <daemonSocketDir>/multus.sock, without doubling the separator. */
    char *dir = NULL;
    span_t sd = conf.socket_dir;
    if (sd.n && sd.p[0] == '"') {
        dir = json_decode(sd);
        if (!dir) fail(CNI_ERR_CONFIG, NULL, "invalid daemonSocketDir in network config: contains a NUL character");
    } else if (sd.n && !(sd.n == 4 && !memcmp(sd.p, "null", 4))) {
        fail(CNI_ERR_CONFIG, NULL, "invalid daemonSocketDir in network config: must be a string");
    }
    if (!dir || !*dir) dir = DEFAULT_SOCKET_DIR;
    size_t dlen = strlen(dir);
    while (dlen > 0 && dir[dlen - 1] == '/') dlen--;
    buf_t path = {0};
    buf_add(&path, dir, dlen);
    buf_adds(&path, "/" SOCKET_NAME);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (path.len >= sizeof sa.sun_path)
        fail(CNI_ERR_CONFIG, NULL, "multus-daemon socket path %s is %zu bytes long, the limit for a unix socket is %zu",
             path.d, path.len, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path.d, path.len);

    buf_t body = {0}, head = {0};
    build_body(&body, &in);
    buf_printf(&head, "POST /cni HTTP/1.1\r\nHost: multus\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
    http_resp_t r = {0};
    char why[256];
    /* The request first: a daemon that serves it needs no probe before (one exchange per
     * call, not two). Only when no daemon serves it -- no socket or refused (down or
     * restarting), or our daemon's 503 while it shuts down, both before it read anything --
     * wait for readiness and send it once more. For every command including DEL: unlike
     * upstream we do not pretend DEL succeeded while the daemon is down, which leaks IPs. */
    int rc = post_cni(&sa, &head, &body, client_ms, &r, why, sizeof why, cmd, t0);
    if (rc == XR_CONNECT || (rc == XR_OK && r.status == 503)) {
        dbg("multus-shim: daemon not serving (%s); waiting for it", rc == XR_CONNECT ? why : "503");
        wait_ready(&sa, path.d, ready_ms);
        rc = post_cni(&sa, &head, &body, client_ms, &r, why, sizeof why, cmd, t0);
    }
    switch (rc) {
    case XR_OK: break;
    case XR_TIMEOUT:
        fail(CNI_ERR_TRY_AGAIN, RETRY_DETAILS, "no answer from multus-daemon at %s within %ld ms", path.d, client_ms);
    case XR_CONNECT:
        fail(CNI_ERR_TRY_AGAIN, RETRY_DETAILS, "cannot connect to multus-daemon at %s: %s", path.d, why);
    case XR_IO:
        fail(CNI_ERR_TRY_AGAIN, RETRY_DETAILS, "lost connection to multus-daemon at %s: %s", path.d, why);
    case XR_TOOBIG:
        fail(CNI_ERR_INTERNAL, NULL, "answer from multus-daemon is larger than %zu bytes", BODY_MAX);
    default:
        fail(CNI_ERR_INTERNAL, NULL, "malformed answer from multus-daemon at %s: %s", path.d, why);
    }

    const char *rb = r.body;
    size_t rn = r.body_len;
    trim_ws(&rb, &rn);
    if (r.status == 200) {
        if (rn == 0) return 0;                       /* DEL, CHECK, ...: nothing to print */
        span_t res = {0};
        if (json_members(rb, rn, result_cb, &res) == 0 && res.n && res.p[0] == '{') {
            buf_t out = {0};
            buf_add(&out, res.p, res.n);
            buf_add(&out, "\n", 1);
            return write_all(1, out.d, out.len) ? 1 : 0;
        }
        fail_excerpt(CNI_ERR_INTERNAL, "unexpected answer from multus-daemon: ", r.body, r.body_len);
    }
    /* The daemon's own CNI error: pass it through untouched. */
    int has_code = 0;
    if (json_members(rb, rn, code_cb, &has_code) == 0 && has_code) {
        buf_t out = {0};
        buf_add(&out, r.body, r.body_len);
        if (r.body[r.body_len - 1] != '\n') buf_add(&out, "\n", 1);
        (void)write_all(1, out.d, out.len);
        return 1;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "multus-daemon answered HTTP %d: ", r.status);
    fail_excerpt(CNI_ERR_INTERNAL, prefix, r.body, r.body_len);
}
