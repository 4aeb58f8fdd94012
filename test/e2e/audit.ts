import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, type Containerd } from './containerd.js';

/** Everything a pod's network could leave behind on the host, by kind. Empty lists = clean. */
export interface LeakAudit {
  /** CRI sandboxes containerd still knows. */
  sandboxes: string[];
  /** `<bridge>: <veth>` for every link still enslaved to one of the run's bridges. */
  veths: string[];
  /** host-local reservations (files named by IP) in the run's IPAM data dirs. */
  ipamReservations: string[];
  /** Files in the daemon's cniDir: delegate caches `<id>` and results `results/<net>-<id>-<if>`. */
  daemonCaches: string[];
  /** containerd's own libcni result cache entries (/var/lib/cni/results) of the run's sandboxes. */
  runtimeCniCache: string[];
  /** Sandbox netns: bind mounts in containerd's state dir, and new /var/run/netns/cni-* entries. */
  netns: string[];
  /** runc containers, shims and their sockets, sandbox cgroups, mounts (shm, rootfs) still there. */
  runtime: string[];
}

/** The run's host resources to audit. */
export interface AuditScope {
  containerd: Containerd;
  /** Bridges of the cluster network and of every NAD. */
  bridges: readonly string[];
  /** host-local data dirs of those networks. */
  ipamDirs: readonly string[];
  /** The daemon's cniDir. */
  cniDir: string;
  /**
   * The cniDir is the machine's own (/var/lib/cni/multus: upstream's thin manifest has no way to
   * move it), so only entries of this run's sandboxes are the run's.
   */
  cniDirShared?: boolean;
  /** `ip netns list` names before the bed started (other suites' namespaces are not ours). */
  netnsBefore: ReadonlySet<string>;
  /** What is meant to be running (the DaemonSet's own pod): entries naming any of these are not leaks. */
  alive?: readonly string[];
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** Link names enslaved to `bridge` (none when the bridge does not exist). */
export function bridgePorts(bridge: string): string[] {
  try {
    const out = execFileSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '');
  } catch {
    return [];
  }
}

/** `ip netns list` names. */
export function hostNetns(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/**
 * The leak audit every scenario ends with: after its pods are removed the host must look as it
 * did before — no sandbox, veth, IP reservation, cache file, netns, runc container, shim, cgroup
 * or mount of the run left. Reports instead of asserting, so a failure shows every leak at once.
 */
export async function auditHost(scope: AuditScope): Promise<LeakAudit> {
  const { containerd } = scope;
  const state = containerd.layout.state;
  const netnsDir = join(state, 'io.containerd.grpc.v1.cri', 'netns');
  const alive = scope.alive ?? [];
  const leak = (entry: string): boolean => !alive.some((a) => entry.includes(a));
  return {
    sandboxes: (await containerd.cri.listPodSandbox()).filter((s) => leak(s.id)).map((s) => `${s.id.slice(0, 12)} ${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''} ${s.state}`),
    veths: scope.bridges.flatMap((b) => bridgePorts(b).map((port) => `${b}: ${port}`)),
    ipamReservations: scope.ipamDirs.flatMap((d) => files(d).filter((f) => /\d+\.\d+\.\d+\.\d+$/.test(f)).map((f) => join(d, f))),
    daemonCaches: files(scope.cniDir).filter((f) => scope.cniDirShared !== true || [...containerd.sandboxIdsSeen()].some((id) => f.includes(id))),
    runtimeCniCache: containerd.cniCacheEntries(),
    netns: [...files(netnsDir).map((f) => join(netnsDir, f)), ...hostNetns().filter((n) => n.startsWith('cni-') && !scope.netnsBefore.has(n)).map((n) => `/var/run/netns/${n}`)],
    runtime: [
      ...containerd.runcContainers().map((id) => `runc container ${id}`),
      ...containerd.shims().map((s) => `shim pid ${s.pid} for ${s.id}`),
      ...containerd.shimSockets().map((s) => `shim socket ${s}`),
      ...containerd.leftoverCgroups().map((c) => `cgroup ${c}`),
      ...mountsUnder(state).map((m) => `mount ${m}`),
      ...mountsUnder(containerd.layout.root).map((m) => `mount ${m}`),
    ].filter(leak),
  };
}

/** The audit of a clean host, for `toEqual`. */
export const CLEAN: LeakAudit = { sandboxes: [], veths: [], ipamReservations: [], daemonCaches: [], runtimeCniCache: [], netns: [], runtime: [] };
