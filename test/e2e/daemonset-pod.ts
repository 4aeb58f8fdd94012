import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { pollUntil } from '../../src/util/poll.js';
import type { ContainerConfig, ContainerMount, ContainerStatus, CriClient, SandboxConfig } from './cri-client.js';

/** The parts of a DaemonSet's pod template that kubelet turns into CRI calls. */
interface ManifestContainer {
  name: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; mountPropagation?: 'None' | 'HostToContainer' | 'Bidirectional' }>;
  securityContext?: { privileged?: boolean };
}
interface ManifestVolume {
  name: string;
  hostPath?: { path: string };
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
}
interface PodTemplate {
  hostNetwork?: boolean;
  hostPID?: boolean;
  initContainers?: ManifestContainer[];
  containers: ManifestContainer[];
  volumes?: ManifestVolume[];
  terminationGracePeriodSeconds?: number;
}
type ManifestDoc = { kind?: string; metadata?: { name?: string }; data?: Record<string, string>; spec?: { template: { spec: PodTemplate } } };

/** A manifest file's DaemonSet pod template and its ConfigMaps' data. */
export interface DaemonSetManifest {
  pod: PodTemplate;
  configMaps: Record<string, Record<string, string>>;
}

export function readDaemonSetManifest(path: string): DaemonSetManifest {
  const docs = parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as ManifestDoc);
  const pod = docs.find((d) => d.kind === 'DaemonSet')?.spec?.template.spec;
  if (pod === undefined) throw new Error(`${path} has no DaemonSet`);
  const configMaps = Object.fromEntries(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata?.name ?? '', d.data ?? {}]));
  return { pod, configMaps };
}

/** How the test stands in for a node: where each hostPath lives, what kubelet would inject. */
export interface DaemonSetPodOptions {
  cri: CriClient;
  image: string;
  manifest: DaemonSetManifest;
  /** The pod's name, namespace and uid (one per rollout: a second pod replaces the first). */
  name: string;
  namespace: string;
  uid: string;
  /** A dir of the test's own: ConfigMap files, the service account, the containers' logs. */
  dir: string;
  /** A manifest hostPath (`/etc/cni/net.d`) to the directory that stands for it here. */
  hostPath: (path: string) => string;
  /** ConfigMap data as this test's node has it (default: the manifest's own). */
  configMaps?: Record<string, Record<string, string>>;
  /** Arguments appended to a container's (by name): what differs on this node, for a manifest without a ConfigMap to say it. */
  extraArgs?: Record<string, string[]>;
  /** Mounts every container gets beside the manifest's: what a node has that this bed keeps elsewhere. */
  extraMounts?: ContainerMount[];
  /** `spec.nodeName` for fieldRef env vars. */
  nodeName: string;
  /** What kubelet injects: KUBERNETES_SERVICE_HOST/PORT and the service account's files. */
  serviceEnv: Record<string, string>;
  serviceAccount: { token: string; caPem: string };
  cgroupParent: string;
}

const PROPAGATION: Record<string, NonNullable<ContainerMount['propagation']>> = {
  None: 'PROPAGATION_PRIVATE',
  HostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  Bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

/** kubelet's service account volume, at the path client libraries read it from. */
const SERVICE_ACCOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * One pod of a DaemonSet, run through CRI the way kubelet runs it: a hostNetwork/hostPID
 * privileged sandbox, each init container to completion (exit 0) in order, then the containers,
 * with the manifest's command and args (replacing the image's entrypoint), env (fieldRef
 * spec.nodeName resolved), hostPath and ConfigMap volumes, propagation, and the service account.
 */
export class DaemonSetPod {
  readonly #opts: DaemonSetPodOptions;
  readonly #sandbox: SandboxConfig;
  readonly #logDir: string;
  #sandboxId: string | undefined;
  readonly #containers = new Map<string, string>();

