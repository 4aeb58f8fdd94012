import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from '../../src/util/poll.js';
import { containerdConfig, type ContainerdLayout } from './containerd-config.js';
import { CriClient } from './cri-client.js';
import { existingHostSideDirs, LIBCNI_CACHE, removeNewHostSideDirs, SHIM_SOCKETS } from './host-side-dirs.js';
import { buildPauseImage } from './pause-image.js';

/** What the test bed asks of the runtime. */
export interface ContainerdOptions {
  /** An empty dir of its own (root, state, sockets, logs live here). */
  dir: string;
  /** The CNI conf dir containerd reads (the caller writes 00-multus.conf there). */
  cniConfDir: string;
  /** The CNI bin dir (multus-shim, Debian's plugins). */
  cniBinDir: string;
  /** Unique per run: the image tag and the cgroup parent of every sandbox. */
  runId: string;
  /** Extra environment for containerd; libcni hands containerd's environment on to every plugin. */
  env?: Record<string, string>;
}

/** A process' argv from /proc, or undefined when it is gone. */
function cmdline(pid: string): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

/** Every mount point at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const out = execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.replace(/\\x20/g, ' '))
    .filter((t) => t === dir || t.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** cgroup v1 controller dirs, or the cgroup v2 root: where runc creates a sandbox's cgroup. */
function cgroupRoots(): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  try {
    return readdirSync('/sys/fs/cgroup')
      .map((d) => join('/sys/fs/cgroup', d))
      .filter((d) => statSync(d).isDirectory());
  } catch {
    return [];
  }
}

/** rmdir a cgroup tree depth-first (cgroup files cannot and need not be removed). */
function removeCgroupTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return;
  }
  for (const child of entries) removeCgroupTree(child);
  try {
    rmdirSync(dir);
  } catch {
    // busy (a process still in it) or already gone
  }
}

/**
 * A private containerd (Debian's 1.6, CRI plugin on) for the end-to-end suite: own socket, root,
 * state, runc root and cgroup parent under a temp dir, our CNI conf and bin dirs, and a locally
 * built pause image as the sandbox image. `stop()` removes everything it can find of it — sandboxes
 * (through CRI, so the CNI DELs run), containerd, stray runc containers and shims, mounts,
 * cgroups — even after a failed test.
 */
export class Containerd {
  readonly layout: ContainerdLayout;
  readonly logFile: string;
  readonly cri: CriClient;
  /** cgroupfs parent for every sandbox of this run (removed at stop). */
  readonly cgroupRoot: string;
  #process: ChildProcess | undefined;
  readonly #dir: string;
  readonly #hostDirsBefore: Set<string>;
  readonly #env: Record<string, string>;
  #stopped = false;

  private constructor(opts: ContainerdOptions, snapshotter: ContainerdLayout['snapshotter']) {
    this.#dir = opts.dir;
    this.#env = opts.env ?? {};
    this.layout = {
      root: join(opts.dir, 'root'),
      state: join(opts.dir, 'state'),
      socket: join(opts.dir, 'containerd.sock'),
      runcRoot: join(opts.dir, 'runc'),
      optDir: join(opts.dir, 'opt'),
      cniConfDir: opts.cniConfDir,
      cniBinDir: opts.cniBinDir,
      sandboxImage: `localhost/multus-e2e/pause:${opts.runId}`,
      snapshotter,
    };
    this.logFile = join(opts.dir, 'containerd.log');
    this.cgroupRoot = `/multus-e2e-${opts.runId}`;
    this.cri = new CriClient(this.layout.socket);
    this.#hostDirsBefore = existingHostSideDirs();
  }

  /**
   * Build and import the pause image, start containerd and wait until its CRI plugin answers and
   * knows the image. On any failure everything started so far is stopped before rethrowing.
   */
  static async start(opts: ContainerdOptions): Promise<Containerd> {
    const snapshotter = readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n') ? 'overlayfs' : 'native';
    const bed = new Containerd(opts, snapshotter);
    try {
      await bed.#start();
      return bed;
    } catch (err) {
      await bed.stop();
      throw err;
    }
  }

