import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { podArgs, runShim } from '../helpers/shim.js';

/** Prometheus metrics and structured logs, observed from outside the daemon. */
const host = new TestHost();
let cluster: TestCluster;
let metricsUrl: string;
let clusterConf: string;
const SECRET = 'ipam-secret-9f3b';

beforeAll(async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  cluster = await startTestCluster(host, { metricsPort: port, logLevel: 'info' }, { MULTUS_METRICS_BIND_ADDRESS: '127.0.0.1' });
  clusterConf = join(cluster.daemon.confDir, 'cluster.conf');
  // A config with a secret in it: it must never reach a log line.
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', type: 'cni-record', address: '198.18.60.2/24', ipam: { type: 'x', token: SECRET } }));
  cluster.api.createNad('default', 'obs-net', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record' }));
});

afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
});

async function scrape(): Promise<string> {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

describe('observability', () => {
  it('exports latency histograms, gauges and upstream\'s request counter, all moving with traffic', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) {
      const name = `obs-${i}`;
      cluster.pod('default', name, { 'k8s.v1.cni.cncf.io/networks': 'obs-net' });
      const call = { containerId: `obs${i}`, netns: '/var/run/netns/none', args: podArgs('default', name), stdin: multusStdin(cluster.daemon.socketDir, clusterConf) };
      expect((await runShim({ ...call, command: 'ADD' })).code).toBe(0);
      expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
    }
    const after = await scrape();
    // One pool thread is kept warm (MULTUS_POOL_MIN_THREADS=1): an idle daemon holds it.
    expect(value(before, 'multus_pool_threads')).toBe(1);
    expect(value(after, 'multus_pool_threads')).toBeGreaterThanOrEqual(1);
    const grew = (series: string): number => value(after, series) - (Number.isNaN(value(before, series)) ? 0 : value(before, series));
    expect(grew('multus_cni_request_duration_seconds_count{command="ADD",result="ok"}')).toBe(3);
    expect(grew('multus_cni_request_duration_seconds_count{command="DEL",result="ok"}')).toBe(3);
    expect(grew('multus_delegate_duration_seconds_count{plugin="cni-record",command="ADD",result="ok"}')).toBe(6);
    expect(grew('multus_pool_wait_seconds_count')).toBe(12);
    expect(grew('multus_server_request_total{handler="/cni",code="200",method="POST"}')).toBe(6);
    expect(grew('multus_k8s_request_duration_seconds_count{verb="patch",code="2xx"}')).toBe(3);
    for (const gauge of ['multus_actors', 'multus_inflight_requests', 'multus_mailbox_depth', 'multus_pool_threads', 'multus_pool_queue_size', 'multus_pool_utilization', 'multus_informer_connected', 'multus_informer_restarts', 'multus_kube_eventloop_lag_p99_seconds', 'multus_main_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_seconds']) {
      expect(Number.isNaN(value(after, gauge)), gauge).toBe(false);
    }
    expect(value(after, 'multus_informer_connected')).toBe(1);
    // prom-client's 10 ms lag sampler is off (it kept an idle daemon busy): its seven gauges are not exported.
    expect(after).not.toMatch(/^nodejs_eventloop_lag_(min|max|mean|stddev|p50|p90|p99)_seconds/m);
    // A delay, not a timestamp: never negative (how small it is, idle, is the bench's business).
    expect(value(await scrape(), 'multus_kube_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    // Bounded cardinality: no pod names or sandbox ids in any label.
    expect(after).not.toMatch(/obs-\d|obs\d/);
  });

  it('answers kubelet probes on the metrics port', async () => {
    const base = metricsUrl.replace('/metrics', '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('writes one line per CNI operation with pod, sandbox, command, networks, duration and result; never the config', async () => {
    const uid = cluster.pod('default', 'logged', { 'k8s.v1.cni.cncf.io/networks': 'obs-net' });
    const call = { containerId: 'loggedcontainer1', netns: '/var/run/netns/none', args: podArgs('default', 'logged', uid), stdin: multusStdin(cluster.daemon.socketDir, clusterConf) };
    expect((await runShim({ ...call, command: 'ADD' })).code).toBe(0);
    const outcome = cluster.daemon.logs().filter((l) => l.msg === 'CNI request done' && l.sandbox === 'loggedcontai');
    expect(outcome).toHaveLength(1);
    expect(outcome[0]).toMatchObject({ cmd: 'ADD', pod: 'default/logged', podUid: uid, result: 'ok', networks: ['cluster', 'default/obs-net'], durationMs: expect.any(Number) as unknown });
    expect(readFileSync(cluster.daemon.logFile, 'utf8')).not.toContain(SECRET);
  });
});
