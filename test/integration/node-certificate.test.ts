import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BOOTSTRAP_API_ACCESS } from '../../src/k8s/api-access.js';
import { FakeApiServer, writeKubeconfig, type RecordedRequest } from '../apiserver/server.js';
import { TestCa } from '../apiserver/test-ca.js';
import { startCsrSigner } from '../helpers/csr-signer.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { DAEMON } from '../helpers/paths.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * The built daemon with `perNodeCertificate` against an HTTPS API server that authenticates
 * client certificates: it bootstraps its identity through a CSR, serves pods as
 * system:multus:<node>, renews its certificate, and refuses to start without one.
 */
const NODE = 'node-a';
const IDENTITY = `system:multus:${NODE}`;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cluster() {
  const host = new TestHost();
  cleanups.push(() => host.cleanup());
  const ca = new TestCa();
  const api = await FakeApiServer.start({ tls: { ...ca.serverCertificate(), clientCaPem: ca.certPem } });
  cleanups.push(() => api.close());
  const bootstrapKubeconfig = join(host.dir, 'bootstrap.kubeconfig');
  writeKubeconfig(bootstrapKubeconfig, api.url, ca.certPem);
  const perNodeCertificate = (certDuration: string) => ({ enabled: true, bootstrapKubeconfig, certDir: join(host.dir, 'certs'), certDuration });
  return { host, ca, api, perNodeCertificate };
}

/** The cluster with a CSR signer, and a daemon started on a per-node certificate of `certDuration` (`beforeStart` prepares the API server first). */
async function signedDaemon(certDuration: string, beforeStart: (api: FakeApiServer) => void = () => undefined) {
  const bed = await cluster();
  const signer = startCsrSigner(bed.api, bed.ca);
  cleanups.push(() => signer.stop());
  beforeStart(bed.api);
  const daemon = await startTestDaemon(bed.host.dir, { perNodeCertificate: bed.perNodeCertificate(certDuration) }, { MULTUS_NODE_NAME: NODE, MULTUS_API_TIMEOUT_MS: '2000' });
  cleanups.push(() => daemon.stop());
  return { ...bed, signer, daemon };
}

