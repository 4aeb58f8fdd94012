/*
 * passthru: upstream Multus' no-op CNI plugin, the head of the auxiliary CNI chain
 * (auxiliaryCNIChainName). The plugins loaded from <clusterNetwork dir>/<chain name>/ run after
 * it as a chain (they need a prevResult); passthru itself creates nothing: ADD prints its
 * prevResult, or an empty result of the config's version; DEL, CHECK, GC and STATUS succeed.
 * Built from the shim's source to reuse its strict JSON scanner and its CNI error output.
 */
#define main multus_shim_main
#include "multus-shim.c"
#undef main

typedef struct { span_t cni_version, prev_result; } passthru_conf_t;

static void passthru_cb(void *ctx, span_t key, span_t val)
{
    passthru_conf_t *c = ctx;
    if (key_is(key, "cniVersion")) c->cni_version = val;
    else if (key_is(key, "prevResult")) c->prev_result = val;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    buf_t in = {0};
    read_stdin(&in);
    passthru_conf_t conf = {0};
    int valid = json_members(in.d, in.len, passthru_cb, &conf) == 0;
    if (valid && conf.cni_version.n && conf.cni_version.p[0] == '"') g_cni_version = json_decode(conf.cni_version);
    const char *v = g_cni_version ? g_cni_version : "1.0.0";

    const char *cmd = getenv("CNI_COMMAND");
    if (!cmd || !*cmd) fail(CNI_ERR_ENV, NULL, "required env variable CNI_COMMAND missing");
    buf_t out = {0};
    if (!strcmp(cmd, "VERSION")) {
        buf_adds(&out, "{\"cniVersion\":\"");
        json_escape(&out, v, strlen(v));
        buf_adds(&out, "\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
        return write_all(1, out.d, out.len) ? 1 : 0;
    }
    if (!strcmp(cmd, "ADD")) {
        if (!valid) fail(CNI_ERR_CONFIG, NULL, "passthru: the network config on stdin is not a JSON object");
        if (conf.prev_result.n && conf.prev_result.p[0] == '{') {
            buf_add(&out, conf.prev_result.p, conf.prev_result.n);
        } else {
            buf_adds(&out, "{\"cniVersion\":\"");
            json_escape(&out, v, strlen(v));
            buf_adds(&out, "\"}");
        }
        buf_adds(&out, "\n");
        return write_all(1, out.d, out.len) ? 1 : 0;
    }
    if (!strcmp(cmd, "DEL") || !strcmp(cmd, "CHECK") || !strcmp(cmd, "GC") || !strcmp(cmd, "STATUS")) return 0;
    fail(CNI_ERR_ENV, NULL, "passthru: unknown CNI_COMMAND: %s", cmd);
}
