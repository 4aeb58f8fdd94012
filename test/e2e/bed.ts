import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, expect } from 'vitest';
import { pollUntil } from '../../src/util/poll.js';
import { FakeApiServer } from '../apiserver/server.js';
import { TEST_TOKEN, writeKubeconfig } from '../apiserver/kubeconfig.js';
import { TestCa } from '../apiserver/test-ca.js';
import { NODE, createNodePod } from '../helpers/cluster.js';
import { freePort, readJsonLines, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin } from '../helpers/networks.js';
import { childProcesses } from '../helpers/proc.js';
import { DAEMON, DEBIAN_PLUGINS, FIXTURE_PLUGINS, ROOT, SHIM } from '../helpers/paths.js';
import { auditHost, hostNetns, type LeakAudit } from './audit.js';
import { Containerd, unmount } from './containerd.js';
import { CriError, sandboxNetns, type ContainerMount, type CriClient } from './cri-client.js';
import { DaemonSetPod, readDaemonSetManifest } from './daemonset-pod.js';

/** The pod annotation naming extra networks, and the one the daemon writes back. */
export const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

/** The network name of our 00-multus.conf (upstream's). */
export const MULTUS_NETWORK = 'multus-cni-network';

/** The shim's bound on waiting for the daemon, for this bed (see start()). */
export const SHIM_READY_TIMEOUT_MS = 2000;

/** The same in `image` mode, where a rollout's gap (old pod gone, new one starting) is waited out. */
export const IMAGE_SHIM_READY_TIMEOUT_MS = 30_000;

/** The cluster network's subnet (198.18.200.0/24; NADs of the suite use 201+). */
export const CLUSTER_OCTET = 200;

/**
 * Which Multus the runtime calls: the shim and the daemon, the thin plugin on its own, the shim
 * and the daemon from the image (MULTUS_IMAGE_ARCHIVE) run as a thick DaemonSet's pod, or the
 * thin plugin the image's thin DaemonSet pod installed (`image-thin`), or upstream's image run as
 * `image` runs ours (`image-upstream`, for the benches' side-by-side rows).
 */
export type PluginMode = 'thick' | 'thin' | 'image' | 'image-thin' | 'image-upstream';

/** What of the machine's root the `image` mode's host root holds besides the run's dir. */
const HOST_ROOT_MOUNTS = ['usr', 'proc', 'sys', 'dev'];

/** The thick manifest, whose pod the `image` mode runs unless told another. */
export const THICK_MANIFEST = `${ROOT}deployments/multus-daemonset-thick.yml`;
/** The thin plugin's default delegate cache, used as it is under upstream's thin manifest. */
const MACHINE_CNI_DIR = '/var/lib/cni/multus';

