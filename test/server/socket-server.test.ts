import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSocketServer, type SocketServer } from '../../src/server/socket-server.js';

const dir = mkdtempSync('/tmp/socket-server-test-');
const socketDir = join(dir, 'run', 'multus');
let server: SocketServer;
let ready = true;
const received: number[] = [];

beforeAll(async () => {
  server = await startSocketServer({
    socketDir,
    maxBodyBytes: 1024,
    ready: () => ready,
    cni: (body) => {
      received.push(body.length);
      return Promise.resolve({ status: 200, body: '' });
    },
    delegate: () => Promise.resolve({ status: 200, body: '' }),
    explain: () => Promise.resolve({ status: 200, body: '' }),
  });
});

afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

function exchange(method: string, path: string, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(socketDir, 'multus.sock'), method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const call = async (method: string, path: string, body = ''): Promise<number> => (await exchange(method, path, body)).status;

describe('daemon socket', () => {
  it('is reachable by root only: directory 0700, socket 0600', () => {
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(socketDir, 'multus.sock')).mode & 0o777).toBe(0o600);
  });

  it('refuses an oversized body with 413 before handing it on', async () => {
    expect(await exchange('POST', '/cni', 'x'.repeat(64 << 10))).toEqual({ status: 413, body: 'request body larger than 1024 bytes\n' });
    expect(received).toEqual([]);
    // At the limit it is handed on.
    expect(await call('POST', '/cni', 'x'.repeat(1024))).toBe(200);
    expect(received).toEqual([1024]);
  });

  it('answers wrong methods with 405, unknown paths with 404, readiness with 500 while stopping (upstream §2.5)', async () => {
    expect(await call('GET', '/cni')).toBe(405);
    expect(await call('GET', '/delegate')).toBe(405);
    expect(await call('POST', '/nope')).toBe(404);
    expect(await call('POST', '/healthz')).toBe(200);
    expect(await call('GET', '/readyz')).toBe(200);
    ready = false;
    expect(await call('GET', '/readyz')).toBe(500);
    ready = true;
  });

  it('refuses CNI and delegate requests with 503 while stopping, without handing them on (the shim waits and sends them again)', async () => {
    received.length = 0;
    ready = false;
    try {
      expect(await call('POST', '/cni', '{}')).toBe(503);
      expect(await call('POST', '/delegate', '{}')).toBe(503);
    } finally {
      ready = true;
    }
    expect(received).toEqual([]);
    expect(await call('POST', '/cni', '{}')).toBe(200);
    expect(received).toEqual([2]);
  });

  it('on stop: the socket file goes at once, and a connection taken before whose request comes late still gets its answer (a rolling update while pods start)', async () => {
    const stoppingDir = join(dir, 'stopping');
    const stopping = await startSocketServer({
      socketDir: stoppingDir,
      maxBodyBytes: 1024,
      ready: () => false,
      cni: () => Promise.resolve({ status: 200, body: '' }),
      delegate: () => Promise.resolve({ status: 200, body: '' }),
      explain: () => Promise.resolve({ status: 200, body: '' }),
    });
    const socketPath = join(stoppingDir, 'multus.sock');
    const late = connect(socketPath);
    await new Promise((resolve) => late.once('connect', resolve));
    const answer = new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      late.on('data', (c: Buffer) => chunks.push(c));
      late.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    const stopped = stopping.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(socketPath)).toBe(false);
    late.end('POST /cni HTTP/1.1\r\nHost: multus\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    expect((await answer).split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
    await stopped;
  });
});
