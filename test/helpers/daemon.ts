import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pollUntil } from '../../src/util/poll.js';
import { DAEMON, DEBIAN_PLUGINS, FIXTURE_PLUGINS } from './paths.js';

/** A built multus-daemon running as a child process on a private socket dir. */
export interface TestDaemon {
  socketDir: string;
  cniDir: string;
  confDir: string;
  logFile: string;
  /** GET http://127.0.0.1:<metricsPort>/metrics. */
  metricsPort: number;
  process: ChildProcess;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** The daemon's log lines, parsed. */
  logs(): Array<Record<string, unknown>>;
  /** Work still held inside the daemon (live actors, requests in flight, queued operations): `[]` when idle. */
  stuckWork(): Promise<string[]>;
  /** The unlabelled samples of a /metrics scrape, by name. */
  gauges(): Promise<Record<string, number>>;
}

/** A JSON-lines file (pino logs, cni-record's calls) parsed line by line; [] when it does not exist. */
export function readJsonLines<T = Record<string, unknown>>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as T);
}

/** GET a path on the daemon socket; resolves with the status, or rejects when unreachable. */
export function socketGet(socketDir: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(socketDir, 'multus.sock'), path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** POST a JSON body to a path on the daemon socket; resolves with the status and body. */
export function socketPost(socketDir: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request({ socketPath: join(socketDir, 'multus.sock'), path, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function waitReady(socketDir: string, child: ChildProcess, logFile: string): Promise<void> {
  const ready = async (): Promise<boolean> => {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}: ${readFileSync(logFile, 'utf8')}`);
    // Rejected while nothing listens yet.
    return (await socketGet(socketDir, '/readyz').catch(() => 0)) === 200;
  };
  await pollUntil(ready, { timeoutMs: 10_000, everyMs: 50, timedOut: () => new Error('daemon not ready within 10 s') });
}

/**
 * Start the daemon with a daemon-config.json in `dir`. `config` is merged over the defaults
 * (socketDir, cniDir, confDir and binDir inside `dir`; fake plugins in binDir, Debian's plugins
 * via CNI_PATH); `env` adds tunables; `nodeArgs` go on node's command line before the daemon.
 */
export async function startTestDaemon(dir: string, config: Record<string, unknown>, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<TestDaemon> {
  const socketDir = join(dir, 'run');
  const cniDir = join(dir, 'cni');
  const confDir = join(dir, 'net.d');
  const logFile = join(dir, 'daemon.log');
  mkdirSync(confDir, { recursive: true });
  const configPath = join(dir, 'daemon-config.json');
  // Every test daemon serves /metrics on loopback, so a test can audit the work it still holds.
  const full = { socketDir, cniDir, confDir, binDir: FIXTURE_PLUGINS, logLevel: 'debug', logFile, metricsPort: await freePort(), ...config };
  writeFileSync(configPath, JSON.stringify(full));
  // stderr to a file beside the log: what a daemon that dies of an uncaught error last said.
  const stderrFile = join(dir, 'daemon.stderr');
  const stderr = openSync(stderrFile, 'a');
  // stdout too (the daemon writes nothing there itself; V8's traces do, under their flags).
  const stdout = openSync(join(dir, 'daemon.stdout'), 'a');
  const child = spawn(process.execPath, [...nodeArgs, DAEMON, '-config', configPath], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_PATH: DEBIAN_PLUGINS, MULTUS_METRICS_BIND_ADDRESS: '127.0.0.1', ...env },
    stdio: ['ignore', stdout, stderr],
  });
  closeSync(stderr);
  closeSync(stdout);
  // How it ended, also when it ended silently (a signal: a native crash, or a kill).
  child.once('exit', (code, signal) => appendFileSync(stderrFile, `[test] daemon ${String(child.pid)} exited: code ${String(code)}, signal ${String(signal)}\n`));
  await waitReady(socketDir, child, logFile);
  const gauges = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`http://127.0.0.1:${String(full.metricsPort)}/metrics`)).text();
    const samples = text.split('\n').flatMap((line): Array<[string, number]> => {
      const m = /^([a-z_0-9]+) (\S+)$/.exec(line);
      return m === null ? [] : [[m[1] ?? '', Number(m[2])]];
    });
    return Object.fromEntries(samples);
  };
  return {
    socketDir,
    cniDir,
    confDir,
    logFile,
    metricsPort: full.metricsPort,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
    logs: () => readJsonLines(logFile),
    async stuckWork() {
      const now = await gauges();
      return ['multus_actors', 'multus_inflight_requests', 'multus_mailbox_depth'].flatMap((gauge) => (now[gauge] === 0 ? [] : [`${gauge}: ${String(now[gauge] ?? 'missing')}`]));
    },
    gauges,
  };
}

/** A TCP port that was free a moment ago (for the metrics server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
