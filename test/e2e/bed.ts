import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FakeApiServer } from '../apiserver/server.js';
import { writeKubeconfig } from '../apiserver/kubeconfig.js';
import { NODE, createNodePod } from '../helpers/cluster.js';
import { readJsonLines, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin } from '../helpers/networks.js';
import { DAEMON, DEBIAN_PLUGINS, SHIM } from '../helpers/paths.js';
import { auditHost, hostNetns, type LeakAudit } from './audit.js';
import { Containerd } from './containerd.js';
import { CriError, sandboxNetns, type CriClient } from './cri-client.js';

/** The pod annotation naming extra networks, and the one the daemon writes back. */
export const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

/** The network name of our 00-multus.conf (upstream's). */
export const MULTUS_NETWORK = 'multus-cni-network';

/** The shim's bound on waiting for the daemon, for this bed (see start()). */
export const SHIM_READY_TIMEOUT_MS = 2000;

/** The cluster network's subnet (198.18.200.0/24; NADs of the suite use 201+). */
export const CLUSTER_OCTET = 200;

/** Which Multus the runtime calls: the shim and the daemon, or the thin plugin on its own. */
export type PluginMode = 'thick' | 'thin';

/** A pod the suite ran through the runtime. */
export interface RunningPod {
  namespace: string;
  name: string;
  uid: string;
  sandboxId: string;
}

/** One entry of the network-status annotation. */
export interface NetworkStatusEntry {
  name: string;
  interface?: string;
  ips?: string[];
  default?: boolean;
}

/** A binary on PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The whole end-to-end test bed: the in-repo API server and the built daemon (test/helpers
 * startTestCluster, node-a, kubeconfig), a CNI bin dir with the built multus-shim and Debian's
 * plugins, a 00-multus.conf whose clusterNetwork is a bridge + host-local conf on a run-unique
 * bridge in 198.18.200.0/24, and a private containerd using both. Pods go in as kubelet does:
 * the pod object first, then RunPodSandbox with the same metadata and annotations.
 */
export class E2eBed {
  readonly host = new TestHost();
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  readonly cluster: { bridge: string; ipamDir: string; confPath: string };
  readonly #bridges: string[] = [];
  readonly #ipamDirs: string[] = [];
  readonly #netnsBefore = new Set(hostNetns());
  readonly #mode: PluginMode;
  readonly #kubeconfig: string;
  /** The thin plugin's delegate cache and log (thick: the daemon's). */
  readonly #thinCniDir: string;
  readonly #thinLog: string;
  #api: FakeApiServer | undefined;
  #daemon: TestDaemon | undefined;
  #thinEntrypoint: ChildProcess | undefined;
  #containerd: Containerd | undefined;

  /** `clusterOctet`: the cluster network's 198.18.<octet>.0/24, distinct per test file running in parallel. */
  private constructor(mode: PluginMode, clusterOctet: number) {
    this.#mode = mode;
    this.#kubeconfig = join(this.host.dir, 'kubeconfig');
    this.#thinCniDir = join(this.host.dir, 'cni');
    this.#thinLog = join(this.host.dir, 'thin.log');
    this.cniBinDir = join(this.host.dir, 'cni-bin');
    this.cniConfDir = join(this.host.dir, 'cni-conf');
    const net = bridgePlugin(this.host, clusterOctet);
    // The master (primary) CNI config, in the runtime's conf dir as on a node; the daemon
    // generates 00-multus.conf from it.
    const confPath = join(this.cniConfDir, '10-e2e-bridge.conflist');
    this.cluster = { bridge: net.bridge, ipamDir: net.ipamDir, confPath };
    this.#bridges.push(net.bridge);
    this.#ipamDirs.push(net.ipamDir);
    mkdirSync(this.cniConfDir, { recursive: true });
    writeFileSync(confPath, JSON.stringify({ cniVersion: '0.4.0', name: 'e2e-cluster', plugins: [{ ...net.plugin, ipam: { ...(net.plugin.ipam as object), routes: [{ dst: '0.0.0.0/0' }] } }] }));
  }

  /** Start everything; on failure stops what started and rethrows. */
  static async start(mode: PluginMode = 'thick', clusterOctet = CLUSTER_OCTET): Promise<E2eBed> {
    const bed = new E2eBed(mode, clusterOctet);
    try {
      await bed.#start();
      return bed;
    } catch (err) {
      await bed.stop();
      throw err;
    }
  }

