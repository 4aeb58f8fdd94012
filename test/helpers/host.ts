import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Host resources a test creates (network namespaces, links, temp dirs), named uniquely per run
 * so parallel test files never collide, and all removed by cleanup() even after a failure.
 */
export class TestHost {
  /** 4 hex chars, unique enough between concurrent test files on one machine. */
  readonly id = randomBytes(2).toString('hex');
  readonly dir: string;
  #netns: string[] = [];
  #links: string[] = [];
  #counter = 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), `multus-test-${this.id}-`));
  }

  /** A name unique to this run: `<prefix><id><n>`, at most 15 characters (link names). */
  name(prefix: string): string {
    return `${prefix}${this.id}${this.#counter++}`;
  }

  /** Create a network namespace; returns its name and path. */
  netns(): { name: string; path: string } {
    const name = `mt-${this.name('ns')}`;
    execFileSync('ip', ['netns', 'add', name]);
    this.#netns.push(name);
    return { name, path: `/var/run/netns/${name}` };
  }

  /** Remember a host link (bridge, veth) to delete at cleanup. */
  link(name: string): string {
    this.#links.push(name);
    return name;
  }

  /** `ip` inside a namespace, output as text. */
  inNetns(netns: string, ...args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', netns, 'ip', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Whether a host link exists. */
  hostLinkExists(name: string): boolean {
    try {
      execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  /** Host interfaces enslaved to a bridge (veths of pods attached to it). */
  linksOnBridge(bridge: string): string[] {
    const out = execFileSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' });
    return out.split('\n').filter((l) => l.trim() !== '').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '');
  }

  /** Delete a namespace now (as a runtime does after StopPodSandbox). */
  deleteNetns(name: string): void {
    execFileSync('ip', ['netns', 'del', name]);
    this.#netns = this.#netns.filter((n) => n !== name);
  }

  cleanup(): void {
    for (const ns of this.#netns) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    for (const link of this.#links) {
      try {
        execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    this.#netns = [];
    this.#links = [];
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}
