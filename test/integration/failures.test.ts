import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin } from '../helpers/networks.js';
import { statFields } from '../helpers/proc.js';
import { podArgs, runShim } from '../helpers/shim.js';

/**
 * Failing delegates: whatever a plugin does, the runtime gets a CNI error it can act on and a
 * failed ADD leaves nothing behind (no interface, IP reservation, host veth or cache file).
 */
const host = new TestHost();
let daemon: TestDaemon;
let containers = 0;

beforeAll(async () => {
  daemon = await startTestDaemon(host.dir, {}, { MULTUS_DELEGATE_TIMEOUT_MS: '1500' });
});

afterAll(async () => {
  await daemon?.stop();
  host.cleanup();
});

function writeList(plugins: Array<Record<string, unknown>>): { path: string; name: string } {
  const name = host.name('net');
  const path = join(daemon.confDir, `${name}.conflist`);
  writeFileSync(path, JSON.stringify({ cniVersion: '1.0.0', name, plugins }));
  return { path, name };
}

/** A process that still runs; a zombie waiting for its reaper is dead for our purpose. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return statFields(stat)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Nothing of this container may remain anywhere, and the daemon holds no work for it. */
async function expectNothingLeft(cid: string, netnsName: string, bridge: string, ipamDir: string, net: string): Promise<void> {
  expect(await daemon.stuckWork()).toEqual([]);
  expect(() => host.inNetns(netnsName, 'link', 'show', 'eth0')).toThrow();
  const ipDir = join(ipamDir, net);
  expect(existsSync(ipDir) ? readdirSync(ipDir).filter((f) => /^\d/.test(f)) : []).toEqual([]);
  expect(existsSync(join(daemon.cniDir, cid))).toBe(false);
  const results = join(daemon.cniDir, 'results');
  expect(existsSync(results) ? readdirSync(results).filter((f) => f.includes(cid)) : []).toEqual([]);
  if (host.hostLinkExists(bridge)) {
    expect(host.inNetns(netnsName, 'link').includes('veth')).toBe(false);
  }
}

function newContainer(): string {
  return `${host.id}f${containers++}`.padEnd(64, 'a');
}

describe('failing delegates', () => {
  it('a plugin error reaches the runtime with its own code and message; the chain is rolled back (CNI-5, MN-41)', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 21);
    const net = writeList([br.plugin, { type: 'cni-fail' }]);
    const cid = newContainer();
    const add = await runShim({ command: 'ADD', containerId: cid, netns: ns.path, args: podArgs('default', 'failing'), stdin: multusStdin(daemon.socketDir, net.path) });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 117, msg: expect.stringContaining('injected failure'), details: 'cni-fail always fails ADD' });
    expect(add.json?.msg).toContain(net.name);
    await expectNothingLeft(cid, ns.name, br.bridge, br.ipamDir, net.name);
    // The runtime DELs right after a failed ADD: that must succeed too.
    const del = await runShim({ command: 'DEL', containerId: cid, netns: ns.path, args: podArgs('default', 'failing'), stdin: multusStdin(daemon.socketDir, net.path) });
    expect(del.code, del.stdout).toBe(0);
  });

  it('a plugin that hangs is killed with its whole process group after the timeout', async () => {
    const ns = host.netns();
    const pidFile = join(host.dir, 'hang.pid');
    const br = bridgePlugin(host, 22);
    const net = writeList([br.plugin, { type: 'cni-hang', pidFile }]);
    const cid = newContainer();
    const add = await runShim({ command: 'ADD', containerId: cid, netns: ns.path, args: podArgs('default', 'hanging'), stdin: multusStdin(daemon.socketDir, net.path) });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining('timed out after 1500 ms') });
    const pids = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(alive(pid), `pid ${pid} survived`).toBe(false);
    await expectNothingLeft(cid, ns.name, br.bridge, br.ipamDir, net.name);
  });

  it('a plugin that crashes (killed by a signal) is reported as such and rolled back', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 25);
    const net = writeList([br.plugin, { type: 'cni-crash' }]);
    const cid = newContainer();
    const add = await runShim({ command: 'ADD', containerId: cid, netns: ns.path, args: podArgs('default', 'crashing'), stdin: multusStdin(daemon.socketDir, net.path) });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 999, msg: expect.stringMatching(/cni-crash.*killed by SIGSEGV/) });
    await expectNothingLeft(cid, ns.name, br.bridge, br.ipamDir, net.name);
  });

  it('a plugin that prints garbage gives a decode error and is rolled back', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 23);
    const net = writeList([br.plugin, { type: 'cni-garbage' }]);
    const cid = newContainer();
    const add = await runShim({ command: 'ADD', containerId: cid, netns: ns.path, args: podArgs('default', 'garbage'), stdin: multusStdin(daemon.socketDir, net.path) });
    expect(add.json).toMatchObject({ code: 6, msg: expect.stringContaining('not json') });
    await expectNothingLeft(cid, ns.name, br.bridge, br.ipamDir, net.name);
  });

  it('a plugin missing from the bin dirs is named in the error (LIB-2)', async () => {
    const ns = host.netns();
    const net = writeList([{ type: 'no-such-plugin' }]);
    const add = await runShim({ command: 'ADD', containerId: newContainer(), netns: ns.path, args: podArgs('default', 'missing'), stdin: multusStdin(daemon.socketDir, net.path) });
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('failed to find plugin "no-such-plugin"') });
  });

  it('a plugin type that is a path is refused before anything runs', async () => {
    const ns = host.netns();
    const net = writeList([{ type: '../../../bin/true' }]);
    const add = await runShim({ command: 'ADD', containerId: newContainer(), netns: ns.path, args: podArgs('default', 'evil'), stdin: multusStdin(daemon.socketDir, net.path) });
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('invalid plugin type') });
  });

  it('the shim reports a daemon that is not running, within its ready timeout', async () => {
    const empty = join(host.dir, 'nodaemon');
    const add = await runShim({ command: 'ADD', containerId: newContainer(), netns: '/var/run/netns/x', args: podArgs('a', 'b'), stdin: multusStdin(empty, '/nonexistent'), env: { MULTUS_SHIM_READY_TIMEOUT_MS: '400' } });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining(join(empty, 'multus.sock')) });
  });

  it('an ADD repeated for the same container (the runtime timed out) undoes the first and succeeds: no "already exists" (upstream #1089)', async () => {
    const ns = host.netns();
    const br = bridgePlugin(host, 24);
    const net = writeList([br.plugin]);
    const call = { containerId: newContainer(), netns: ns.path, args: podArgs('default', 'retried'), stdin: multusStdin(daemon.socketDir, net.path) };
    expect((await runShim({ ...call, command: 'ADD' })).code).toBe(0);
    const again = await runShim({ ...call, command: 'ADD' });
    expect(again.code, again.stdout).toBe(0);
    const ipDir = join(br.ipamDir, net.name);
    expect(readdirSync(ipDir).filter((f) => /^\d/.test(f))).toHaveLength(1);
    expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
    await expectNothingLeft(call.containerId, ns.name, br.bridge, br.ipamDir, net.name);
  });
});
