import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/** The hand-written CRI subset (field numbers as upstream's runtime.v1 api.proto). */
export const CRI_PROTO = fileURLToPath(new URL('./fixtures/cri.proto', import.meta.url));

/** PodSandboxMetadata: kubelet sends the pod's own name, namespace and uid. */
export interface SandboxMetadata {
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
}

/** The part of PodSandboxConfig the suite sets (as kubelet does for a pod network pod). */
export interface SandboxConfig {
  metadata: SandboxMetadata;
  hostname?: string;
  logDirectory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Network namespace mode: POD (CNI runs) or NODE (hostNetwork, no CNI). Default POD. */
  network?: 'POD' | 'NODE';
  /** PID namespace: CONTAINER (kubelet's default) or NODE (hostPID). */
  pid?: 'CONTAINER' | 'NODE';
  /** A sandbox for privileged containers (containerd refuses them in any other). */
  privileged?: boolean;
  /** Parent cgroup, cgroupfs syntax (kubelet: `/kubepods/besteffort/pod<uid>`). */
  cgroupParent?: string;
}

/** PodSandboxStatus as decoded (enums as names, int64 as strings). */
export interface SandboxStatus {
  id: string;
  metadata: Required<SandboxMetadata> | null;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  createdAt: string;
  network: { ip: string; additionalIps: Array<{ ip: string }> } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** One ListPodSandbox item. */
export interface SandboxSummary {
  id: string;
  metadata: Required<SandboxMetadata> | null;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A bind mount into a container, as kubelet sends a hostPath volume. */
export interface ContainerMount {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
  propagation?: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
}

/** The part of ContainerConfig the suite sets: what kubelet makes of a pod spec's container. */
export interface ContainerConfig {
  name: string;
  image: string;
  /** The pod spec's `command` (replaces the image's entrypoint) and `args` (its cmd). */
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  mounts?: ContainerMount[];
  privileged?: boolean;
  /** The container's stdout and stderr, relative to the sandbox's log directory. */
  logPath?: string;
}

/** ContainerStatus as decoded. */
export interface ContainerStatus {
  id: string;
  state: 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
  exitCode: number;
  reason: string;
  message: string;
}

/** containerd's verbose PodSandboxStatus `info` JSON, the fields the suite reads. */
export interface SandboxInfo {
  /** The pause process, as seen from the host. */
  pid: number;
  /** The OCI spec runc got: the netns path is in `linux.namespaces`, the cgroup in `cgroupsPath`. */
  runtimeSpec?: { linux?: { cgroupsPath?: string; namespaces?: Array<{ type: string; path?: string }> } };
}

const packageDefinition = loadSync(CRI_PROTO, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });

function method(name: string, service = 'runtime.v1.RuntimeService'): MethodDefinition<object, object> {
  const methods = packageDefinition[service] as Record<string, MethodDefinition<object, object>> | undefined;
  const def = methods?.[name];
  if (def === undefined) throw new Error(`cri.proto has no ${service}/${name}`);
  return def;
}

/** A gRPC error with the runtime's message (`details`) and status code kept. */
export class CriError extends Error {
  constructor(
    readonly rpc: string,
    readonly code: number,
    readonly details: string,
  ) {
    super(`${rpc}: ${details} (grpc code ${code})`);
  }
}

/**
 * A minimal kubelet-side CRI client (RuntimeService v1 over the runtime's unix socket), built on
 * grpc-js and proto-loader with a hand-written proto so the suite talks to a real runtime the way
 * kubelet does, without generated code. Every call has a deadline.
 */
export class CriClient {
  readonly #client: Client;

  constructor(
    socket: string,
    private readonly timeoutMs = 60_000,
  ) {
    this.#client = new Client(`unix://${socket}`, credentials.createInsecure());
  }

