import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin } from '../helpers/networks.js';
import { podArgs, runShim } from '../helpers/shim.js';

/**
 * The cluster network end to end: the built shim, the built daemon, Debian's plugins, real
 * network namespaces. Each test owns its netns, bridge and IPAM dir (unique to the run).
 */
const host = new TestHost();
let daemon: TestDaemon;
let containers = 0;

beforeAll(async () => {
  daemon = await startTestDaemon(host.dir, {});
});

afterAll(async () => {
  await daemon?.stop();
  host.cleanup();
});

function writeConf(name: string, body: Record<string, unknown>): string {
  const path = join(daemon.confDir, `${name}.conf${'plugins' in body ? 'list' : ''}`);
  writeFileSync(path, JSON.stringify({ name, ...body }));
  return path;
}

function newContainer(): string {
  return `${host.id}c${containers++}`.padEnd(64, '0');
}

function ipFiles(ipamDir: string, net: string): string[] {
  const dir = join(ipamDir, net);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
}

function pluginRuns(containerId: string): number {
  return daemon.logs().filter((l) => l.msg === 'delegate plugin run' && l.sandbox === containerId.slice(0, 12)).length;
}

describe('cluster network through the shim and the daemon', () => {
  it('ADD gives eth0 an address, CHECK passes, DEL removes everything and repeats for free (CNI-7, CNI-8, CNI-9)', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 11);
    const netName = host.name('net');
    const conf = writeConf(netName, { cniVersion: '1.0.0', ...br.plugin });
    const stdin = multusStdin(daemon.socketDir, conf);
    const cid = newContainer();
    const base = { containerId: cid, netns: ns.path, stdin };

    const add = await runShim({ ...base, command: 'ADD', args: podArgs('default', 'web', 'uid-1', 0) });
    expect(add.code, add.stdout).toBe(0);
    const ips = add.json?.ips as Array<{ address: string; interface: number }>;
    expect(ips[0]?.address).toMatch(/^198\.18\.11\.\d+\/24$/);
    const ifaces = add.json?.interfaces as Array<{ name: string; sandbox?: string }>;
    expect(ifaces[ips[0]?.interface ?? -1]).toMatchObject({ name: 'eth0', sandbox: ns.path });
    expect(host.inNetns(ns.name, '-4', 'addr', 'show', 'eth0')).toContain(ips[0]?.address);
    expect(existsSync(join(daemon.cniDir, cid))).toBe(true);
    expect(readdirSync(join(daemon.cniDir, 'results'))).toContain(`${netName}-${cid}-eth0`);

    // The runtime reorders CNI_ARGS between calls: the same pod must be recognised.
    const check = await runShim({ ...base, command: 'CHECK', args: podArgs('default', 'web', 'uid-1', 3) });
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toBe('');

    const del = await runShim({ ...base, command: 'DEL', args: podArgs('default', 'web', 'uid-1', 2) });
    expect(del.code, del.stdout).toBe(0);
    expect(() => host.inNetns(ns.name, 'link', 'show', 'eth0')).toThrow();
    expect(ipFiles(br.ipamDir, netName)).toEqual([]);
    expect(existsSync(join(daemon.cniDir, cid))).toBe(false);
    expect(readdirSync(join(daemon.cniDir, 'results')).filter((f) => f.includes(cid))).toEqual([]);

    // The second StopPodSandbox and RemovePodSandbox: empty netns, no prevResult; no plugin runs.
    const runsBefore = pluginRuns(cid);
    for (const netns of [ns.path, '']) {
      const again = await runShim({ ...base, netns, command: 'DEL', args: podArgs('default', 'web', 'uid-1', 1) });
      expect(again.code, again.stdout).toBe(0);
    }
    expect(pluginRuns(cid)).toBe(runsBefore);
  });

  it('VERSION is answered by the shim itself (MN-1, CNI-11)', async () => {
    const out = await runShim({ command: 'VERSION', stdin: { cniVersion: '0.4.0' } });
    expect(out.code).toBe(0);
    expect(out.json).toEqual({ cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('returns the result in the version of the stdin config, for every version (CNI-22, CNI-23)', async () => {
    const br = bridgePlugin(host, 12);
    const conf = writeConf(host.name('net'), { cniVersion: '1.0.0', ...br.plugin });
    for (const version of ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
      const ns = host.netns();
      const cid = newContainer();
      const call = { containerId: cid, netns: ns.path, args: podArgs('versions', `pod-${version}`), stdin: multusStdin(daemon.socketDir, conf, { cniVersion: version }) };
      const add = await runShim({ ...call, command: 'ADD' });
      expect(add.code, `${version}: ${add.stdout}`).toBe(0);
      expect(add.json?.cniVersion).toBe(version);
      if (version === '0.1.0' || version === '0.2.0') {
        expect(add.json?.ip4).toMatchObject({ ip: expect.stringMatching(/^198\.18\.12\./), gateway: '198.18.12.1' });
        expect(add.json?.interfaces).toBeUndefined();
      } else {
        const ip = (add.json?.ips as Array<Record<string, unknown>>)[0];
        expect(ip?.address).toMatch(/^198\.18\.12\./);
        expect(ip?.version).toBe(version.startsWith('0.') ? '4' : undefined);
      }
      const del = await runShim({ ...call, command: 'DEL' });
      expect(del.code, del.stdout).toBe(0);
      host.deleteNetns(ns.name);
    }
  });

  it('chains a conflist: tuning gets bridge prevResult and the runtime mac (CNI-14, CNI-18)', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 13);
    const conf = writeConf(host.name('net'), { cniVersion: '1.0.0', plugins: [br.plugin, { type: 'tuning', capabilities: { mac: true }, dataDir: join(host.dir, 'tuning') }] });
    const mac = '02:11:22:33:44:66';
    const call = { containerId: newContainer(), netns: ns.path, args: podArgs('default', 'chained'), stdin: multusStdin(daemon.socketDir, conf, { runtimeConfig: { mac } }) };
    const add = await runShim({ ...call, command: 'ADD' });
    expect(add.code, add.stdout).toBe(0);
    const eth0 = (add.json?.interfaces as Array<{ name: string; mac: string }>).find((i) => i.name === 'eth0');
    expect(eth0?.mac).toBe(mac);
    expect(host.inNetns(ns.name, 'link', 'show', 'eth0')).toContain(mac);
    expect((await runShim({ ...call, command: 'CHECK' })).code).toBe(0);
    expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
    expect(() => host.inNetns(ns.name, 'link', 'show', 'eth0')).toThrow();
  });

  it('works with ptp, loopback and macvlan on a veth master', async () => {
    const master = host.link(host.name('vm'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('ip', ['link', 'add', master, 'type', 'veth', 'peer', 'name', `${master}p`]);
    execFileSync('ip', ['link', 'set', master, 'up']);
    const cases: Array<{ body: Record<string, unknown>; ifname: string; address: RegExp }> = [
      { body: { cniVersion: '1.0.0', type: 'ptp', ipam: { type: 'host-local', subnet: '198.18.14.0/24', dataDir: join(host.dir, 'ipam-14') } }, ifname: 'eth0', address: /^198\.18\.14\./ },
      { body: { cniVersion: '1.0.0', type: 'macvlan', master, mode: 'bridge', ipam: { type: 'host-local', subnet: '198.18.15.0/24', dataDir: join(host.dir, 'ipam-15') } }, ifname: 'eth0', address: /^198\.18\.15\./ },
      { body: { cniVersion: '1.0.0', type: 'loopback' }, ifname: 'lo', address: /^127\.0\.0\.1\/8$/ },
    ];
    for (const c of cases) {
      const ns = host.netns();
      const conf = writeConf(host.name('net'), c.body);
      const call = { containerId: newContainer(), netns: ns.path, ifname: c.ifname, args: podArgs('default', `p-${String(c.body.type)}`), stdin: multusStdin(daemon.socketDir, conf) };
      const add = await runShim({ ...call, command: 'ADD' });
      expect(add.code, `${String(c.body.type)}: ${add.stdout}`).toBe(0);
      expect((add.json?.ips as Array<{ address: string }>)[0]?.address).toMatch(c.address);
      const del = await runShim({ ...call, command: 'DEL' });
      expect(del.code, del.stdout).toBe(0);
    }
  });

  it('DEL after the netns is gone still releases the IP (CNI-8, DEB-8)', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 16);
    const netName = host.name('net');
    const conf = writeConf(netName, { cniVersion: '1.0.0', ...br.plugin });
    const call = { containerId: newContainer(), netns: ns.path, args: podArgs('default', 'gone'), stdin: multusStdin(daemon.socketDir, conf) };
    expect((await runShim({ ...call, command: 'ADD' })).code).toBe(0);
    expect(ipFiles(br.ipamDir, netName)).toHaveLength(1);
    host.deleteNetns(ns.name);
    const del = await runShim({ ...call, netns: '', command: 'DEL' });
    expect(del.code, del.stdout).toBe(0);
    expect(ipFiles(br.ipamDir, netName)).toEqual([]);
  });

  it('GC deletes every container the runtime no longer lists, and keeps the others (CNI-12)', async () => {
    const br = bridgePlugin(host, 17);
    const netName = host.name('net');
    const conf = writeConf(netName, { cniVersion: '1.0.0', ...br.plugin });
    const [keep, stale] = [newContainer(), newContainer()];
    for (const cid of [keep, stale]) {
      const ns = host.netns();
      expect((await runShim({ command: 'ADD', containerId: cid, netns: ns.path, args: podArgs('gc', cid.slice(0, 8)), stdin: multusStdin(daemon.socketDir, conf) })).code).toBe(0);
    }
    expect(ipFiles(br.ipamDir, netName)).toHaveLength(2);
    const gc = await runShim({ command: 'GC', stdin: multusStdin(daemon.socketDir, conf, { cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: keep, ifname: 'eth0' }] }) });
    expect(gc.code, gc.stdout).toBe(0);
    expect(ipFiles(br.ipamDir, netName)).toHaveLength(1);
    expect(existsSync(join(daemon.cniDir, stale))).toBe(false);
    expect(existsSync(join(daemon.cniDir, keep))).toBe(true);
    const status = await runShim({ command: 'STATUS', stdin: multusStdin(daemon.socketDir, conf, { cniVersion: '1.1.0' }) });
    expect(status.code, status.stdout).toBe(0);
  });

  it('refuses bad requests with the right CNI code and a message naming the problem (CNI-24)', async () => {
    const conf = writeConf(host.name('net'), { cniVersion: '1.0.0', type: 'loopback' });
    const ns = host.netns();
    const noPod = await runShim({ command: 'ADD', containerId: newContainer(), netns: ns.path, args: 'IgnoreUnknown=1', stdin: multusStdin(daemon.socketDir, conf) });
    expect(noPod.code).toBe(1);
    expect(noPod.json).toMatchObject({ code: 4, msg: expect.stringContaining('K8S_POD_NAME') });
    const badArgs = await runShim({ command: 'ADD', containerId: newContainer(), netns: ns.path, args: 'K8S_POD_NAME=a;junk', stdin: multusStdin(daemon.socketDir, conf) });
    expect(badArgs.json).toMatchObject({ code: 4, msg: expect.stringContaining('"junk"') });
    const badVersion = await runShim({ command: 'ADD', containerId: newContainer(), netns: ns.path, args: podArgs('a', 'b'), stdin: multusStdin(daemon.socketDir, conf, { cniVersion: '9.9.9' }) });
    expect(badVersion.json).toMatchObject({ code: 1 });
    const badId = await runShim({ command: 'DEL', containerId: '../../etc', args: podArgs('a', 'b'), stdin: multusStdin(daemon.socketDir, conf) });
    expect(badId.json).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_CONTAINERID') });
    const missingNet = await runShim({ command: 'ADD', containerId: newContainer(), netns: ns.path, args: podArgs('a', 'b'), stdin: multusStdin(daemon.socketDir, 'no-such-network') });
    expect(missingNet.json).toMatchObject({ code: 7, msg: expect.stringContaining('no-such-network') });
  });
});
