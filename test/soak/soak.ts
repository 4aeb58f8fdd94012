import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeApiServer, writeKubeconfig } from '../apiserver/server.js';
import { NODE } from '../helpers/cluster.js';
import { freePort, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import type { TestHost } from '../helpers/host.js';
import { exitWorkerThread, type WorkerInfo } from '../helpers/inspector.js';
import { bridgePlugin, multusStdin } from '../helpers/networks.js';
import { FIXTURE_PLUGINS } from '../helpers/paths.js';
import { killProcessesWithEnv, readMemory } from '../helpers/proc.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { sleep } from '../helpers/wait.js';

/**
 * A soak: pods churned through the built shim and daemon while random faults are injected, then
 * an audit of everything a pod can leave behind. Every pod goes through what a runtime does:
 * ADD, then DEL (also after a failed ADD), then a second DEL without a netns.
 */

/** The daemon's resident set now, KiB. */
function rssKiB(pid: number | undefined): number {
  return Math.round((readMemory(pid)?.rssMiB ?? NaN) * 1024);
}

export interface SoakOptions {
  pods: number;
  concurrency: number;
  /** 0..1: how often a pod gets a fault injected. */
  faultRate: number;
  /** Every n-th pod restarts the daemon with SIGKILL between its ADD and DEL (0: never). */
  killEvery: number;
  seed: number;
  /** Faults never injected in this run. */
  without?: readonly Fault[];
}

export interface SoakReport {
  operations: number;
  faultsInjected: Record<string, number>;
  /** Faulty pods whose teardown still completed (their DELs succeeded, possibly after retries). */
  faultsSurvived: number;
  addsFailed: number;
  /**
   * Failed ADDs whose first DEL did not succeed (a runtime would keep that sandbox until a
   * retry), not counting DELs a thread fault or a daemon SIGKILL ended.
   */
  delsAfterFailedAddRetried: number;
  /** The first few of those answers, with the pod's fault. */
  delsAfterFailedAdd: string[];
  /** DELs answered with an error and retried, as a runtime retries (code 11 while the daemon restarts). */
  delRetries: number;
  /** DELs that still failed after the retries. */
  delsFailed: number;
  /** The first DEL failures, as the runtime saw them. */
  delFailures: string[];
  leaks: string[];
  /** The daemon's log lines (warn and above) about the containers that leaked an IP. */
  leakLog: string[];
  /**
   * Plugin processes still running at the end, killed by the soak: runs a SIGKILLed daemon
   * left behind (they run in their own process groups and finish on their own; the hanging
   * fault plugin only after 300 s). Their attachments are undone by the DELs all the same.
   */
  orphanedPlugins: number;
  rssBeforeKiB: number;
  /** The daemon's RSS once `rssMarkPods` pods were done (1,000, or a tenth of a shorter run). */
  rssMarkPods: number;
  rssAtMarkKiB: number;
  rssAfterKiB: number;
  seconds: number;
}

/** The faults a pod may get, one at most. */
/** How long a runtime waits before it sends a failed DEL again (kubelet: its next sync; here, short). */
const RUNTIME_RETRY_MS = 200;

const FAULTS = ['failing-delegate', 'hanging-delegate', 'api-5xx', 'dropped-watch', 'pod-deleted', 'pod-recreated', 'refused-plugin', 'plugin-deleted', 'kube-worker-killed', 'pool-thread-killed'] as const;

/** One kind of fault. */
export type Fault = (typeof FAULTS)[number];

/** The threads these faults end (through the daemon's inspector), while the pod's ADD runs. */
const THREAD_FAULTS: Partial<Record<(typeof FAULTS)[number], (w: WorkerInfo) => boolean>> = {
  'kube-worker-killed': (w) => w.title.includes('multus-kube'),
  'pool-thread-killed': (w) => !w.title.includes('multus-kube'),
};

/** The networks a fault's pod attaches, where the fault needs particular ones. */
const FAULT_NETWORKS: Partial<Record<(typeof FAULTS)[number], string>> = {
  'failing-delegate': 'extra,failing',
  'hanging-delegate': 'hanging',
  'refused-plugin': 'extra,refused',
  'plugin-deleted': 'extra,vanishing',
};

/** The daemon's /readyz on its metrics port (500 while its kube worker restarts). */
async function readyz(daemon: TestDaemon): Promise<number> {
  return (await fetch(`http://127.0.0.1:${daemon.metricsPort}/readyz`)).status;
}

/** A small deterministic PRNG (mulberry32), so a failing soak can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function files(dir: string, filter: (name: string) => boolean): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter(filter) : [];
}

export async function runSoak(host: TestHost, opts: SoakOptions): Promise<SoakReport> {
  const started = performance.now();
  const random = prng(opts.seed);
  const faults = FAULTS.filter((f) => !(opts.without ?? []).includes(f));
  const api = await FakeApiServer.start();
  const kubeconfig = join(host.dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, api.url);
  // The delegate timeout ends the hanging-delegate fault. It must stay well above a node-based
  // fake plugin's start-up on a loaded machine: a DEL killed by it is a failed DEL, kept for
  // the runtime's retry (up to deleteAttempts).
  // The inspector is how the thread faults end a thread of the daemon for real.
  const inspectPort = await freePort();
  const env = { MULTUS_NODE_NAME: NODE, MULTUS_DELEGATE_TIMEOUT_MS: '3000', MULTUS_API_TIMEOUT_MS: '1000', NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` };
  // A bin dir of the soak's own, so that a plugin can be deleted from it mid-run.
  const binDir = join(host.dir, 'soak-bin');
  mkdirSync(binDir);
  for (const plugin of readdirSync(FIXTURE_PLUGINS)) symlinkSync(join(FIXTURE_PLUGINS, plugin), join(binDir, plugin));
  const vanishing = join(binDir, 'cni-vanish');
  const restoreVanishing = (): void => {
    if (!existsSync(vanishing)) symlinkSync(join(FIXTURE_PLUGINS, 'cni-record'), vanishing);
  };
  restoreVanishing();
  // A daemon that exits on its own ends the soak at once, with what it last said.
  let died: Error | undefined;
  const start = async (): Promise<TestDaemon> => {
    const started = await startTestDaemon(host.dir, { kubeconfig, logLevel: 'warn', binDir }, env);
    started.process.once('exit', () => {
      // (Its stderr without the inspector's chatter, which the thread faults cause.)
      const said = readFileSync(join(host.dir, 'daemon.stderr'), 'utf8').split('\n').filter((l) => !/^(Debugger (attached|ending|listening)|For help, see)/.test(l));
      if (!killing) died = new Error(`the daemon exited during the soak:\n${said.slice(-40).join('\n')}`);
    });
    return started;
  };
  let killing = false;
  const stillAlive = (): void => {
    if (died !== undefined) throw died;
  };
  let daemon = await start();
  const br = bridgePlugin(host, 99);
  const cluster = join(daemon.confDir, 'soak-cluster.conflist');
  // The cluster network is a real bridge + host-local, so leaks are real veths and IP files.
  writeFileSync(cluster, JSON.stringify({ cniVersion: '1.0.0', name: 'soak-cluster', plugins: [br.plugin] }));
  api.createNad('default', 'extra', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record' }));
  api.createNad('default', 'failing', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-fail' }));
  api.createNad('default', 'hanging', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-hang', pidFile: join(host.dir, 'hang.pid') }));
  api.createNad('default', 'refused', JSON.stringify({ cniVersion: '1.0.0', type: '../../bin/true' }));
  api.createNad('default', 'vanishing', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-vanish' }));
  const rssMarkPods = Math.min(1000, Math.ceil(opts.pods / 10));
  const report: SoakReport = { operations: 0, faultsInjected: {}, faultsSurvived: 0, addsFailed: 0, delsAfterFailedAddRetried: 0, delsAfterFailedAdd: [], delRetries: 0, delsFailed: 0, delFailures: [], leaks: [], leakLog: [], orphanedPlugins: 0, rssBeforeKiB: rssKiB(daemon.process.pid), rssMarkPods, rssAtMarkKiB: 0, rssAfterKiB: 0, seconds: 0 };
  let podsDone = 0;
  const inject = (fault: string): void => {
    report.faultsInjected[fault] = (report.faultsInjected[fault] ?? 0) + 1;
  };
  let restarting: Promise<void> = Promise.resolve();

  async function onePod(i: number): Promise<void> {
    stillAlive();
    const name = `soak-${i}`;
    const faulty = random() < opts.faultRate;
    const fault = faulty ? faults[Math.floor(random() * faults.length)] : undefined;
    const networks = fault === undefined ? (random() < 0.5 ? 'extra' : '') : (FAULT_NETWORKS[fault] ?? (random() < 0.5 ? 'extra' : ''));
    const created = api.createPod({ metadata: { namespace: 'default', name, annotations: networks === '' ? {} : { 'k8s.v1.cni.cncf.io/networks': networks } }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] } }) as { metadata: { uid: string } };
    if (fault !== undefined) inject(fault);
    if (fault === 'api-5xx') api.failNext(2, 503);
    if (fault === 'dropped-watch') api.dropWatches();
    const ns = host.netns();
    await restarting;
    const call = { containerId: `soak${host.id}${i}`, netns: ns.path, args: podArgs('default', name, created.metadata.uid, i), stdin: multusStdin(daemon.socketDir, cluster) };
    const threadFault = fault === undefined ? undefined : THREAD_FAULTS[fault];
    // A thread that is there to end: not a kube worker still starting after another such fault
    // (killing each new worker as it starts is a crash loop, not a fault the soak means).
    const ending = threadFault === undefined ? undefined : readyz(daemon).then((status) => (status === 200 ? exitWorkerThread(inspectPort, daemon.process.pid ?? 0, threadFault) : undefined)).catch(() => undefined);
    const add = await runShim({ ...call, command: 'ADD' });
    await ending;
    report.operations++;
    if (add.code !== 0) report.addsFailed++;
    if (add.code !== 0 && process.env.SOAK_DEBUG === '1') process.stderr.write(`${fault ?? 'no fault'}: ${add.stdout}\n`);
    // Another pod's ADD may find it missing too: that ADD fails, and its DEL must succeed all the same.
    if (fault === 'plugin-deleted') rmSync(vanishing, { force: true });
    if (fault === 'pod-deleted') api.deletePod('default', name);
    if (fault === 'pod-recreated') {
      api.deletePod('default', name);
      api.createPod({ metadata: { namespace: 'default', name }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] } });
    }
    if (opts.killEvery > 0 && i > 0 && i % opts.killEvery === 0) {
      inject('daemon-sigkill');
      restarting = (async () => {
        killing = true;
        daemon.process.kill('SIGKILL');
        await new Promise((r) => daemon.process.once('exit', r));
        killing = false;
        daemon = await start();
      })();
    }
    await restarting;
    let tornDown = true;
    for (const netns of [ns.path, '']) {
      for (let attempt = 1; ; attempt++) {
        stillAlive();
        const sigkillsBefore = report.faultsInjected['daemon-sigkill'] ?? 0;
        const del = await runShim({ ...call, netns, command: 'DEL', env: { MULTUS_SHIM_READY_TIMEOUT_MS: '20000' } });
        report.operations++;
        if (del.code === 0) break;
        // Not counted: a DEL that an injected fault ended, not a failure of its own: its thread
        // ended by a thread fault, or the daemon SIGKILLed by another pod while it was in flight.
        const sigkilled = (report.faultsInjected['daemon-sigkill'] ?? 0) !== sigkillsBefore && /lost connection to multus-daemon/.test(del.stdout);
        if (add.code !== 0 && attempt === 1 && netns !== '' && !sigkilled && !/worker exited|kube worker died/.test(del.stdout)) {
          report.delsAfterFailedAddRetried++;
          if (report.delsAfterFailedAdd.length < 5) report.delsAfterFailedAdd.push(`${fault ?? 'no fault'}: ${del.stdout.trim()}`);
        }
        if (attempt < 5) {
          report.delRetries++;
          await sleep(RUNTIME_RETRY_MS);
          continue;
        }
        report.delsFailed++;
        tornDown = false;
        if (report.delFailures.length < 5) report.delFailures.push(`${fault ?? 'no fault'}: ${del.stdout.trim()}`);
        break;
      }
    }
    if (fault === 'plugin-deleted') restoreVanishing();
    if (fault !== undefined && tornDown) report.faultsSurvived++;
    host.deleteNetns(ns.name);
    if (++podsDone === rssMarkPods) report.rssAtMarkKiB = rssKiB(daemon.process.pid);
  }

  let next = 0;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      for (let i = next++; i < opts.pods; i = next++) await onePod(i);
    }),
  );
  await restarting;
  // What a pod could leave behind: caches, IP reservations, host veths, stuck actors.
  report.leaks.push(...files(daemon.cniDir, (f) => f !== 'results' && !f.startsWith('results/')).map((f) => `delegate cache ${f}`));
  report.leaks.push(...files(join(daemon.cniDir, 'results'), () => true).map((f) => `result cache ${f}`));
  // With who holds it (host-local writes "<container id>\r\n<ifname>"; empty: cut off mid-write).
  const holders = files(br.ipamDir, (f) => /\d+\.\d+\.\d+\.\d+$/.test(f)).map((f) => ({ f, holder: readFileSync(join(br.ipamDir, f), 'utf8') }));
  report.leaks.push(...holders.map(({ f, holder }) => `IP reservation ${f} held by ${JSON.stringify(holder)}`));
  // What the daemon said (warnings and errors) about the containers that leaked an IP.
  // (Request lines carry the id cut to 12 characters.)
  const leakedIds = new Set(holders.map(({ holder }) => (holder.split('\r\n')[0] ?? '').slice(0, 12)));
  report.leakLog = daemon.logs().filter((line) => leakedIds.has(typeof line.sandbox === 'string' ? line.sandbox.slice(0, 12) : '')).map((line) => JSON.stringify(line));
  const veths = host.hostLinkExists(br.bridge) ? host.linksOnBridge(br.bridge) : [];
  report.leaks.push(...veths.map((v) => `veth ${v} on ${br.bridge}`));
  report.leaks.push(...(await daemon.stuckWork()).map((w) => `stuck in the daemon: ${w}`));
  report.rssAfterKiB = rssKiB(daemon.process.pid);
  report.seconds = Math.round(performance.now() - started) / 1000;
  report.orphanedPlugins = killProcessesWithEnv('CNI_CONTAINERID', `soak${host.id}`);
  await daemon.stop();
  await api.close();
  return report;
}