/** The thin manifest, whose pod the `image-thin` mode runs. */
export const THIN_MANIFEST = `${ROOT}deployments/multus-daemonset.yml`;

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
  #thinCniDir: string;
  readonly #thinLog: string;
  #api: FakeApiServer | undefined;
  #daemon: TestDaemon | undefined;
  #thinEntrypoint: ChildProcess | undefined;
  #containerd: Containerd | undefined;
  /** `image` mode: the DaemonSet's pod, its image, and the daemon's metrics port. */
  #daemonSetPod: DaemonSetPod | undefined;
  #image: string | undefined;
  #metricsPort = 0;
  /** `image` mode: the API server's CA, which the pod's service account carries. */
  #caPem = '';
  /** Under upstream's thin manifest: whether the machine's MACHINE_CNI_DIR was there before the run. */
  #machineCniDirExisted: boolean | undefined;

  /** `image` mode: the manifest whose DaemonSet pod runs the image. */
  readonly #manifest: string;
  /** Added to the thick daemon's environment (the bench's tunables: bench/env.ts). */
  readonly #daemonEnv: Record<string, string>;
  /** `image` mode: the OCI archive of the image the DaemonSet's pod runs. */
  readonly #imageArchive: string;

  /** `clusterOctet`: the cluster network's 198.18.<octet>.0/24, distinct per test file running in parallel. */
  private constructor(mode: PluginMode, clusterOctet: number, manifest: string, daemonEnv: Record<string, string>, imageArchive: string) {
    this.#mode = mode;
    this.#manifest = manifest;
    this.#daemonEnv = daemonEnv;
    this.#imageArchive = imageArchive;
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
  static async start(mode: PluginMode = 'thick', clusterOctet = CLUSTER_OCTET, manifest = THICK_MANIFEST, daemonEnv: Record<string, string> = {}, imageArchive = process.env.MULTUS_IMAGE_ARCHIVE ?? ''): Promise<E2eBed> {
    const bed = new E2eBed(mode, clusterOctet, manifest, daemonEnv, imageArchive);
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
    // Copies, not symlinks, in `image` mode: the containerised daemon looks for plugins inside
    // the host root it is given, where /usr/lib/cni is not.
    const place = this.#fromImage ? copyFileSync : symlinkSync;
    for (const plugin of readdirSync(DEBIAN_PLUGINS)) place(join(DEBIAN_PLUGINS, plugin), join(this.cniBinDir, plugin));
    if (this.#fromImage) {
      await this.#startImage();
      return;
    }
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
    this.#containerd = await Containerd.start(this.#containerdOptions());
  }

  /**
   * The shim waits MULTUS_SHIM_READY_TIMEOUT_MS for the daemon's /readyz (default 30 s). Shorter
   * here so the daemon-down scenario fails in seconds; libcni passes containerd's environment on
   * to the shim.
   */
  #containerdOptions(): Parameters<typeof Containerd.start>[0] {
    return {
      dir: join(this.host.dir, 'containerd'),
      cniConfDir: this.cniConfDir,
      cniBinDir: this.cniBinDir,
      runId: this.host.id,
      // `image` mode waits longer: pods started during a rollout wait out the daemon's gap.
      env: { MULTUS_SHIM_READY_TIMEOUT_MS: String(this.#fromImage ? IMAGE_SHIM_READY_TIMEOUT_MS : SHIM_READY_TIMEOUT_MS) },
    };
  }

  /** Whether Multus comes from the image, run as a DaemonSet's pod. */
  get #fromImage(): boolean {
    return this.#mode === 'image' || this.#mode === 'image-thin' || this.#mode === 'image-upstream';
  }

  /** `image` mode: the host-side socket dir, unique to the run (the manifest's is /run/multus). */
  get #imageSocketDir(): string {
    return `/run/multus-${this.host.id}`;
  }

  /**
   * `image` mode: the API server over HTTPS (the daemon finds it as a pod does: the service
   * account and KUBERNETES_SERVICE_*), containerd, the image imported, then the thick manifest's
   * pod through CRI: its init container installs the shim into our bin dir, its daemon container
   * writes 00-multus.conf into our conf dir. The ConfigMap is the manifest's, with only what
   * differs on this node changed: the socket dir (unique per run), the metrics port (free), binDir
   * (our bin dir, inside the host root the manifest mounts for chrootDir).
   */
  async #startImage(): Promise<void> {
    const archive = this.#imageArchive;
    if (!existsSync(archive)) throw new Error(`the image archive (${archive}; MULTUS_IMAGE_ARCHIVE) is not there: run scripts/build-image.sh`);
    this.#shareMounts();
    const ca = new TestCa();
    this.#caPem = ca.certPem;
    this.#api = await FakeApiServer.start({ tls: { ...ca.serverCertificate(), clientCaPem: ca.certPem } });
    this.#containerd = await Containerd.start(this.#containerdOptions());
    this.#image = await this.#containerd.importImage(archive);
    this.#metricsPort = await freePort();
    await this.startDaemonSetPod(`kube-multus-ds-${this.host.id}`);
    await this.multusConf(() => true);
  }

  /** `image` mode: the host root the DaemonSet's pod gets as /hostroot (see #shareMounts). */
  get #hostRoot(): string {
    return `${this.host.dir}-hostroot`;
  }

  /**
   * `image` mode: mounts as a Kubernetes node has them, for this run's dirs only. The manifest's
   * HostToContainer and Bidirectional volumes need their host path on a shared mount (containerd
   * refuses otherwise; on a node, systemd makes / shared), and the pod must see network
   * namespaces containerd mounts after it started. So the run's dir becomes a shared mount, and the
   * host root handed to the pod (`/` in the manifest, chrootDir for its delegates) is a small
   * shared tree holding a peer of it at the same path: new netns mounts reach the delegates.
   * The machine's own / is not touched. Undone by #unshareMounts.
   */
  #shareMounts(): void {
    const mount = (...args: string[]): void => void execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    mount('--bind', this.host.dir, this.host.dir);
    mount('--make-shared', this.host.dir);
    const inRoot = join(this.#hostRoot, this.host.dir);
    mkdirSync(inRoot, { recursive: true });
    mount('--bind', this.#hostRoot, this.#hostRoot);
    mount('--make-shared', this.#hostRoot);
    mount('--bind', this.host.dir, inRoot);
    // The host's /usr (read-only) and its merged-/usr links: Debian's plugins are dynamically
    // linked. /proc, /sys and /dev: plugins open their own and the pod's namespaces through them.
    for (const dir of HOST_ROOT_MOUNTS) {
      mkdirSync(join(this.#hostRoot, dir));
      mount('--rbind', ...(dir === 'usr' ? ['-o', 'ro'] : []), `/${dir}`, join(this.#hostRoot, dir));
    }
    for (const link of ['bin', 'sbin', 'lib', 'lib64']) {
      try {
        symlinkSync(readlinkSync(`/${link}`), join(this.#hostRoot, link));
      } catch {
        // not a link on this host (no merged /usr): the plugins' loader is then under /usr anyway
      }
    }
  }

  #unshareMounts(): void {
    for (const target of [...HOST_ROOT_MOUNTS.map((d) => join(this.#hostRoot, d)), join(this.#hostRoot, this.host.dir), this.#hostRoot, this.host.dir]) unmount(target);
    rmSync(this.#hostRoot, { recursive: true, force: true });
  }

  /** Where each of the thick manifest's hostPath volumes lives on this test node. */
  #hostPath(path: string): string {
    const mapped: Record<string, string> = {
      '/': this.#hostRoot,
      '/run': '/run',
      '/etc/cni/net.d': this.cniConfDir,
      '/opt/cni/bin': this.cniBinDir,
      '/var/lib/cni/multus': this.#thinCniDir,
    };
    const dir = mapped[path.replace(/(.)\/$/, '$1')] ?? join(this.host.dir, 'hostpath', path.replaceAll('/', '_'));
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** `image` mode: run (another) pod of the thick DaemonSet, as kubelet does on a rollout. */
  async startDaemonSetPod(name: string): Promise<DaemonSetPod> {
    const manifest = readDaemonSetManifest(this.#manifest);
    const ourConfigMap = manifest.configMaps['multus-daemon-config'];
    const config = JSON.parse(ourConfigMap?.['daemon-config.json'] ?? '{}') as Record<string, unknown>;
    // Upstream's thin manifest has no ConfigMap for the entrypoint: the node's differences go as
    // its flags instead, and the plugin's delegate cache stays at its default, the machine's own.
    const thinFlags = this.#mode === 'image-thin' && ourConfigMap === undefined;
    if (thinFlags) {
      this.#machineCniDirExisted ??= existsSync(MACHINE_CNI_DIR);
      this.#thinCniDir = MACHINE_CNI_DIR;
    }
    // Thin: the plugin runs on the host, so its log, cache and kubeconfig are host paths.
    const kubeconfigHost = join(this.cniConfDir, 'multus.d', 'multus.kubeconfig');
    const nodeConfig =
      this.#mode === 'image-thin'
        ? { ...config, logFile: this.#thinLog, cniDir: this.#thinCniDir, multusKubeconfigFileHost: kubeconfigHost }
        : { ...config, socketDir: `/host${this.#imageSocketDir}/`, daemonSocketDir: `${this.#imageSocketDir}/`, metricsPort: this.#metricsPort, binDir: this.cniBinDir };
    const url = new URL(this.api.url);
    this.#daemonSetPod = await DaemonSetPod.start({
      cri: this.cri,
      image: this.#image ?? '',
      manifest,
      name,
      namespace: 'kube-system',
      uid: `${name}-uid`,
      dir: join(this.host.dir, name),
      hostPath: (p) => this.#hostPath(p),
      configMaps: { ...manifest.configMaps, 'multus-daemon-config': { 'daemon-config.json': JSON.stringify(nodeConfig) } },
      ...(thinFlags ? { extraArgs: { 'kube-multus': [`--multus-kubeconfig-file-host=${kubeconfigHost}`, `--multus-log-file=${this.#thinLog}`, '--multus-log-level=debug'] } } : {}),
      ...(this.#mode === 'image-upstream' ? { extraMounts: this.#upstreamMounts() } : {}),
      nodeName: NODE,
      serviceEnv: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
      serviceAccount: { token: TEST_TOKEN, caPem: this.#caPem },
      cgroupParent: this.containerd.cgroupParent(`${name}-uid`),
    });
    return this.#daemonSetPod;
  }

  /**
   * Upstream's daemon looks for a pod's netns and for its plugins in its own mount namespace
   * before it runs a plugin chrooted into the host root, so both must be at their host paths in
   * the pod. On a node they are (its manifest mounts /run/netns, and /opt/cni/bin at the same
   * path); this bed's containerd keeps netns under its state dir (containerd-config.ts) and its
   * bin dir is the run's own, so those two are mounted at their own paths.
   */
  #upstreamMounts(): ContainerMount[] {
    const netnsDir = join(this.containerd.layout.state, 'io.containerd.grpc.v1.cri', 'netns');
    mkdirSync(netnsDir, { recursive: true });
    return [
      { containerPath: netnsDir, hostPath: netnsDir, readonly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' },
      { containerPath: this.cniBinDir, hostPath: this.cniBinDir, readonly: true },
    ];
  }

  /** `image` mode: the DaemonSet's current pod. */
  get daemonSetPod(): DaemonSetPod {
    if (this.#daemonSetPod === undefined) throw new Error('no DaemonSet pod (image mode only)');
    return this.#daemonSetPod;
  }

  /** `image` mode: the containerised daemon's metrics/health port on the host network. */
  get metricsPort(): number {
    return this.#metricsPort;
  }

  /** The daemon manages 00-multus.conf itself, as with upstream's ConfigMap (multusConfigFile auto). */
  #daemonConfig(): Record<string, unknown> {
    return { kubeconfig: this.#kubeconfig, binDir: this.cniBinDir, cniVersion: '0.4.0', multusAutoconfigDir: this.cniConfDir, cniConfigDir: this.cniConfDir, daemonSocketDir: join(this.host.dir, 'run') };
  }

  async #startDaemon(): Promise<void> {
    this.#daemon = await startTestDaemon(this.host.dir, this.#daemonConfig(), { MULTUS_NODE_NAME: NODE, MULTUS_API_TIMEOUT_MS: '2000', ...this.#daemonEnv });
  }

  /** `multus-daemon thin`; its config's cniDir/logFile/logLevel pass into 00-multus.conf for the plugin. */
  #startThinEntrypoint(): void {
    const configPath = join(this.host.dir, 'thin-config.json');
    writeFileSync(configPath, JSON.stringify({ ...this.#daemonConfig(), cniDir: this.#thinCniDir, logFile: this.#thinLog, logLevel: 'debug' }));
    this.#thinEntrypoint = spawn(process.execPath, [DAEMON, 'thin', '-config', configPath], { stdio: 'ignore' });
  }

  /** The log lines of whoever runs the CNI calls: the daemon, or the thin plugin. */
  #logs(): Array<Record<string, unknown>> {
    if (this.#mode === 'image' || this.#mode === 'image-upstream') return this.#daemonSetPod?.jsonLog('kube-multus') ?? [];
    if (this.#mode === 'image-thin') return readJsonLines(this.#thinLog);
    return this.#mode === 'thick' ? this.daemon.logs() : readJsonLines(this.#thinLog);
  }

  /** Wait until the daemon's 00-multus.conf satisfies `ready`, and return it. */
  async multusConf(ready: (conf: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const path = join(this.cniConfDir, '00-multus.conf');
    const current = (): Record<string, unknown> | undefined => {
      if (!existsSync(path)) return undefined;
      const conf = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      return ready(conf) ? conf : undefined;
    };
    return pollUntil(current, { timeoutMs: 10_000, everyMs: 50, timedOut: () => new Error(`00-multus.conf not (re)generated in ${this.cniConfDir}`) });
  }

  get api(): FakeApiServer {
    if (this.#api === undefined) throw new Error('bed not started');
    return this.#api;
  }

  get daemon(): TestDaemon {
    if (this.#daemon === undefined) throw new Error('bed not started');
    return this.#daemon;
  }

  /**
   * The daemon's process: thick mode's child, or in `image` mode the DaemonSet pod's container
   * process (a child of the pod's containerd shim that is not its pause process).
   */
  daemonPid(): number {
    if (!this.#fromImage) return this.daemon.process.pid ?? 0;
    const shim = this.containerd.shims().find((s) => this.daemonSetPod.ownsSandbox(s.id));
    const pid = shim === undefined ? undefined : childProcesses(shim.pid).find((c) => c.comm !== 'pause')?.pid;
    if (pid === undefined) throw new Error("the DaemonSet pod's daemon process is not running");
    return pid;
  }

  get containerd(): Containerd {
    if (this.#containerd === undefined) throw new Error('bed not started');
    return this.#containerd;
  }

  get cri(): CriClient {
    return this.containerd.cri;
  }

  /**
   * A bridge + host-local NAD on a run-unique bridge in 198.18.<octet>.0/24; with `chain`, a
   * conflist whose later plugins are those (e.g. a fixture plugin placed with `addFixturePlugin`).
   */
  nad(namespace: string, name: string, octet: number, chain: Array<Record<string, unknown>> = []): { bridge: string; ipamDir: string } {
    const net = bridgePlugin(this.host, octet);
    this.#bridges.push(net.bridge);
    this.#ipamDirs.push(net.ipamDir);
    const config = chain.length === 0 ? { cniVersion: '0.4.0', ...net.plugin } : { cniVersion: '0.4.0', name, plugins: [net.plugin, ...chain] };
    this.api.createNad(namespace, name, JSON.stringify(config));
    return { bridge: net.bridge, ipamDir: net.ipamDir };
  }

  /** Put one of test/fixtures/plugins into the node's bin dir (thick mode: the daemon runs on the host). */
  addFixturePlugin(name: string): void {
    const target = join(this.cniBinDir, name);
    if (!existsSync(target)) symlinkSync(join(FIXTURE_PLUGINS, name), target);
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
    const ids = (await this.cri.listPodSandbox()).map((s) => s.id).filter((id) => this.#daemonSetPod?.ownsSandbox(id) !== true);
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
    const complete = (): NetworkStatusEntry[] | undefined => {
      const status = this.networkStatus(namespace, name);
      return status.length === entries ? status : undefined;
    };
    return pollUntil(complete, { timeoutMs: 5000, everyMs: 20, timedOut: () => new Error(`no network-status with ${entries} entries on ${namespace}/${name}`) });
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
    const pod = this.#daemonSetPod;
    const alive = pod === undefined ? [] : [...pod.runtimeIds(), ...pod.runtimeIds().map((id) => this.containerd.shimSocket(id))];
    return auditHost({ containerd: this.containerd, bridges: this.#bridges, ipamDirs: this.#ipamDirs, cniDir: this.#mode === 'thick' ? this.daemon.cniDir : this.#thinCniDir, cniDirShared: this.#thinCniDir === MACHINE_CNI_DIR, netnsBefore: this.#netnsBefore, alive });
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
    // `image` mode: the pods first, while the containerised daemon can still answer their DELs.
    if (this.#daemonSetPod !== undefined && this.#containerd !== undefined) {
      for (const s of await this.cri.listPodSandbox().catch(() => [])) {
        if (this.#daemonSetPod.ownsSandbox(s.id)) continue;
        await this.cri.stopPodSandbox(s.id).catch(() => undefined);
        await this.cri.removePodSandbox(s.id).catch(() => undefined);
      }
      await this.#daemonSetPod.stop().catch(() => undefined);
    }
    // The machine's thin-plugin cache dirs, when this run made them (and they are empty), before
    // containerd's stop removes the host-side dirs it made (/var/lib/cni, when empty).
    if (this.#machineCniDirExisted === false) {
      for (const dir of [join(MACHINE_CNI_DIR, 'results'), MACHINE_CNI_DIR]) {
        try {
          rmdirSync(dir);
        } catch {
          // absent, or not empty: a leak the audit reports
        }
      }
    }
    const problems = (await this.#containerd?.stop()) ?? [];
    if (this.#fromImage) {
      rmSync(this.#imageSocketDir, { recursive: true, force: true });
      this.#unshareMounts();
    }
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
export async function startBedOrSkip(mode: PluginMode = 'thick', clusterOctet = CLUSTER_OCTET, manifest = THICK_MANIFEST): Promise<{ bed: E2eBed; skip?: undefined } | { bed?: undefined; skip: string }> {
  const skip = (reason: string): { skip: string } => {
    if (process.env.MULTUS_E2E_REQUIRED === '1') throw new Error(`e2e suite required but cannot run: ${reason}`);
    process.stderr.write(`test/e2e: SKIPPING the containerd end-to-end suite: ${reason}\n`);
    return { skip: reason };
  };
  if (process.getuid?.() !== 0) return skip('needs root (network namespaces, containerd)');
  const missing = ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'cc', 'nsenter', 'findmnt'].filter((b) => onPath(b) === undefined);
  if (missing.length > 0) return skip(`not installed: ${missing.join(', ')} (run scripts/setup.sh)`);

  const bed = await E2eBed.start(mode, clusterOctet, manifest);
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

/** The started bed of a test file, for its tests (which run only when it started). */
export function bedOf(setup: { bed?: E2eBed | undefined }): () => E2eBed {
  return () => {
    if (setup.bed === undefined) throw new Error('no test bed');
    return setup.bed;
  };
}

/**
 * The hooks of every file that runs a bed: after a failed test, remove the pods it left (never a
 * DaemonSet's own) so the next test's audit judges only itself; after all, stop the bed, and
 * fail if stop() had to force anything — a leak the scenarios' audits should have caught.
 */
export function bedHooks(setup: { bed?: E2eBed | undefined }): void {
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await setup.bed?.reapSandboxes();
  }, 60_000);
  afterAll(async () => {
    expect((await setup.bed?.stop()) ?? []).toEqual([]);
  }, 120_000);
}

/**
 * startBedOrSkip for the `image` modes: skipped (and said so) when MULTUS_IMAGE_ARCHIVE names no
 * image, as on a machine that cannot build one (scripts/test.sh builds it and sets it).
 */
export async function startImageBedOrSkip(file: string, mode: 'image' | 'image-thin', clusterOctet: number, manifest: string): Promise<{ bed: E2eBed; skip?: undefined } | { bed?: undefined; skip: string }> {
  if ((process.env.MULTUS_IMAGE_ARCHIVE ?? '') !== '') return startBedOrSkip(mode, clusterOctet, manifest);
  const skip = 'MULTUS_IMAGE_ARCHIVE is not set (scripts/test.sh builds the image and sets it)';
  process.stderr.write(`${file}: SKIPPING: ${skip}\n`);
  return { skip };
}
