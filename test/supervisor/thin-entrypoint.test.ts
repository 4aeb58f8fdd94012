import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { apiServerFromEnv, startThinEntrypoint, type ThinEntrypoint } from '../../src/supervisor/thin-entrypoint.js';
import { TEST_TOKEN } from '../apiserver/kubeconfig.js';
import { until } from '../helpers/wait.js';

/** The thin DaemonSet's container: a kubeconfig from the service account, and 00-multus.conf(list) of type multus. */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function node(): { root: string; netd: string; sa: string } {
  const root = mkdtempSync('/tmp/thin-entrypoint-test-');
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const netd = join(root, 'host', 'etc', 'cni', 'net.d');
  const sa = join(root, 'serviceaccount');
  mkdirSync(netd, { recursive: true });
  mkdirSync(sa);
  writeFileSync(join(sa, 'token'), `${TEST_TOKEN}\n`);
  writeFileSync(join(sa, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nnot-checked-over-http\n-----END CERTIFICATE-----\n');
  writeFileSync(join(netd, '10-flannel.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel' }, { type: 'portmap', capabilities: { portMappings: true } }] }));
  return { root, netd, sa };
}

async function start(n: { netd: string; sa: string }, daemon: Record<string, unknown>, extra: { apiServer?: string; tokenRefreshMs?: number } = {}): Promise<ThinEntrypoint> {
  const entry = await startThinEntrypoint({
    daemon: { cniVersion: '1.0.0', multusAutoconfigDir: n.netd, cniConfigDir: n.netd, ...daemon },
    log: pino({ level: 'silent' }),
    masterWaitMs: 2000,
    readinessWaitMs: 2000,
    onReadinessLost: () => undefined,
    serviceAccountDir: n.sa,
    apiServer: extra.apiServer ?? 'https://10.96.0.1:443',
    ...(extra.tokenRefreshMs === undefined ? {} : { tokenRefreshMs: extra.tokenRefreshMs }),
  });
  cleanups.push(() => entry.stop());
  return entry;
}

describe('thin entrypoint', () => {
  it('writes, at CNI 1.0.0 or later, 00-multus.conflist (upstream v4.2 on) whose one plugin is multus with the master embedded and the host path of the kubeconfig', async () => {
    const n = node();
    const entry = await start(n, { logFile: '/var/log/multus.log' });
    expect(entry.kubeconfigHostPath).toBe('/etc/cni/net.d/multus.d/multus.kubeconfig');
    expect(entry.confPath).toBe(join(n.netd, '00-multus.conflist'));
    expect(existsSync(join(n.netd, '00-multus.conf'))).toBe(false);
    expect(JSON.parse(readFileSync(join(n.netd, '00-multus.conflist'), 'utf8'))).toEqual({
      cniVersion: '1.0.0',
      name: 'multus-cni-network',
      plugins: [
        {
          type: 'multus',
          // The host does not see the container's /host/… path of the master: its content goes inline.
          delegates: [{ cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel' }, { type: 'portmap', capabilities: { portMappings: true } }] }],
          kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
          capabilities: { portMappings: true },
          logFile: '/var/log/multus.log',
        },
      ],
    });
  });

  it('writes 00-multus.conf below CNI 1.0.0, and switches form (ending with one file, not two) when the version crosses it', async () => {
    const n = node();
    writeFileSync(join(n.netd, '10-flannel.conflist'), JSON.stringify({ cniVersion: '0.4.0', name: 'cbr0', plugins: [{ type: 'flannel' }] }));
    const entry = await start(n, { cniVersion: undefined });
    expect(entry.confPath).toBe(join(n.netd, '00-multus.conf'));
    expect(JSON.parse(readFileSync(join(n.netd, '00-multus.conf'), 'utf8'))).toMatchObject({ cniVersion: '0.4.0', type: 'multus' });
    // The master moves to 1.0.0: the config follows it, as a list.
    writeFileSync(join(n.netd, '10-flannel.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel' }] }));
    // The new file is written first, then the old removed: until then a runtime still finds the
    // old one (it sorts first), never none.
    await until(() => existsSync(join(n.netd, '00-multus.conflist')) && !existsSync(join(n.netd, '00-multus.conf')), '00-multus.conflist in place of 00-multus.conf');
    expect(JSON.parse(readFileSync(join(n.netd, '00-multus.conflist'), 'utf8'))).toMatchObject({ cniVersion: '1.0.0' });
  });

  it('builds the kubeconfig from the service account (0600) in a form client-node loads', async () => {
    const n = node();
    await start(n, {}, { apiServer: 'https://10.96.0.1:443' });
    const path = join(n.netd, 'multus.d', 'multus.kubeconfig');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://10.96.0.1:443', caData: readFileSync(join(n.sa, 'ca.crt')).toString('base64') });
    expect(kc.getCurrentUser()?.token).toBe(TEST_TOKEN);
  });

  it('rewrites the kubeconfig when kubelet rotates the token', async () => {
    const n = node();
    await start(n, {}, { tokenRefreshMs: 50 });
    const path = join(n.netd, 'multus.d', 'multus.kubeconfig');
    writeFileSync(join(n.sa, 'token'), 'rotated-token\n');
    await until(() => readFileSync(path, 'utf8').includes('rotated-token'), 'the kubeconfig to carry the rotated token');
  });

  it('uses a kubeconfig the config names instead of generating one', async () => {
    const n = node();
    const entry = await start(n, { kubeconfig: '/etc/kubernetes/multus.kubeconfig' });
    expect(entry.kubeconfigHostPath).toBe('/etc/kubernetes/multus.kubeconfig');
    expect(() => statSync(join(n.netd, 'multus.d', 'multus.kubeconfig'))).toThrow();
  });

  it('joins the service host and port as Go\'s JoinHostPort does: brackets for IPv6 only (upstream v4.2)', () => {
    expect(apiServerFromEnv({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).toBe('https://10.96.0.1:443');
    expect(apiServerFromEnv({ KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' })).toBe('https://[fd00:10:96::1]:6443');
    expect(apiServerFromEnv({ KUBERNETES_SERVICE_HOST: 'api.example' })).toBe('https://api.example:443');
  });

  it('refuses to start without a service account token, naming the file', async () => {
    const n = node();
    rmSync(join(n.sa, 'token'));
    await expect(start(n, {})).rejects.toThrow(/serviceaccount\/token/);
  });
});
