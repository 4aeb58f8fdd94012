import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { writeKubeconfig } from '../test/apiserver/kubeconfig.js';
import { NODE } from '../test/helpers/cluster.js';
import { startTestDaemon } from '../test/helpers/daemon.js';
import type { TestHost } from '../test/helpers/host.js';
import { DAEMON } from '../test/helpers/paths.js';
import { readMemory } from '../test/helpers/proc.js';
import { track } from './children.js';
import { envCount } from './env.js';
import { RemoteApi } from './remote-api.js';
import type { ScopeOutput } from './scope.js';
import { fixed, summarize, type Summary } from './stats.js';
import type { Table } from './table.js';

/** How long an idle daemon is left before its RSS is read: its pool threads start on demand. */
const SETTLE_MS = 3_000;

function timeRun(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore', env });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${String(code)}`))));
  });
}

/** One way of starting the daemon: which compile cache it gets. */
interface Variant {
  name: string;
  env(run: number): Record<string, string>;
}

interface DaemonStart {
  /** Spawn to the first `/readyz` 200, with the kube worker's informers synced. */
  readyMs: Summary;
  /** VmRSS after SETTLE_MS idle, MiB. */
  idleRssMiB: Summary;
}

/** Start-up figures of this Node.js line, ms unless named otherwise. */
export interface StartupFigures {
  node: string;
  /** `node -e 0`. */
  bareNode: Summary;
  /** `multus-daemon -version`: the entry module and its imports, no daemon. */
  daemonVersion: Summary;
  daemon: Record<string, DaemonStart>;
}

function tables(f: StartupFigures): Table[] {
  const row = (name: string, s: Summary): string[] => [name, fixed(s.p50), fixed(s.p90), fixed(s.max), String(s.n)];
  return [
    {
      title: `start-up on Node.js ${f.node}, ms`,
      columns: ['what', 'p50', 'p90', 'max', 'n'],
      rows: [
        row('node -e 0', f.bareNode),
        row('multus-daemon -version', f.daemonVersion),
        ...Object.entries(f.daemon).map(([name, d]) => row(`daemon start to ready, ${name}`, d.readyMs)),
      ],
    },
    {
      title: `idle daemon RSS after ${SETTLE_MS / 1000} s, MiB`,
      columns: ['compile cache', 'p50', 'max', 'n'],
      rows: Object.entries(f.daemon).map(([name, d]) => [name, fixed(d.idleRssMiB.p50, 1), fixed(d.idleRssMiB.max, 1), String(d.idleRssMiB.n)]),
    },
  ];
}

/**
 * Start-up cost of the Node.js line the bench runs on (BENCH_STARTUP_ITERATIONS, default 10):
 * a bare Node, the daemon's entry, and a daemon with the Kubernetes API stand-in from spawn to
 * ready, then its idle RSS. The daemon starts without a compile cache, with an empty one (the
 * first start after an install), and with the one a previous start left (every later start).
 */
export async function benchStartup(host: TestHost): Promise<ScopeOutput> {
  const iterations = envCount('BENCH_STARTUP_ITERATIONS', 10, 200);
  const bareNode: number[] = [];
  const daemonVersion: number[] = [];
  for (let i = 0; i < iterations; i++) {
    bareNode.push(await timeRun(['-e', '0']));
    daemonVersion.push(await timeRun([DAEMON, '-version']));
  }
  const warmCache = mkdtempSync(join(host.dir, 'cache-warm-'));
  const variants: Variant[] = [
    { name: 'no compile cache', env: () => ({ NODE_DISABLE_COMPILE_CACHE: '1' }) },
    { name: 'empty compile cache', env: (run) => ({ NODE_COMPILE_CACHE: mkdtempSync(join(host.dir, `cache-cold-${run}-`)) }) },
    { name: 'warm compile cache', env: () => ({ NODE_COMPILE_CACHE: warmCache }) },
  ];
  const api = await RemoteApi.start();
  const daemon: Record<string, DaemonStart> = {};
  try {
    const kubeconfig = join(host.dir, 'kubeconfig');
    writeKubeconfig(kubeconfig, api.url);
    const samples = new Map(variants.map((v) => [v.name, { ready: [] as number[], rss: [] as number[] }]));
    // The variants take turns, so a busy moment of the machine does not land on one of them.
    // Run 0 fills the warm cache and is not counted.
    for (let run = 0; run <= iterations; run++) {
      for (const variant of variants) {
        const dir = join(host.dir, `daemon-${run}-${variant.name.replaceAll(' ', '-')}`);
        mkdirSync(dir);
        const started = performance.now();
        const d = await startTestDaemon(dir, { kubeconfig, logLevel: 'error' }, { MULTUS_NODE_NAME: NODE, ...variant.env(run) });
        track(d.process);
        const readyMs = performance.now() - started;
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const rss = readMemory(d.process.pid)?.rssMiB;
        await d.stop();
        if (run === 0) continue;
        const s = samples.get(variant.name);
        s?.ready.push(readyMs);
        if (rss !== undefined) s?.rss.push(rss);
      }
    }
    for (const [name, s] of samples) daemon[name] = { readyMs: summarize(s.ready), idleRssMiB: summarize(s.rss) };
  } finally {
    await api.close();
  }
  const figures: StartupFigures = { node: process.versions.node, bareNode: summarize(bareNode), daemonVersion: summarize(daemonVersion), daemon };
  return { figures: { iterations, ...figures }, tables: tables(figures) };
}
