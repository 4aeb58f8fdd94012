/*
 * libFuzzer harness over multus-shim's input handling: the stdin config scanner (the strict
 * JSON member scanner, string decoding, key matching) and the parser of the daemon's HTTP
 * answers (status line, headers, Content-Length and chunked bodies, the "Result" extraction).
 * The first input byte picks the target; the rest is the input. The shim's own main() is
 * renamed so the harness can include the program as it ships.
 */
#define main multus_shim_main
#include "../multus-shim.c"
#undef main

static void fuzz_config(const char *s, size_t n)
{
    conf_t c;
    memset(&c, 0, sizeof c);
    if (json_members(s, n, conf_cb, &c) != 0) return;
    span_t strings[] = { c.cni_version, c.socket_dir };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (strings[i].n >= 2 && strings[i].p[0] == '"') free(json_decode(strings[i]));
    }
    long ms;
    if (c.ready_ms.n) (void)parse_ms(c.ready_ms.p, c.ready_ms.n, &ms);
}

static void fuzz_response(const char *s, size_t n)
{
    http_resp_t r;
    memset(&r, 0, sizeof r);
    buf_add(&r.raw, s, n);
    const char *why = NULL;
    if (http_parse(&r, 1, 1 << 20, &why) == 1) {
        span_t res = { NULL, 0 };
        int has_code = 0;
        (void)json_members(r.body, r.body_len, result_cb, &res);
        (void)json_members(r.body, r.body_len, code_cb, &has_code);
    }
    resp_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (data[0] & 1) fuzz_config((const char *)data + 1, size - 1);
    else fuzz_response((const char *)data + 1, size - 1);
    return 0;
}
