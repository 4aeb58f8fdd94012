import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeApiServer, writeKubeconfig } from '../apiserver/server.js';
import { NODE, createNodePod } from '../helpers/cluster.js';
import { startTestDaemon } from '../helpers/daemon.js';
import type { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { readMemory } from '../helpers/proc.js';
import { podArgs, runShim } from '../helpers/shim.js';

/**
 * Memory under load: `pods` ADDs sent at once, through the built shim, to a fresh daemon (default
 * tunables) whose cluster network is a slow delegate, so that they are all in flight together
 * (most of them queued for a pool slot); then their DELs. The daemon's peak RSS (VmHWM, since its
 * start) is the figure; every request must be answered with success and nothing may stay behind.
 */

export interface InflightOptions {
  pods: number;
  /** How long the delegate's ADD takes. */
  sleepSeconds: number;
}

export interface InflightReport {
  pods: number;
  addsFailed: number;
  delsFailed: number;
  /** The first failures, as the runtime saw them. */
  failures: string[];
  idleRssMiB: number;
  peakRssMiB: number;
  rssAfterMiB: number;
  stuckWork: string[];
  seconds: number;
}

const round = (mib: number | undefined): number => Math.round((mib ?? NaN) * 10) / 10;

export async function runInflight(host: TestHost, opts: InflightOptions): Promise<InflightReport> {
  const started = performance.now();
  const api = await FakeApiServer.start();
  const dir = join(host.dir, 'inflight');
  mkdirSync(dir);
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, api.url);
  const daemon = await startTestDaemon(dir, { kubeconfig, logLevel: 'error' }, { MULTUS_NODE_NAME: NODE });
  try {
    const cluster = join(daemon.confDir, 'slow.conf');
    writeFileSync(cluster, JSON.stringify({ cniVersion: '1.0.0', name: 'slow', type: 'cni-sleep', sleepSeconds: opts.sleepSeconds }));
    const idle = readMemory(daemon.process.pid);
    // The delegate touches no netns: one for all pods is enough.
    const netns = host.netns();
    const calls = Array.from({ length: opts.pods }, (_, i) => {
      const name = `inflight-${i}`;
      const uid = createNodePod(api, 'default', name);
      return { containerId: `inflight${host.id}${i}`, netns: netns.path, args: podArgs('default', name, uid), stdin: multusStdin(daemon.socketDir, cluster) };
    });
    const report: InflightReport = { pods: opts.pods, addsFailed: 0, delsFailed: 0, failures: [], idleRssMiB: round(idle?.rssMiB), peakRssMiB: 0, rssAfterMiB: 0, stuckWork: [], seconds: 0 };
    /** Keep the first few failures as the runtime saw them. */
    const fail = (what: string, stdout: string): void => {
      if (report.failures.length < 5) report.failures.push(`${what}: ${stdout.trim()}`);
    };
    for (const add of await Promise.all(calls.map((call) => runShim({ ...call, command: 'ADD' })))) {
      if (add.code === 0) continue;
      report.addsFailed++;
      fail('ADD', add.stdout);
    }
    for (const del of await Promise.all(calls.map((call) => runShim({ ...call, command: 'DEL' })))) {
      if (del.code === 0) continue;
      report.delsFailed++;
      fail('DEL', del.stdout);
    }
    const memory = readMemory(daemon.process.pid);
    report.peakRssMiB = round(memory?.peakMiB);
    report.rssAfterMiB = round(memory?.rssMiB);
    report.stuckWork = await daemon.stuckWork();
    report.seconds = Math.round(performance.now() - started) / 1000;
    return report;
  } finally {
    await daemon.stop();
    await api.close();
  }
}