/** Run the daemon until it exits (a startup failure); its exit code and stderr. */
function runToExit(dir: string, config: Record<string, unknown>, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const configPath = join(dir, 'daemon-config.json');
  writeFileSync(configPath, JSON.stringify({ socketDir: join(dir, 'run'), cniDir: join(dir, 'cni'), logFile: join(dir, 'daemon.log'), ...config }));
  const child = spawn(process.execPath, [DAEMON, '-config', configPath], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

const byDaemon = (requests: RecordedRequest[]): RecordedRequest[] => requests.filter((r) => r.resource !== 'certificatesigningrequests');

describe('per-node certificate (daemon)', () => {
  it('authenticates every daemon request as system:multus:<node>, and moves to the renewed certificate', async () => {
    const { api, signer, daemon } = await signedDaemon('4s');
    // A pod ADD: the informers' list+watch, then the status patch and the event, all as the node.
    const uid = (api.createPod({ metadata: { namespace: 'default', name: 'web' }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] } }) as { metadata: { uid: string } }).metadata.uid;
    const conf = join(daemon.confDir, 'cluster.conf');
    writeFileSync(conf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', type: 'cni-record', address: '198.18.91.2/24' }));
    const add = await runShim({ command: 'ADD', containerId: 'certcid', netns: '/var/run/netns/none', args: podArgs('default', 'web', uid), stdin: multusStdin(daemon.socketDir, conf) });
    expect(add.code, add.stdout).toBe(0);
    await until(() => api.requests().some((r) => r.subresource === 'status' && r.status === 200), 'the network-status patch');
    const first = byDaemon(api.requests());
    expect(first.map((r) => r.verb)).toEqual(expect.arrayContaining(['list', 'watch', 'patch']));
    for (const r of first) {
      expect(r.authorization, `${r.verb} ${r.path}`).toBe(false);
      expect(r.clientCertificate?.commonName, `${r.verb} ${r.path}`).toBe(IDENTITY);
    }
    const firstCert = first[0]?.clientCertificate?.fingerprint256;
    const expiry = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${daemon.metricsPort}/metrics`)).text();
      return Number(/^multus_client_certificate_expiration_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    };
    const firstExpiry = await expiry();
    // The certificate's notAfter: about 4 s from its issue, so within the next 4 s.
    expect(firstExpiry).toBeGreaterThan(Date.now() / 1000 - 1);
    expect(firstExpiry).toBeLessThan(Date.now() / 1000 + 5);
    // The bootstrap credentials did only what src/k8s/api-access.ts says they need.
    const bootstrapGrants = new Set(BOOTSTRAP_API_ACCESS.flatMap((a) => a.verbs.map((v) => `${a.resource}|${v}`)));
    const bootstrapRequests = api.requests().filter((r) => r.resource === 'certificatesigningrequests');
    expect(bootstrapRequests.length).toBeGreaterThan(1);
    for (const r of bootstrapRequests) expect(bootstrapGrants).toContain(`${r.resource}|${r.verb}`);
    // Renewed at 70-90 % of 4 s: a second CSR, then the watches reconnect with the new certificate.
    await until(() => daemon.logs().some((l) => l.msg === 'node certificate rotated'), 'a rotation', 15_000);
    expect(signer.signed.length).toBeGreaterThanOrEqual(2);
    expect(await expiry()).toBeGreaterThan(firstExpiry);
    api.resetRequests();
    api.dropWatches();
    await until(() => api.requests().filter((r) => r.verb === 'watch' && r.status === 200).length >= 2, 'both watches reconnected', 15_000);
    for (const r of byDaemon(api.requests())) {
      expect(r.clientCertificate?.commonName, `${r.verb} ${r.path}`).toBe(IDENTITY);
      expect(r.clientCertificate?.fingerprint256, `${r.verb} ${r.path}`).not.toBe(firstCert);
    }
  });

  it('a cluster CA that changes (upstream #1478): the untrusted renewal reloads the bootstrap kubeconfig from disk, the next certificate is issued, the clients trust the new CA', async () => {
    const { api, ca, perNodeCertificate, daemon } = await signedDaemon('4s');
    // The API server now serves a certificate of another CA, which the bootstrap kubeconfig on
    // disk carries; the daemon's copy in memory is the old one.
    const next = new TestCa();
    api.serveCertificate({ ...next.serverCertificate(), clientCaPem: ca.certPem });
    writeKubeconfig(perNodeCertificate('4s').bootstrapKubeconfig, api.url, next.certPem);
    await until(() => daemon.logs().some((l) => String(l.msg).includes('bootstrap kubeconfig reloaded from disk')), 'the reload', 20_000);
    await until(() => daemon.logs().some((l) => l.msg === 'node certificate rotated'), 'a rotation with the new CA', 20_000);
    // Watches reconnect through TLS with the new CA, as the node.
    api.resetRequests();
    api.dropWatches();
    await until(() => api.requests().filter((r) => r.verb === 'watch' && r.status === 200).length >= 2, 'both watches reconnected', 15_000);
    for (const r of byDaemon(api.requests())) expect(r.clientCertificate?.commonName, `${r.verb} ${r.path}`).toBe(IDENTITY);
  });

  it('waits for an API server that fails the CSR creation for a moment (503), as upstream #1483 retries transient errors', async () => {
    const { api, signer } = await signedDaemon('1h', (server) => server.failNext(2, 503, (r) => r.resource === 'certificatesigningrequests' && r.verb === 'create'));
    const creates = api.requests().filter((r) => r.resource === 'certificatesigningrequests' && r.verb === 'create');
    expect(creates.map((r) => r.status)).toEqual([503, 503, 201]);
    expect(signer.signed).toHaveLength(1);
  });

  it('does not start when the certificate is never issued, and says so', async () => {
    const { host, perNodeCertificate } = await cluster();
    const exit = await runToExit(host.dir, { perNodeCertificate: perNodeCertificate('10m') }, { MULTUS_NODE_NAME: NODE, MULTUS_CERT_WAIT_MS: '500' });
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/certificate signing request multus-node-a-\w+ for system:multus:node-a was not approved and issued within 500 ms/);
  });

  it('does not start without MULTUS_NODE_NAME, and names it', async () => {
    const { host, perNodeCertificate } = await cluster();
    const exit = await runToExit(host.dir, { perNodeCertificate: perNodeCertificate('10m') }, {});
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/perNodeCertificate is enabled but MULTUS_NODE_NAME is not set/);
  });
});