  async #start(): Promise<void> {
    for (const built of [SHIM, DAEMON]) if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build first`);
    // The bin dir a node would have in /opt/cni/bin: our shim (copied, as the daemonset's init
    // container does) and Debian's plugins, loopback included.
    mkdirSync(this.cniBinDir, { recursive: true });
    for (const plugin of readdirSync(DEBIAN_PLUGINS)) symlinkSync(join(DEBIAN_PLUGINS, plugin), join(this.cniBinDir, plugin));
    this.#api = await FakeApiServer.start();
    writeKubeconfig(this.#kubeconfig, this.#api.url);
    if (this.#mode === 'thick') {
      copyFileSync(SHIM, join(this.cniBinDir, 'multus-shim'));
      await this.#startDaemon();
    } else {
      // As the thin DaemonSet does: install -t thin, then the thin entrypoint writes 00-multus.conf.
      execFileSync(process.execPath, [DAEMON, 'install', '-t', 'thin', '-d', this.cniBinDir], { stdio: 'ignore' });
      this.#startThinEntrypoint();
    }
    await this.multusConf(() => true);
    this.#containerd = await Containerd.start({
      dir: join(this.host.dir, 'containerd'),
      cniConfDir: this.cniConfDir,
      cniBinDir: this.cniBinDir,
      runId: this.host.id,
      // The shim waits this long for the daemon's /readyz (default 30 s). Shorter
      // here so the daemon-down scenario fails in seconds; libcni passes containerd's environment
      // on to the shim.
      env: { MULTUS_SHIM_READY_TIMEOUT_MS: String(SHIM_READY_TIMEOUT_MS) },
    });
  }

  /** The daemon manages 00-multus.conf itself, as with upstream's ConfigMap (multusConfigFile auto). */
  #daemonConfig(): Record<string, unknown> {
    return { kubeconfig: this.#kubeconfig, binDir: this.cniBinDir, cniVersion: '0.4.0', multusAutoconfigDir: this.cniConfDir, cniConfigDir: this.cniConfDir, daemonSocketDir: join(this.host.dir, 'run') };
  }

  async #startDaemon(): Promise<void> {
    this.#daemon = await startTestDaemon(this.host.dir, this.#daemonConfig(), { MULTUS_NODE_NAME: NODE, MULTUS_API_TIMEOUT_MS: '2000' });
  }

  /** `multus-daemon thin`; its config's cniDir/logFile/logLevel pass into 00-multus.conf for the plugin. */
  #startThinEntrypoint(): void {
    const configPath = join(this.host.dir, 'thin-config.json');
    writeFileSync(configPath, JSON.stringify({ ...this.#daemonConfig(), cniDir: this.#thinCniDir, logFile: this.#thinLog, logLevel: 'debug' }));
    this.#thinEntrypoint = spawn(process.execPath, [DAEMON, 'thin', '-config', configPath], { stdio: 'ignore' });
  }

  /** The log lines of whoever runs the CNI calls: the daemon, or the thin plugin. */
  #logs(): Array<Record<string, unknown>> {
    return this.#mode === 'thick' ? this.daemon.logs() : readJsonLines(this.#thinLog);
  }

  /** Wait until the daemon's 00-multus.conf satisfies `ready`, and return it. */
  async multusConf(ready: (conf: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const path = join(this.cniConfDir, '00-multus.conf');
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (existsSync(path)) {
        const conf = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
        if (ready(conf)) return conf;
      }
      if (Date.now() > deadline) throw new Error(`00-multus.conf not (re)generated in ${this.cniConfDir}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get api(): FakeApiServer {
    if (this.#api === undefined) throw new Error('bed not started');
    return this.#api;
  }

  get daemon(): TestDaemon {
    if (this.#daemon === undefined) throw new Error('bed not started');
    return this.#daemon;
  }

  get containerd(): Containerd {
    if (this.#containerd === undefined) throw new Error('bed not started');
    return this.#containerd;
  }

  get cri(): CriClient {
    return this.containerd.cri;
  }

  /** A bridge + host-local NAD on a run-unique bridge in 198.18.<octet>.0/24. */
  nad(namespace: string, name: string, octet: number): { bridge: string; ipamDir: string } {
    const net = bridgePlugin(this.host, octet);
    this.#bridges.push(net.bridge);
    this.#ipamDirs.push(net.ipamDir);
    this.api.createNad(namespace, name, JSON.stringify({ cniVersion: '0.4.0', ...net.plugin }));
    return { bridge: net.bridge, ipamDir: net.ipamDir };
  }

  /** Create the pod in the API server (bound to node-a) and return its uid, as the scheduler would. */
  createPod(namespace: string, name: string, annotations: Record<string, string> = {}): string {
    return createNodePod(this.api, namespace, name, annotations);
  }

  /** RunPodSandbox for a pod already in the API server, with its metadata and annotations. */
  async runSandbox(namespace: string, name: string, uid: string, annotations: Record<string, string> = {}): Promise<RunningPod> {
    const sandboxId = await this.cri.runPodSandbox({
      metadata: { name, namespace, uid },
      annotations,
      cgroupParent: this.containerd.cgroupParent(uid),
      logDirectory: join(this.host.dir, 'pod-logs', `${namespace}_${name}_${uid}`),
    });
    return { namespace, name, uid, sandboxId };
  }

  /** Kubelet's pod start: the pod object, then its sandbox. */
  async runPod(namespace: string, name: string, annotations: Record<string, string> = {}): Promise<RunningPod> {
    const uid = this.createPod(namespace, name, annotations);
    return this.runSandbox(namespace, name, uid, annotations);
  }

  /** Kubelet's pod teardown: StopPodSandbox, then RemovePodSandbox. */
  async removePod(pod: RunningPod): Promise<void> {
    await this.cri.stopPodSandbox(pod.sandboxId);
    await this.cri.removePodSandbox(pod.sandboxId);
  }

  /**
   * kubelet's garbage collection: stop and remove every sandbox containerd still has. After a
   * failed test, so the next one starts from a clean host; returns the ids it had to remove.
   */
  async reapSandboxes(): Promise<string[]> {
    const ids = (await this.cri.listPodSandbox()).map((s) => s.id);
    for (const id of ids) {
      await this.cri.stopPodSandbox(id).catch(() => undefined);
      await this.cri.removePodSandbox(id).catch(() => undefined);
    }
    return ids;
  }

  /** The sandbox's netns path (from containerd's verbose status) and the pause PID. */
  async sandboxNetns(pod: RunningPod): Promise<{ path: string; pid: number }> {
    const { info } = await this.cri.podSandboxStatus(pod.sandboxId);
    const path = sandboxNetns(info);
    if (path === undefined || info === undefined) throw new Error(`no netns path in the status of ${pod.sandboxId}`);
    return { path, pid: info.pid };
  }

  /** `ip <args>` inside a sandbox's netns (nsenter: containerd's netns is not under /var/run/netns). */
  inSandbox(netnsPath: string, ...args: string[]): string {
    return execFileSync('nsenter', [`--net=${netnsPath}`, 'ip', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** The IPv4 address(es) of `ifname` inside a sandbox, `a.b.c.d/nn` form. */
  addresses(netnsPath: string, ifname: string): string[] {
    const line = this.inSandbox(netnsPath, '-4', '-o', 'addr', 'show', 'dev', ifname);
    return [...line.matchAll(/inet (\S+)/g)].map((m) => m[1] ?? '');
  }

  /** The pod's network-status annotation, parsed ([] when absent). */
  networkStatus(namespace: string, name: string): NetworkStatusEntry[] {
    const pod = this.api.getPod(namespace, name) as { metadata: { annotations?: Record<string, string> } } | undefined;
    const value = pod?.metadata.annotations?.[NETWORK_STATUS];
    return value === undefined ? [] : (JSON.parse(value) as NetworkStatusEntry[]);
  }

  /** The annotation once it has `entries` entries: it lands just after the ADD's answer. */
  async awaitNetworkStatus(namespace: string, name: string, entries: number): Promise<NetworkStatusEntry[]> {
    const deadline = Date.now() + 5000;
    while (this.networkStatus(namespace, name).length !== entries) {
      if (Date.now() > deadline) throw new Error(`no network-status with ${entries} entries on ${namespace}/${name}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.networkStatus(namespace, name);
  }

  /** Stop the daemon process and start a new one on the same dirs and socket (node-a, same API). */
  async restartDaemon(): Promise<void> {
    await this.daemon.stop();
    await this.#startDaemon();
  }

  /**
   * The CNI requests the runtime made for one pod, as the daemon logged them, in order:
   * `ADD ok`, `DEL ok`, `ADD error`… (what containerd really sends, for the assertions and the
   * README). Only the current daemon's log file: it is appended to across restarts.
   */
  cniCalls(namespace: string, name: string): string[] {
    return this.#logs()
      .filter((l) => (l.msg === 'CNI request done' || l.msg === 'CNI request failed') && l.pod === `${namespace}/${name}`)
      .map((l) => `${String(l.cmd)} ${String(l.result)}`);
  }

  /** The leak audit of the whole run (see audit.ts). */
  audit(): Promise<LeakAudit> {
    return auditHost({ containerd: this.containerd, bridges: this.#bridges, ipamDirs: this.#ipamDirs, cniDir: this.#mode === 'thick' ? this.daemon.cniDir : this.#thinCniDir, netnsBefore: this.#netnsBefore });
  }

  /** containerd's and the daemon's last log lines, for failure messages. */
  diagnostics(): string {
    let daemonTail = '';
    try {
      daemonTail = this.#logs()
        .slice(-15)
        .map((l) => JSON.stringify(l))
        .join('\n');
    } catch {
      daemonTail = '(no daemon log)';
    }
    return `--- containerd ---\n${this.#containerd?.logTail(15) ?? ''}\n--- daemon ---\n${daemonTail}`;
  }

  /**
   * Stop everything by PID, in dependency order: containerd first (its teardown removes the
   * sandboxes through CRI while the daemon can still answer the DELs), then the daemon and the API
   * server, then the host's links, netns and the temp dir. Returns what had to be forced.
   */
  async stop(): Promise<string[]> {
    const problems = (await this.#containerd?.stop()) ?? [];
    await this.#daemon?.stop();
    const entrypoint = this.#thinEntrypoint;
    if (entrypoint !== undefined && entrypoint.exitCode === null && entrypoint.signalCode === null) {
      await new Promise((resolve) => {
        entrypoint.once('exit', resolve);
        entrypoint.kill('SIGTERM');
      });
    }
    await this.#api?.close();
    this.host.cleanup(); // bridges (registered by bridgePlugin), netns, the temp dir
    return problems;
  }
}

/**
 * Whether containerd can run a pod sandbox on this machine at all, and the bed when it can. Skips
 * (with the reason) only for what no code of ours can fix: not root, containerd/runc/ctr/cc not
 * installed (scripts/setup.sh installs them), or a hostNetwork sandbox — no CNI involved — failing
 * in runc. Anything else (our daemon, shim, config or test code) fails the suite instead.
 * MULTUS_E2E_REQUIRED=1 turns the skip into a failure (CI can insist the suite ran).
 */
export async function startBedOrSkip(mode: PluginMode = 'thick', clusterOctet = CLUSTER_OCTET): Promise<{ bed: E2eBed; skip?: undefined } | { bed?: undefined; skip: string }> {
  const skip = (reason: string): { skip: string } => {
    if (process.env.MULTUS_E2E_REQUIRED === '1') throw new Error(`e2e suite required but cannot run: ${reason}`);
    process.stderr.write(`test/e2e: SKIPPING the containerd end-to-end suite: ${reason}\n`);
    return { skip: reason };
  };
  if (process.getuid?.() !== 0) return skip('needs root (network namespaces, containerd)');
  const missing = ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'cc', 'nsenter', 'findmnt'].filter((b) => onPath(b) === undefined);
  if (missing.length > 0) return skip(`not installed: ${missing.join(', ')} (run scripts/setup.sh)`);

  const bed = await E2eBed.start(mode, clusterOctet);
  try {
    const probe = await bed.cri.runPodSandbox({ metadata: { name: 'runtime-probe', namespace: 'kube-system', uid: `probe-${bed.host.id}` }, network: 'NODE', cgroupParent: bed.containerd.cgroupParent(`probe-${bed.host.id}`) });
    await bed.cri.stopPodSandbox(probe);
    await bed.cri.removePodSandbox(probe);
  } catch (err) {
    const detail = err instanceof CriError ? err.details : String(err);
    const logs = bed.diagnostics();
    await bed.stop();
    process.stderr.write(`${logs}\n`);
    return skip(`containerd cannot run a (hostNetwork) pod sandbox here: ${detail}`);
  }
  return { bed };
}
