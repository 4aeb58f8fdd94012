import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../src/config/daemon-config.js';
import { startSocketServer } from '../../src/server/socket-server.js';
import { DAEMON } from '../helpers/paths.js';
import { until } from '../helpers/wait.js';

const dir = mkdtempSync('/tmp/connection-limit-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function post(socketDir: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(socketDir, 'multus.sock'), method: 'POST', path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

describe('connectionLimit (upstream v4.3.0, #1510)', () => {
  it('serves at most that many connections at once; the next waits, unread, until one closes, and is then served', async () => {
    const socketDir = join(dir, 'limited');
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const server = await startSocketServer({
      socketDir,
      maxBodyBytes: 1024,
      ready: () => true,
      connectionLimit: 1,
      cni: async () => {
        seen.push('cni');
        await held;
        return { status: 200, body: '' };
      },
      delegate: () => {
        seen.push('delegate');
        return Promise.resolve({ status: 200, body: '' });
      },
      explain: () => Promise.resolve({ status: 200, body: '' }),
    });
    try {
      const first = post(socketDir, '/cni');
      const second = post(socketDir, '/delegate');
      // The second connection is accepted but not read while the first is served.
      await until(() => seen.length > 0, 'the first request served');
      expect(seen).toEqual(['cni']);
      const secondDone = second.then(() => seen.push('second answered'));
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual(['cni']);
      release();
      expect(await first).toBe(200);
      expect(await second).toBe(200);
      await secondDone;
      expect(seen).toEqual(['cni', 'delegate', 'second answered']);
    } finally {
      await server.stop();
    }
  });

  it('is validated: an integer greater than 0, or absent for no bound', () => {
    expect(parseDaemonConfig({ connectionLimit: 5 }, 'cfg').connectionLimit).toBe(5);
    expect(parseDaemonConfig({}, 'cfg').connectionLimit).toBeUndefined();
    for (const bad of [0, -1, 1.5, '3']) expect(() => parseDaemonConfig({ connectionLimit: bad }, 'cfg')).toThrow(/"connectionLimit" must be an integer greater than 0/);
  });

  it('a daemon configured with 0 refuses to start, naming the key', () => {
    const config = join(dir, 'zero.json');
    writeFileSync(config, JSON.stringify({ socketDir: join(dir, 'zero'), connectionLimit: 0 }));
    const run = spawnSync(process.execPath, [DAEMON, '-config', config], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${config}: "connectionLimit" must be an integer greater than 0, got 0`);
  });
});