  private constructor(opts: DaemonSetPodOptions) {
    this.#opts = opts;
    this.#logDir = join(opts.dir, 'logs');
    const { pod } = opts.manifest;
    this.#sandbox = {
      metadata: { name: opts.name, namespace: opts.namespace, uid: opts.uid },
      network: pod.hostNetwork === true ? 'NODE' : 'POD',
      pid: pod.hostPID === true ? 'NODE' : 'CONTAINER',
      privileged: [...(pod.initContainers ?? []), ...pod.containers].some((c) => c.securityContext?.privileged === true),
      logDirectory: this.#logDir,
      cgroupParent: opts.cgroupParent,
    };
  }

  /** Run the pod: sandbox, init containers (each must exit 0), containers started. */
  static async start(opts: DaemonSetPodOptions): Promise<DaemonSetPod> {
    const pod = new DaemonSetPod(opts);
    mkdirSync(pod.#logDir, { recursive: true });
    pod.#sandboxId = await opts.cri.runPodSandbox(pod.#sandbox);
    for (const c of opts.manifest.pod.initContainers ?? []) {
      const id = await pod.#run(c);
      const status = await pod.waitExited(c.name, 60_000);
      if (status.exitCode !== 0) throw new Error(`init container ${c.name} exited ${status.exitCode}: ${pod.log(c.name).join('\n')}`);
      await opts.cri.removeContainer(id);
      pod.#containers.delete(c.name);
    }
    for (const c of opts.manifest.pod.containers) await pod.#run(c);
    return pod;
  }

  /** What of the runtime belongs to this pod while it runs: its sandbox, containers and uid. */
  runtimeIds(): string[] {
    return [...(this.#sandboxId === undefined ? [] : [this.#sandboxId]), ...this.#containers.values(), this.#opts.uid];
  }

  /** Whether `id` is this pod's sandbox (while it runs). */
  ownsSandbox(id: string): boolean {
    return id === this.#sandboxId;
  }

  get sandboxId(): string {
    if (this.#sandboxId === undefined) throw new Error('pod not started');
    return this.#sandboxId;
  }

  #mounts(c: ManifestContainer): ContainerMount[] {
    const { manifest, hostPath, configMaps, dir } = this.#opts;
    const mounts = (c.volumeMounts ?? []).map((m): ContainerMount => {
      const volume = manifest.pod.volumes?.find((v) => v.name === m.name);
      if (volume?.hostPath !== undefined) return { containerPath: m.mountPath, hostPath: hostPath(volume.hostPath.path), readonly: m.readOnly ?? false, propagation: PROPAGATION[m.mountPropagation ?? 'None'] ?? 'PROPAGATION_PRIVATE' };
      if (volume?.configMap !== undefined) {
        const data = (configMaps ?? manifest.configMaps)[volume.configMap.name] ?? {};
        const files = join(dir, 'configmaps', volume.name);
        mkdirSync(files, { recursive: true });
        for (const item of volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }))) writeFileSync(join(files, item.path), data[item.key] ?? '');
        return { containerPath: m.mountPath, hostPath: files, readonly: true };
      }
      throw new Error(`volume ${m.name} of ${c.name}: only hostPath and configMap volumes are mapped here`);
    });
    const sa = join(dir, 'serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), this.#opts.serviceAccount.token);
    writeFileSync(join(sa, 'ca.crt'), this.#opts.serviceAccount.caPem);
    writeFileSync(join(sa, 'namespace'), this.#opts.namespace);
    return [...mounts, ...(this.#opts.extraMounts ?? []), { containerPath: SERVICE_ACCOUNT_PATH, hostPath: sa, readonly: true }];
  }

  #env(c: ManifestContainer): Record<string, string> {
    const env: Record<string, string> = { ...this.#opts.serviceEnv };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = this.#opts.nodeName;
      else throw new Error(`env ${e.name} of ${c.name}: only values and fieldRef spec.nodeName are mapped here`);
    }
    return env;
  }

  async #run(c: ManifestContainer): Promise<string> {
    const config: ContainerConfig = {
      name: c.name,
      image: this.#opts.image,
      ...(c.command === undefined ? {} : { command: c.command }),
      args: [...(c.args ?? []), ...(this.#opts.extraArgs?.[c.name] ?? [])],
      env: this.#env(c),
      mounts: this.#mounts(c),
      privileged: c.securityContext?.privileged === true,
      logPath: `${c.name}.log`,
    };
    const id = await this.#opts.cri.createContainer(this.sandboxId, this.#sandbox, config);
    this.#containers.set(c.name, id);
    await this.#opts.cri.startContainer(id);
    return id;
  }

  status(name: string): Promise<ContainerStatus> {
    const id = this.#containers.get(name);
    if (id === undefined) throw new Error(`no container ${name}`);
    return this.#opts.cri.containerStatus(id);
  }

  async waitExited(name: string, timeoutMs: number): Promise<ContainerStatus> {
    let state = '';
    const exited = async (): Promise<ContainerStatus | undefined> => {
      const status = await this.status(name);
      state = status.state;
      return status.state === 'CONTAINER_EXITED' ? status : undefined;
    };
    return pollUntil(exited, { timeoutMs, everyMs: 100, timedOut: () => new Error(`container ${name} still ${state} after ${timeoutMs} ms: ${this.log(name).slice(-10).join('\n')}`) });
  }

  /** A container's output lines, from the CRI log file (`<time> <stream> <tag> <line>`). */
  log(name: string): string[] {
    try {
      return readFileSync(join(this.#logDir, `${name}.log`), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split(' ').slice(3).join(' '));
    } catch {
      return [];
    }
  }

  /** Its JSON lines (pino's), parsed; other lines skipped. */
  jsonLog(name: string): Array<Record<string, unknown>> {
    return this.log(name).flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /**
   * Kubelet's pod deletion: StopContainer with the grace period (SIGTERM, SIGKILL after it), then
   * the sandbox stopped and removed. Resolves with each container's status once stopped.
   */
  async stop(): Promise<Map<string, ContainerStatus>> {
    const stopped = new Map<string, ContainerStatus>();
    const grace = this.#opts.manifest.pod.terminationGracePeriodSeconds ?? 30;
    for (const [name, id] of this.#containers) {
      await this.#opts.cri.stopContainer(id, grace);
      stopped.set(name, await this.#opts.cri.containerStatus(id));
      await this.#opts.cri.removeContainer(id);
    }
    this.#containers.clear();
    if (this.#sandboxId !== undefined) {
      await this.#opts.cri.stopPodSandbox(this.#sandboxId);
      await this.#opts.cri.removePodSandbox(this.#sandboxId);
      this.#sandboxId = undefined;
    }
    return stopped;
  }
}
