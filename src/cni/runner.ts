import { CNI_ERR, CniError } from '../errors.js';
import type { DelegateOutcome, DelegateTask } from '../workers/protocol.js';
import { formatCniArgs } from './args.js';
import { compareVersions, convertResult, toCanonicalResult, type CniResult } from './result.js';
import { listCachedAttachments, loadCachedResult, removeCachedResult, saveCachedResult } from './result-cache.js';
import type { NetworkConfig, PluginConf } from './types.js';

/**
 * Executes one network config list the way libcni does for a runtime (CNI-13..18): plugins in
 * order for ADD/CHECK, reverse for DEL, `cniVersion`/`name` injected, runtimeConfig filtered by
 * declared capabilities, prevResult converted to the list's version, the final result cached.
 * Each plugin run goes to the delegate pool; this module only sequences and interprets.
 */

/** The per-attachment parameters a runtime would put into libcni's RuntimeConf. */
export interface Attachment {
  containerId: string;
  netns: string;
  ifname: string;
  cniArgs: Array<[string, string]>;
  /** Values for capabilities (portMappings, ips, mac, ...); each goes only to plugins declaring it. */
  capabilityArgs: Record<string, unknown>;
}

/** One (container, interface) pair the runtime still uses (GC's valid list). */
export interface ValidAttachment {
  containerID: string;
  ifname: string;
}

/** Observes each plugin run (for debug logs and metrics), on the main thread. */
export type PluginRunObserver = (info: { plugin: string; command: string; network: string; outcome: DelegateOutcome }) => void;

export interface RunnerOptions {
  run: (task: DelegateTask) => Promise<DelegateOutcome>;
  cniDir: string;
  binDirs: string[];
  timeoutMs: number;
  /** Run plugins chrooted here (bin dirs are then paths inside it); empty for none. */
  chrootDir: string;
  observe?: PluginRunObserver;
}

/** Build the stdin of one plugin of a list (CNI-18). */
export function pluginStdin(net: NetworkConfig, plugin: PluginConf, capabilityArgs: Record<string, unknown>, prevResult: CniResult | undefined): string {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: net.cniVersion, name: net.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, enabled] of Object.entries(plugin.capabilities ?? {})) {
    if (enabled === true && capabilityArgs[cap] !== undefined) runtimeConfig[cap] = capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  else delete conf.runtimeConfig;
  if (prevResult !== undefined) conf.prevResult = convertResult(prevResult, net.cniVersion);
  else delete conf.prevResult;
  return JSON.stringify(conf);
}

/**
 * The cause of a failure that is the daemon's, not the plugin's (`DelegateOutcome.daemonSide`).
 * A CniError, so that it does not count as a programming error (isUnexpected).
 */
export class DaemonSideFailure extends CniError {}

/** True when `err` (a CniError from a run, possibly re-wrapped with its cause) is the daemon's fault. */
export function isDaemonSide(err: CniError): boolean {
  return err instanceof DaemonSideFailure || err.cause instanceof DaemonSideFailure;
}

function failure(outcome: DelegateOutcome & { ok: false }, plugin: string, command: string, network: string): CniError {
  const body = outcome.error;
  const cause = outcome.daemonSide === true ? { cause: new DaemonSideFailure(body.code, body.msg) } : undefined;
  return new CniError(body.code, `plugin type="${plugin}" name="${network}" failed (${command}): ${body.msg}`, body.details, cause);
}

