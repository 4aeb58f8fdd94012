import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { loadNetworkConfigFile } from '../cni/network-config.js';
import type { JsonObject } from '../cni/types.js';
import { stringOr } from '../config/daemon-config.js';
import { MULTUS_CONF_NAME, generateMultusConf, masterCandidates, multusConfFile } from '../config/multus-conf-generator.js';
import { waitForReadinessIndicator } from '../actors/readiness.js';
import { removeFile, writeFileAtomic } from '../util/atomic-write.js';
import { pathExists } from '../util/path-exists.js';
import { pollUntil } from '../util/poll.js';

/**
 * Keeps `<cniConfigDir>/00-multus.conf` right (upstream §2.4, minus its bugs): generated from the
 * master CNI config in `multusAutoconfigDir` (or copied from `multusConfigFile`), rewritten when
 * the master changes or another master appears, written atomically and never empty or partial
 * (upstream #1155: a failed generation keeps the previous file). The file stays on shutdown
 * unless `cleanupConfigOnExit` is set: deleting it makes pods scheduled during a daemon restart
 * silently start without their extra networks (upstream #1468, #1527), while a kept file makes
 * the shim wait for the next daemon on /readyz.
 */

export interface ConfigManagerOptions {
  daemon: JsonObject;
  log: Logger;
  /** How long to wait for a master config to appear at start, ms (upstream: 120 tries, 1 s apart). */
  masterWaitMs: number;
  /** How long to wait for `readinessindicatorfile` at start, ms. */
  readinessWaitMs: number;
  /** Called when the readiness indicator file disappears (upstream: remove the conf, exit 2). */
  onReadinessLost: () => void;
}

export interface ConfigManager {
  /** Path of the file the runtime reads. */
  confPath: string;
  stop(): Promise<void>;
}

const POLL_MS = 1000;
const DEBOUNCE_MS = 100;

function waitFor(what: string, deadlineMs: number, probe: () => Promise<string | undefined>): Promise<string> {
  return pollUntil(probe, { timeoutMs: deadlineMs, everyMs: POLL_MS, timedOut: () => new Error(`${what} did not appear within ${deadlineMs} ms`) });
}

/** Start managing 00-multus.conf; resolves once the first file is written. */
export async function startConfigManager(opts: ConfigManagerOptions): Promise<ConfigManager> {
  const { daemon, log } = opts;
  const cniConfigDir = stringOr(daemon, 'cniConfigDir', '/etc/cni/net.d');
  // 00-multus.conf, or 00-multus.conflist for the thin plugin at CNI ≥ 1.0.0 (multusConfFile).
  let confPath = join(cniConfigDir, MULTUS_CONF_NAME);
  const mode = stringOr(daemon, 'multusConfigFile', 'auto');
  const readiness = stringOr(daemon, 'readinessindicatorfile', '');
  const watchers: FSWatcher[] = [];
  let lastWritten = '';

  async function write(conf: JsonObject): Promise<void> {
    const file = multusConfFile(conf);
    const path = join(cniConfigDir, file.name);
    const content = `${JSON.stringify(file.content)}\n`;
    if (path === confPath && content === lastWritten) return;
    await writeFileAtomic(path, content, 0o600);
    // A change of form (the master's version crossed 1.0.0) ends with one file, not two; the new
    // one is in place before the old goes, so a runtime always finds one.
    if (path !== confPath) await removeFile(confPath);
    confPath = path;
    lastWritten = content;
    log.info({ path }, 'wrote the multus CNI config');
  }

  if (readiness !== '') await waitForReadinessIndicator(readiness, opts.readinessWaitMs);

  if (mode !== 'auto') {
    // A user-provided file is copied once, under its own name, as upstream does.
    const target = join(cniConfigDir, basename(mode));
    await writeFileAtomic(target, await readFile(mode, 'utf8'), 0o600);
    log.info({ from: mode, path: target }, 'copied the multus CNI config');
    return { confPath: target, stop: () => Promise.resolve() };
  }

  const autoDir = stringOr(daemon, 'multusAutoconfigDir', '');
  if (autoDir === '') throw new Error('multusConfigFile is "auto" but multusAutoconfigDir is not set');
  const fixedMaster = stringOr(daemon, 'multusMasterCNI', '');

  async function findMaster(): Promise<string | undefined> {
    if (fixedMaster !== '') return (await pathExists(join(autoDir, fixedMaster))) ? join(autoDir, fixedMaster) : undefined;
    const [first] = masterCandidates(await readdir(autoDir).catch(() => []));
    return first === undefined ? undefined : join(autoDir, first);
  }

  async function regenerate(masterPath: string): Promise<void> {
    let master = loadNetworkConfigFile(masterPath);
    const wanted = stringOr(daemon, 'cniVersion', '');
    if (daemon.forceCNIVersion === true && wanted !== '' && master.cniVersion !== wanted) {
      // upstream rewrites the master in place so that both speak the same version.
      const raw = JSON.parse(master.bytes) as JsonObject;
      await writeFileAtomic(masterPath, JSON.stringify({ ...raw, cniVersion: wanted }), 0o600);
      master = loadNetworkConfigFile(masterPath);
    }
    await write(generateMultusConf(daemon, master, masterPath));
  }

  const firstMaster = await waitFor(`a master CNI config (.conf or .conflist) in ${autoDir}`, opts.masterWaitMs, findMaster);
  await regenerate(firstMaster);

  let timer: NodeJS.Timeout | undefined;
  const onChange = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      void findMaster()
        .then(async (masterPath) => {
          if (masterPath === undefined) {
            log.warn({ dir: autoDir }, 'no master CNI config any more; keeping the current multus CNI config');
            return;
          }
          await regenerate(masterPath);
        })
        .catch((err: unknown) => log.error({ err }, 'cannot regenerate the multus CNI config; keeping the current one'));
    }, DEBOUNCE_MS);
  };
  watchers.push(watch(autoDir, onChange));
  if (readiness !== '') {
    watchers.push(
      watch(dirname(readiness), () => {
        void pathExists(readiness).then(async (present) => {
          if (present) return;
          log.error({ path: readiness }, 'readiness indicator file is gone: removing the multus CNI config and exiting');
          await removeFile(confPath);
          opts.onReadinessLost();
        });
      }),
    );
  }
  return {
    get confPath() {
      return confPath;
    },
    async stop() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      if (daemon.cleanupConfigOnExit === true) {
        await removeFile(confPath);
        log.info({ path: confPath }, 'removed the multus CNI config (cleanupConfigOnExit)');
      }
    },
  };
}