  async #start(): Promise<void> {
    const l = this.layout;
    for (const d of [l.root, l.state, l.runcRoot, l.optDir]) mkdirSync(d, { recursive: true });
    const image = buildPauseImage(this.#dir, l.sandboxImage);
    const config = join(this.#dir, 'config.toml');
    writeFileSync(config, containerdConfig(l));
    const log = openSync(this.logFile, 'a');
    try {
      this.#process = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log], env: { ...process.env, ...this.#env } });
    } finally {
      closeSync(log);
    }
    const child = this.#process;
    const exited = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`containerd exited (${code ?? signal}) during start-up:\n${this.logTail()}`)));
    });
    exited.catch(() => undefined); // observed below; only its rejection matters
    await Promise.race([this.#waitForCri(), exited]);
    execFileSync('ctr', ['--address', l.socket, '--namespace', 'k8s.io', 'images', 'import', '--snapshotter', l.snapshotter, image.tarball], { stdio: ['ignore', 'pipe', 'pipe'] });
    await Promise.race([this.#waitForImage(l.sandboxImage), exited]);
  }

  async #waitForCri(): Promise<void> {
    let lastError: unknown;
    const answers = async (): Promise<boolean> => {
      if (this.#process?.exitCode !== null || this.#process.signalCode !== null) throw new Error('containerd exited');
      try {
        await this.cri.version(1000);
        return true;
      } catch (err) {
        lastError = err;
        return false;
      }
    };
    await pollUntil(answers, { timeoutMs: 20_000, everyMs: 100, timedOut: () => new Error(`containerd's CRI plugin not answering within 20 s: ${String(lastError)}\n${this.logTail()}`) });
  }

  /**
   * Import an image archive (OCI or docker) into the CRI namespace and wait until the CRI plugin
   * knows it; resolves with the image's name, as `ctr` reports it.
   */
  async importImage(archive: string): Promise<string> {
    const out = execFileSync('ctr', ['--address', this.layout.socket, '--namespace', 'k8s.io', 'images', 'import', '--snapshotter', this.layout.snapshotter, archive], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const name = /^unpacking (\S+) \(sha256:/m.exec(out)?.[1];
    if (name === undefined) throw new Error(`ctr import of ${archive} named no image: ${out}`);
    await this.#waitForImage(name);
    return name;
  }

  /** The CRI plugin learns of imported images from containerd's events, asynchronously. */
  async #waitForImage(ref: string): Promise<void> {
    await pollUntil(() => this.cri.imageId(ref, 2000), { timeoutMs: 10_000, everyMs: 100, timedOut: () => new Error(`the CRI plugin does not see the imported image ${ref}`) });
  }

  /** The PID of containerd itself. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** The last lines of containerd's log (for failure messages). */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no containerd log)';
    }
  }

  /** The cgroup parent to give a pod's sandbox (kubelet's shape: <root>/pod<uid>). */
  cgroupParent(uid: string): string {
    return `${this.cgroupRoot}/pod${uid}`;
  }

  /** runc containers still in our runc root (k8s.io namespace). */
  runcContainers(): string[] {
    const root = join(this.layout.runcRoot, 'k8s.io');
    if (!existsSync(root)) return [];
    try {
      return execFileSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .filter((l) => l !== '');
    } catch {
      return [];
    }
  }

  /** PIDs of containerd-shim-runc-v2 processes serving our containerd, with the sandbox id each serves. */
  shims(): Array<{ pid: number; id: string }> {
    const found: Array<{ pid: number; id: string }> = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      const argv = cmdline(pid);
      if (argv === undefined || !(argv[0] ?? '').endsWith('containerd-shim-runc-v2')) continue;
      const address = argv[argv.indexOf('-address') + 1];
      if (address !== this.layout.socket) continue;
      found.push({ pid: Number(pid), id: argv[argv.indexOf('-id') + 1] ?? '' });
    }
    return found;
  }

  /**
   * Every sandbox id this containerd has mentioned in its log (RunPodSandbox results, failures,
   * Stop/Remove): also the ids of sandboxes whose RunPodSandbox failed, which the client never
   * learns. Used to find this run's entries in host-wide caches.
   */
  sandboxIdsSeen(): Set<string> {
    try {
      return new Set(readFileSync(this.logFile, 'utf8').match(/\b[0-9a-f]{64}\b/g) ?? []);
    } catch {
      return new Set();
    }
  }

  /** containerd's libcni cache entries (`<network>-<sandbox id>-<ifname>`) of this run's sandboxes. */
  cniCacheEntries(): string[] {
    const ids = this.sandboxIdsSeen();
    let names: string[];
    try {
      names = readdirSync(LIBCNI_CACHE);
    } catch {
      return [];
    }
    return names.filter((n) => [...ids].some((id) => n.includes(`-${id}-`))).map((n) => join(LIBCNI_CACHE, n));
  }

  /** Shim sockets of this run's sandboxes still in /run/containerd/s (a killed shim leaves its own). */
  shimSockets(): string[] {
    return [...this.sandboxIdsSeen()].map((id) => this.shimSocket(id)).filter((path) => existsSync(path));
  }

  /** The socket of the shim containerd runs for sandbox `id`. */
  shimSocket(id: string): string {
    return join(SHIM_SOCKETS, createHash('sha256').update(join(this.layout.socket, 'k8s.io', id)).digest('hex'));
  }

  /** cgroup dirs left under this run's cgroup parent (sandbox cgroups runc did not remove). */
  leftoverCgroups(): string[] {
    const left: string[] = [];
    const walk = (dir: string, depth: number): void => {
      let subdirs: string[];
      try {
        subdirs = readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(dir, e.name));
      } catch {
        return;
      }
      // <root>/pod<uid>/<sandbox id>: a leaf at depth 2 is a sandbox cgroup
      if (depth === 2) left.push(dir);
      for (const s of subdirs) walk(s, depth + 1);
    };
    for (const root of cgroupRoots()) walk(join(root, this.cgroupRoot), 0);
    return left;
  }

  /**
   * Tear down in kubelet's order first (StopPodSandbox + RemovePodSandbox for every sandbox, so
   * the CNI DELs reach our daemon while it still runs), then stop containerd by PID (SIGTERM, then
   * SIGKILL), force-delete any runc container and kill any shim of ours still there, unmount what
   * containerd mounted under its dir, remove the run's cgroups, the dir, and the host-side dirs it
   * created. Never throws; idempotent.
   */
  async stop(): Promise<string[]> {
    if (this.#stopped) return [];
    this.#stopped = true;
    const problems: string[] = [];
    const child = this.#process;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        for (const sandbox of await this.cri.listPodSandbox()) {
          try {
            await this.cri.stopPodSandbox(sandbox.id);
            await this.cri.removePodSandbox(sandbox.id);
          } catch (err) {
            problems.push(`removing sandbox ${sandbox.id}: ${String(err)}`);
          }
        }
      } catch (err) {
        problems.push(`listing sandboxes: ${String(err)}`);
      }
    }
    this.cri.close();
    if (child !== undefined) await stopProcess(child, 10_000);

    const runcRoot = join(this.layout.runcRoot, 'k8s.io');
    for (const id of this.runcContainers()) {
      problems.push(`runc container ${id} left behind`);
      try {
        execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
      } catch {
        // reported above
      }
    }
    for (const shim of this.shims()) {
      problems.push(`shim ${shim.pid} (${shim.id}) left behind`);
      try {
        process.kill(shim.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const socket of this.shimSockets()) {
      problems.push(`shim socket ${socket} left behind`);
      rmSync(socket, { force: true });
    }
    for (const entry of this.cniCacheEntries()) {
      problems.push(`libcni cache entry ${entry} left behind`);
      rmSync(entry, { force: true });
    }
    for (let round = 0; round < 3; round++) {
      const mounts = existsSync(this.#dir) ? mountsUnder(this.#dir) : [];
      if (mounts.length === 0) break;
      if (round === 0) problems.push(`mounts left behind: ${mounts.join(' ')}`);
      for (const target of mounts) unmount(target);
    }
    for (const root of cgroupRoots()) removeCgroupTree(join(root, this.cgroupRoot));
    try {
      rmSync(this.#dir, { recursive: true, force: true });
    } catch (err) {
      problems.push(`removing ${this.#dir}: ${String(err)}`);
    }
    // Another file's bed may still use one; the last of them is removed by test/global-setup.ts.
    removeNewHostSideDirs(this.#hostDirsBefore);
    return problems;
  }
}

/**
 * `umount -R`, falling back to a lazy unmount when busy; quiet when nothing is mounted there
 * (a parent's recursive unmount may have taken it already).
 */
export function unmount(target: string): void {
  try {
    execFileSync('umount', ['-R', target], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('umount', ['-l', target], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
}

/** SIGTERM a child, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