  #call<Res>(name: string, request: object, timeoutMs = this.timeoutMs, service?: string): Promise<Res> {
    const def = method(name, service);
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, value?: object) => {
          if (err !== null) reject(new CriError(name, err.code, err.details));
          else resolve(value as Res);
        },
      );
    });
  }

  /** Version: also the readiness probe of the CRI plugin. */
  version(timeoutMs?: number): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    return this.#call('Version', { version: 'v1' }, timeoutMs);
  }

  /** RunPodSandbox with the pod's metadata and annotations; resolves with the sandbox id. */
  async runPodSandbox(config: SandboxConfig): Promise<string> {
    const { metadata } = config;
    const res = await this.#call<{ podSandboxId: string }>('RunPodSandbox', {
      config: {
        metadata: { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid, attempt: metadata.attempt ?? 0 },
        hostname: config.hostname ?? (config.network === 'NODE' ? '' : metadata.name),
        logDirectory: config.logDirectory ?? '',
        labels: { 'io.kubernetes.pod.name': metadata.name, 'io.kubernetes.pod.namespace': metadata.namespace, 'io.kubernetes.pod.uid': metadata.uid, ...config.labels },
        annotations: config.annotations ?? {},
        linux: { cgroupParent: config.cgroupParent ?? '', securityContext: { privileged: config.privileged ?? false, namespaceOptions: { network: config.network ?? 'POD', pid: config.pid ?? 'CONTAINER', ipc: 'POD' } } },
      },
      runtimeHandler: '',
    });
    return res.podSandboxId;
  }

  /**
   * CreateContainer in a sandbox made by runPodSandbox with `sandbox` (kubelet sends the sandbox's
   * config again); the container shares the sandbox's network and PID modes.
   */
  async createContainer(sandboxId: string, sandbox: SandboxConfig, config: ContainerConfig): Promise<string> {
    const res = await this.#call<{ containerId: string }>('CreateContainer', {
      podSandboxId: sandboxId,
      config: {
        metadata: { name: config.name, attempt: 0 },
        image: { image: config.image },
        command: config.command ?? [],
        args: config.args ?? [],
        envs: Object.entries(config.env ?? {}).map(([key, value]) => ({ key, value })),
        mounts: (config.mounts ?? []).map((m) => ({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: m.readonly ?? false, propagation: m.propagation ?? 'PROPAGATION_PRIVATE' })),
        labels: { 'io.kubernetes.container.name': config.name },
        logPath: config.logPath ?? '',
        linux: { securityContext: { privileged: config.privileged ?? false, namespaceOptions: { network: sandbox.network ?? 'POD', pid: sandbox.pid ?? 'CONTAINER', ipc: 'POD' } } },
      },
      sandboxConfig: { metadata: sandbox.metadata, logDirectory: sandbox.logDirectory ?? '', linux: { securityContext: { privileged: sandbox.privileged ?? false } } },
    });
    return res.containerId;
  }

  async startContainer(id: string): Promise<void> {
    await this.#call('StartContainer', { containerId: id });
  }

  /** StopContainer: SIGTERM, then SIGKILL after `timeoutSeconds` (the pod's grace period). */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.#call('StopContainer', { containerId: id, timeout: String(timeoutSeconds) }, (timeoutSeconds + 30) * 1000);
  }

  async removeContainer(id: string): Promise<void> {
    await this.#call('RemoveContainer', { containerId: id });
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    const res = await this.#call<{ status: ContainerStatus }>('ContainerStatus', { containerId: id, verbose: false });
    return res.status;
  }

  /** StopPodSandbox: tears the pod network down (CNI DEL), stops the pause process. */
  async stopPodSandbox(id: string): Promise<void> {
    await this.#call('StopPodSandbox', { podSandboxId: id });
  }

  /** RemovePodSandbox: forgets the sandbox (and DELs again if it was not stopped). */
  async removePodSandbox(id: string): Promise<void> {
    await this.#call('RemovePodSandbox', { podSandboxId: id });
  }

  /** PodSandboxStatus, verbose: the status plus containerd's info (pause pid, netns path). */
  async podSandboxStatus(id: string): Promise<{ status: SandboxStatus; info: SandboxInfo | undefined }> {
    const res = await this.#call<{ status: SandboxStatus; info: Record<string, string> }>('PodSandboxStatus', { podSandboxId: id, verbose: true });
    const raw = res.info.info;
    return { status: res.status, info: raw === undefined ? undefined : (JSON.parse(raw) as SandboxInfo) };
  }

  /** ListPodSandbox, optionally filtered by labels. */
  async listPodSandbox(labelSelector: Record<string, string> = {}): Promise<SandboxSummary[]> {
    const res = await this.#call<{ items: SandboxSummary[] }>('ListPodSandbox', { filter: { labelSelector } });
    return res.items;
  }

  /** ImageService ImageStatus: the image id when the CRI plugin knows `image`, else undefined. */
  async imageId(image: string, timeoutMs?: number): Promise<string | undefined> {
    const res = await this.#call<{ image: { id: string } | null }>('ImageStatus', { image: { image } }, timeoutMs, 'runtime.v1.ImageService');
    return res.image?.id;
  }

  close(): void {
    this.#client.close();
  }
}

/** The sandbox's network namespace path from containerd's verbose info (the OCI spec runc got). */
export function sandboxNetns(info: SandboxInfo | undefined): string | undefined {
  return info?.runtimeSpec?.linux?.namespaces?.find((ns) => ns.type === 'network')?.path;
}
