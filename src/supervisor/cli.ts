/**
 * `multus-daemon`'s command line, loaded by main.ts once the runtime is known to fit: flags,
 * config, logger, start, signals. Upstream's flags:
 * `-config <file>` (also `--config`, `-config=<file>`) and `-version`. Subcommands: `install`
 * (the init container) and `thin` (the thin DaemonSet's container).
 */
import type { Logger } from 'pino';
import { DEFAULT_DAEMON_CONFIG_PATH, loadDaemonConfig, parseDaemonConfig, type DaemonConfig } from '../config/daemon-config.js';
import { parseTunables } from '../config/env.js';
import { createLogger } from '../logging/logger.js';
import { compileCacheStatus } from '../util/compile-cache.js';
import { startConfigManager, type ConfigManager } from './config-manager.js';
import { startDaemon } from './daemon.js';
import { runInstall } from './install.js';
import { PACKAGE } from './package-info.js';
import { startThinEntrypoint } from './thin-entrypoint.js';
import { THIN_FLAG_DEFAULTS, parseThinFlags } from './thin-flags.js';

interface Cli {
  /** Undefined when not given. */
  configPath: string | undefined;
  version: boolean;
  /** `thin` only: upstream's thin_entrypoint flags, in order (see thin-flags.ts). */
  thinFlags: string[];
}

function parseCli(argv: readonly string[], thin: boolean): Cli {
  const cli: Cli = { configPath: undefined, version: false, thinFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '-config' || flag === '--config') {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new Error(`${flag} needs a file path`);
      cli.configPath = value;
    } else if (flag === '-version' || flag === '--version' || flag === '-v') {
      cli.version = true;
    } else if (thin) {
      cli.thinFlags.push(arg);
    } else {
      throw new Error(`unknown argument ${JSON.stringify(arg)}; usage: multus-daemon [-config <daemon-config.json>] [-version] | multus-daemon thin [-config <daemon-config.json>] [--<thin_entrypoint flag>...] | multus-daemon install [-d <cni bin dir>] [-t thick|thin] | multus-daemon explain …`);
    }
  }
  return cli;
}

/**
 * The thin container's config: upstream's thin_entrypoint defaults, then the `-config` file if
 * given (our manifest's ConfigMap), then upstream's flags (upstream's manifest).
 */
async function thinConfig(cli: Cli): Promise<DaemonConfig> {
  const file = cli.configPath === undefined ? {} : (await loadDaemonConfig(cli.configPath)).raw;
  return parseDaemonConfig({ ...THIN_FLAG_DEFAULTS, ...file, ...parseThinFlags(cli.thinFlags) }, 'thin entrypoint flags');
}

/**
 * SIGTERM/SIGINT: stop gracefully (the daemon drains in-flight requests); a second signal means
 * the operator wants out now.
 */
function stopOnSignal(log: Logger, stop: () => Promise<void>, what: string): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, `shutting down: ${what}`);
    stop().then(
      () => {
        log.info('multus-daemon stopped');
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'install') {
    await runInstall(process.argv.slice(3));
    return;
  }
  if (process.argv[2] === 'explain') {
    // Loaded only for this command: the daemon itself never needs it on its main thread.
    const { runExplain } = await import('../explain/cli.js');
    const { stdout, stderr, code } = await runExplain(process.argv.slice(3));
    process.stderr.write(stderr);
    process.stdout.write(stdout, () => process.exit(code));
    return;
  }
  // `thin`: the thin DaemonSet's container (kubeconfig + 00-multus.conf for the `multus` plugin).
  const thin = process.argv[2] === 'thin';
  const cli = parseCli(process.argv.slice(thin ? 3 : 2), thin);
  if (cli.version) {
    process.stdout.write(`multus-daemon: version:${PACKAGE.version}\n`);
    return;
  }
  const config = thin ? await thinConfig(cli) : await loadDaemonConfig(cli.configPath ?? DEFAULT_DAEMON_CONFIG_PATH);
  const tunables = parseTunables();
  // In the thin DaemonSet, logFile/logLevel are the plugin's (they pass into 00-multus.conf, and
  // the plugin runs on the host); the container itself logs to stderr, for kubectl logs.
  const log = createLogger(thin ? { level: config.logLevel, file: '', toStderr: true } : { level: config.logLevel, file: config.logFile, toStderr: config.logToStderr });
  log.info({ node: process.versions.node, compileCache: compileCacheStatus(), optimizingJit: tunables.optimizingJit }, 'runtime');
  const managerOptions = {
    log: log.child({ component: 'config-manager' }),
    masterWaitMs: tunables.masterWaitMs,
    readinessWaitMs: tunables.readinessTimeoutMs,
    onReadinessLost: () => {
      log.flush();
      process.exit(2);
    },
  };
  if (thin) {
    const entrypoint = await startThinEntrypoint({ ...managerOptions, daemon: config.raw });
    log.info({ conf: entrypoint.confPath, kubeconfig: entrypoint.kubeconfigHostPath }, 'thin plugin configured');
    stopOnSignal(log, () => entrypoint.stop(), 'no longer managing the thin plugin config');
    return;
  }
  // 00-multus.conf is managed when the config says where it comes from (upstream's ConfigMap
  // always does); the manager then watches the readiness indicator, so requests need not.
  const managed = typeof config.raw.multusAutoconfigDir === 'string' || (typeof config.raw.multusConfigFile === 'string' && config.raw.multusConfigFile !== 'auto');
  const { readinessindicatorfile: _watchedByManager, ...perRequest } = config.raw;
  const daemon = await startDaemon({ config: managed ? { ...config, raw: perRequest } : config, tunables, log, cniPath: process.env.CNI_PATH ?? '' });
  let manager: ConfigManager | undefined;
  if (managed) {
    manager = await startConfigManager({ ...managerOptions, daemon: config.raw });
  } else {
    log.info('no multusAutoconfigDir or multusConfigFile: not managing 00-multus.conf');
  }
  stopOnSignal(
    log,
    async () => {
      await daemon.stop();
      await manager?.stop();
    },
    'readyz now answers 500, finishing in-flight requests',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`multus-daemon: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
