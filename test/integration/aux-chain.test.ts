import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin } from '../helpers/networks.js';
import { DEBIAN_PLUGINS, ROOT } from '../helpers/paths.js';
import { podArgs, runShim } from '../helpers/shim.js';

/** The auxiliary CNI chain (upstream §4.1 step 6, §5.10): passthru + plugins from a subdirectory. */
const host = new TestHost();
let daemon: TestDaemon;

beforeAll(async () => {
  // passthru is built next to the shim; a node gets it from `multus-daemon install`.
  daemon = await startTestDaemon(host.dir, {}, { CNI_PATH: `${DEBIAN_PLUGINS}:${ROOT}dist/bin` });
});

afterAll(async () => {
  await daemon?.stop();
  host.cleanup();
});

describe('auxiliary CNI chain', () => {
  it('runs the plugins of <clusterNetwork dir>/<chain>/ after the cluster network, behind passthru', async () => {
    const clusterDir = join(daemon.confDir, 'cluster');
    const chainDir = join(clusterDir, 'sysctl-chain');
    mkdirSync(chainDir, { recursive: true });
    const br = bridgePlugin(host, 85);
    const clusterConf = join(clusterDir, '10-cluster.conf');
    writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', ...br.plugin }));
    const recordFile = join(host.dir, 'aux.jsonl');
    writeFileSync(join(chainDir, '10-tuning.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'tune', type: 'tuning', sysctl: { 'net.ipv4.conf.all.arp_filter': '1' }, dataDir: join(host.dir, 'tuning') }));
    writeFileSync(join(chainDir, '20-record.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'rec', type: 'cni-record', recordFile }));
    // libcni's subdirectory plugins are *.conf files only: this list is not read (it would fail).
    writeFileSync(join(chainDir, '30-not-read.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'no', plugins: [{ type: 'cni-fail' }] }));
    const ns = host.netns();
    const call = { containerId: 'auxchain1', netns: ns.path, args: podArgs('default', 'aux'), stdin: multusStdin(daemon.socketDir, clusterConf, { auxiliaryCNIChainName: 'sysctl-chain' }) };
    const add = await runShim({ ...call, command: 'ADD' });
    expect(add.code, add.stdout).toBe(0);
    expect((add.json?.ips as Array<{ address: string }>)[0]?.address).toMatch(/^198\.18\.85\./);
    expect(execFileSync('ip', ['netns', 'exec', ns.name, 'cat', '/proc/sys/net/ipv4/conf/all/arp_filter'], { encoding: 'utf8' }).trim()).toBe('1');
    const [recorded] = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { env: Record<string, string>; conf: Record<string, unknown> });
    expect(recorded?.conf).toMatchObject({ name: 'sysctl-chain', prevResult: { cniVersion: '1.0.0' } });
    expect(recorded?.env.CNI_IFNAME).toBe('net1');

    expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
    expect(readFileSync(recordFile, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(existsSync(join(daemon.cniDir, 'auxchain1'))).toBe(false);
  });

  it('refuses a clusterNetwork that is not a path, and a chain name that is not a network name, as upstream (the ADD fails, nothing left)', async () => {
    writeFileSync(join(daemon.confDir, 'named.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'named', type: 'cni-record' }));
    const ns = host.netns();
    const byName = { containerId: 'auxchain3', netns: ns.path, args: podArgs('default', 'auxname'), stdin: multusStdin(daemon.socketDir, 'named', { auxiliaryCNIChainName: 'sysctl-chain' }) };
    const add = await runShim({ ...byName, command: 'ADD' });
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('needs clusterNetwork to be a path') });
    const traversal = { ...byName, containerId: 'auxchain4', stdin: multusStdin(daemon.socketDir, join(daemon.confDir, 'named.conf'), { auxiliaryCNIChainName: '../etc' }) };
    const bad = await runShim({ ...traversal, command: 'ADD' });
    expect(bad.json).toMatchObject({ code: 7, msg: expect.stringContaining('invalid auxiliaryCNIChainName "../etc"') });
    for (const call of [byName, traversal]) {
      expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
      expect(existsSync(join(daemon.cniDir, call.containerId))).toBe(false);
    }
  });

  it('adds nothing when the chain directory holds no plugin', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 86);
    const clusterConf = join(daemon.confDir, 'solo.conf');
    writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'solo', ...br.plugin }));
    const call = { containerId: 'auxchain2', netns: ns.path, args: podArgs('default', 'noaux'), stdin: multusStdin(daemon.socketDir, clusterConf, { auxiliaryCNIChainName: 'absent-chain' }) };
    expect((await runShim({ ...call, command: 'ADD' })).code).toBe(0);
    const cache = JSON.parse(readFileSync(join(daemon.cniDir, 'auxchain2'), 'utf8')) as unknown[];
    expect(cache).toHaveLength(1);
    expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
  });
});