/** Create a runner bound to a pool and a cache dir. */
export function createRunner(opts: RunnerOptions) {
  const cniPath = opts.binDirs.join(':');

  /** One plugin run, observed; its outcome as it came. */
  async function execute(net: NetworkConfig, plugin: PluginConf, command: string, env: Record<string, string>, stdin: string): Promise<DelegateOutcome> {
    const task: DelegateTask = { pluginType: plugin.type, binDirs: opts.binDirs, env: { ...env, CNI_COMMAND: command, CNI_PATH: cniPath }, stdin, timeoutMs: opts.timeoutMs };
    if (opts.chrootDir !== '') task.chrootDir = opts.chrootDir;
    const outcome = await opts.run(task);
    opts.observe?.({ plugin: plugin.type, command, network: net.name, outcome });
    return outcome;
  }

  /** One plugin run whose failure is thrown as the plugin's CNI error; resolves to its stdout. */
  async function runPlugin(net: NetworkConfig, plugin: PluginConf, command: string, env: Record<string, string>, stdin: string): Promise<string> {
    const outcome = await execute(net, plugin, command, env, stdin);
    if (!outcome.ok) throw failure(outcome, plugin.type, command, net.name);
    return outcome.stdout;
  }

  function attachmentEnv(a: Attachment): Record<string, string> {
    return { CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns, CNI_IFNAME: a.ifname, CNI_ARGS: formatCniArgs(a.cniArgs) };
  }

  function parseResult(stdout: string, net: NetworkConfig, plugin: string): CniResult {
    try {
      const raw: unknown = stdout.trim() === '' ? null : JSON.parse(stdout);
      return toCanonicalResult(raw, net.cniVersion);
    } catch (err) {
      throw new CniError(CNI_ERR.DECODE, `plugin type="${plugin}" name="${net.name}" returned an unusable result: ${(err as Error).message}; output: ${stdout.slice(0, 256)}`);
    }
  }

  return {
    /** ADD every plugin in order, chaining prevResult; cache and return the final result. */
    async add(net: NetworkConfig, a: Attachment): Promise<CniResult> {
      const env = attachmentEnv(a);
      let prev: CniResult | undefined;
      for (const plugin of net.plugins) {
        const stdout = await runPlugin(net, plugin, 'ADD', env, pluginStdin(net, plugin, a.capabilityArgs, prev));
        prev = parseResult(stdout, net, plugin.type);
      }
      const result = prev ?? { cniVersion: net.cniVersion };
      await this.recache(net, a, result);
      return result;
    },

    /** Replace the cached result of an attachment (after default-route changed its routes). */
    recache(net: NetworkConfig, a: Attachment, result: CniResult): Promise<void> {
      return saveCachedResult(opts.cniDir, net, { containerId: a.containerId, ifName: a.ifname, networkName: net.name, netns: a.netns, cniArgs: a.cniArgs, capabilityArgs: a.capabilityArgs, result });
    },

    /**
     * DEL every plugin in reverse order with the cached result as prevResult (≥ 0.4.0), then drop
     * the cache entry. The first failure stops the list (libcni), leaving the entry for a retry.
     * A plugin that cannot be found (its type refused, or in no bin dir) is skipped: it cannot
     * have run, and failing its DEL would leave the runtime a sandbox it can never remove.
     * Resolves to the types of the plugins skipped.
     */
    async del(net: NetworkConfig, a: Attachment): Promise<string[]> {
      const env = attachmentEnv(a);
      const cached = compareVersions(net.cniVersion, '0.4.0') >= 0 ? loadCachedResult(opts.cniDir, net, a.containerId, a.ifname) : undefined;
      const skipped: string[] = [];
      for (const plugin of [...net.plugins].reverse()) {
        const outcome = await execute(net, plugin, 'DEL', env, pluginStdin(net, plugin, a.capabilityArgs, cached));
        if (outcome.ok) continue;
        if (outcome.pluginNotFound !== true) throw failure(outcome, plugin.type, 'DEL', net.name);
        skipped.push(plugin.type);
      }
      await removeCachedResult(opts.cniDir, net.name, a.containerId, a.ifname);
      return skipped;
    },

    /** CHECK in order against the cached result. Skipped for disableCheck and pre-0.4.0 lists. */
    async check(net: NetworkConfig, a: Attachment): Promise<void> {
      if (net.disableCheck || compareVersions(net.cniVersion, '0.4.0') < 0) return;
      const cached = loadCachedResult(opts.cniDir, net, a.containerId, a.ifname);
      if (cached === undefined) {
        throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, `no cached result for network "${net.name}" container ${a.containerId} interface ${a.ifname}: nothing to CHECK`);
      }
      const env = attachmentEnv(a);
      for (const plugin of net.plugins) {
        await runPlugin(net, plugin, 'CHECK', env, pluginStdin(net, plugin, a.capabilityArgs, cached));
      }
    },

    /** STATUS (CNI 1.1.0): only for lists of version ≥ 1.1.0; the first failure is returned. */
    async status(net: NetworkConfig): Promise<void> {
      if (compareVersions(net.cniVersion, '1.1.0') < 0) return;
      for (const plugin of net.plugins) {
        await runPlugin(net, plugin, 'STATUS', {}, pluginStdin(net, plugin, {}, undefined));
      }
    },

    /**
     * GC (CNI-12, libcni GCNetworkList): DEL every cached attachment of this network that is not
     * valid, then (≥ 1.1.0, unless disableGC) send GC to each plugin. Errors are collected, not
     * short-circuited.
     */
    async gc(net: NetworkConfig, valid: readonly ValidAttachment[]): Promise<Error[]> {
      const errors: Error[] = [];
      const keep = new Set(valid.map((v) => `${v.containerID}\u0000${v.ifname}`));
      for (const entry of await listCachedAttachments(opts.cniDir, net.name)) {
        if (keep.has(`${entry.containerId}\u0000${entry.ifName}`)) continue;
        try {
          await this.del(net, { containerId: entry.containerId, netns: '', ifname: entry.ifName, cniArgs: entry.cniArgs, capabilityArgs: entry.capabilityArgs });
        } catch (err) {
          errors.push(err as Error);
        }
      }
      if (net.disableGC || compareVersions(net.cniVersion, '1.1.0') < 0) return errors;
      for (const plugin of net.plugins) {
        const stdin = JSON.parse(pluginStdin(net, plugin, {}, undefined)) as Record<string, unknown>;
        stdin['cni.dev/valid-attachments'] = valid;
        stdin['cni.dev/attachments'] = valid;
        try {
          await runPlugin(net, plugin, 'GC', {}, JSON.stringify(stdin));
        } catch (err) {
          errors.push(err as Error);
        }
      }
      return errors;
    },
  };
}

/** The runner's interface, for injection. */
export type Runner = ReturnType<typeof createRunner>;
