import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDelegates, saveDelegates, startedUpTo } from '../../src/cni/delegate-cache.js';
import { parseNetworkConfig } from '../../src/cni/network-config.js';
import { DaemonSideFailure } from '../../src/cni/runner.js';
import { undoDelegates } from '../../src/actors/undo.js';
import type { OperationContext } from '../../src/actors/pod-operations.js';
import { readMultusConf } from '../../src/config/multus-conf.js';
import { CniError } from '../../src/errors.js';
import type { CniRequest } from '../../src/server/request.js';
import { createLogger } from '../../src/logging/logger.js';

const dir = mkdtempSync('/tmp/undo-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A DEL that fails as the pool reports a thread that died (the daemon's fault), or as a plugin says no. */
const threadDied = (): CniError => new CniError(11, 'plugin type="bridge" name="net" failed (DEL): delegate pool cannot run plugin bridge: worker exited with code: 1', undefined, { cause: new DaemonSideFailure(11, 'worker exited') });
const pluginSaysNo = (): CniError => new CniError(142, 'plugin type="bridge" name="net" failed (DEL): no');

function setUp(containerId: string, fail: () => CniError): { req: CniRequest; ctx: OperationContext; abandoned: string[] } {
  const conf = readMultusConf({ cniVersion: '1.0.0', name: 'multus', cniDir: dir, clusterNetwork: 'x' });
  const req: CniRequest = { command: 'DEL', containerId, netns: '', ifname: 'eth0', pod: undefined, conf };
  const abandoned: string[] = [];
  const ctx = {
    runner: { del: () => Promise.reject(fail()) },
    log: createLogger({ level: 'silent', file: '', toStderr: false }),
    kube: undefined,
    deviceInfoDir: dir,
    deleteAbandoned: (reason: string) => abandoned.push(reason),
  } as unknown as OperationContext;
  return { req, ctx, abandoned };
}

describe('undoing delegates: what counts as a failed DEL attempt', () => {
  const net = parseNetworkConfig('{"cniVersion":"1.0.0","name":"net","type":"bridge"}', 'net');
  const delegates = [{ name: 'net', net, master: true }];

  it('a DEL the daemon lost (its pool thread died) is owed again, never given up: giving up would leak an IP the next DEL releases', async () => {
    const { req, ctx, abandoned } = setUp('lost', threadDied);
    await saveDelegates(dir, 'lost', startedUpTo(delegates, 1));
    for (let i = 0; i < req.conf.deleteAttempts + 2; i++) {
      const outcome = await undoDelegates(req, (loadDelegates(dir, 'lost')) as never, 'del', ctx);
      expect(outcome.pending).toHaveLength(1);
    }
    const cached = loadDelegates(dir, 'lost');
    expect(cached.kind === 'found' && cached.entries.map((e) => [e.started, e.deleteAttempts])).toEqual([[true, 0]]);
    expect(abandoned).toEqual([]);
  });

  it('a DEL the plugin itself fails uses an attempt: given up after deleteAttempts', async () => {
    const { req, ctx, abandoned } = setUp('refused', pluginSaysNo);
    await saveDelegates(dir, 'refused', startedUpTo(delegates, 1));
    for (let i = 1; i <= req.conf.deleteAttempts; i++) {
      const outcome = await undoDelegates(req, (loadDelegates(dir, 'refused')) as never, 'del', ctx);
      expect(outcome.abandoned).toHaveLength(i === req.conf.deleteAttempts ? 1 : 0);
    }
    expect(abandoned).toEqual(['attempts']);
    expect((loadDelegates(dir, 'refused')).kind).not.toBe('found');
  });
});
