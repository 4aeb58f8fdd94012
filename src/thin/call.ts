/**
 * One thin-plugin CNI call other than VERSION (multus.ts answers that before loading this):
 * read stdin, run the operation in-process, print the result or the CNI error.
 */
import { readSync } from 'node:fs';
import type { Logger } from 'pino';
import { runOperation } from '../actors/operations.js';
import type { OperationContext } from '../actors/pod-operations.js';
import { createRunner } from '../cni/runner.js';
import { execNetnsIp, execPlugin, netnsIpVia, spawnHere, type ProcessRunner } from '../cni/exec.js';
import { inheritedSpawnerRunner } from '../cni/spawner-client.js';
import { convertResult } from '../cni/result.js';
import type { JsonObject } from '../cni/types.js';
import { stringOr } from '../config/daemon-config.js';
import { parseTunables } from '../config/env.js';
import { pluginDirs } from '../config/multus-conf.js';
import { CNI_ERR, CniError, toCniErrorBody } from '../errors.js';
import type { KubeService } from '../k8s/kube-service.js';
import type { KubeAccess, KubeLog } from '../k8s/protocol.js';
import type { RestCredentials } from '../k8s/simple-kubeconfig.js';
import { silentLogger, writesNothing } from '../logging/silent-logger.js';
import { cniRequestFrom, parseStdinConfig, type CniRequest } from '../server/request.js';
import { answerAndExit } from './answer.js';

/**
 * The runtime's stdin, to its end, with blocking reads of fd 0: `process.stdin` first builds a
 * socket and streams over the pipe (about 3 ms of every call, measured). A stdin the runtime
 * left non-blocking (EAGAIN) is read on as a stream, after what was already read.
 */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  const buffer = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buffer);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      break;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The config's logging keys; upstream's thin plugin logs nothing below `panic` unless asked (and then pino is not loaded). */
async function loggerFor(conf: JsonObject): Promise<Logger> {
  const level = stringOr(conf, 'logLevel', 'panic');
  if (writesNothing(level)) return silentLogger;
  const { createLogger } = await import('../logging/logger.js');
  return createLogger({ level, file: stringOr(conf, 'logFile', ''), toStderr: conf.logToStderr === true });
}

/** What a thin ADD uses of Kubernetes, and closing it before the process exits. */
type ThinKube = KubeAccess & { stop(): Promise<void> };

/** client-node's KubeService, loaded and started: for kubeconfigs the small client does not handle, and DRA. */
async function fullKube(kubeconfig: string, timeoutMs: number, kubeLog: (line: KubeLog) => void): Promise<KubeService> {
  const { KubeService } = await import('../k8s/kube-service.js');
  const kube = new KubeService();
  try {
    await kube.start({ kubeconfig, nodeName: '', requestTimeoutMs: timeoutMs, watchdogMs: timeoutMs, syncTimeoutMs: 0, informers: false }, kubeLog, () => undefined);
  } catch (err) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, `cannot use kubeconfig ${kubeconfig}: ${(err as Error).message}`);
  }
  return kube;
}

/**
 * Kubernetes only where a command consults it (ADD plans from the pod and its NADs and writes
 * network-status), and only with a kubeconfig. DEL, CHECK, STATUS and GC never touch it. An ADD
 * with a kubeconfig our thin entrypoint writes (JSON; a token or a client certificate) uses a
 * small client of its own (rest-kube.ts); loading @kubernetes/client-node took most of a thin
 * ADD. Other kubeconfigs (YAML, exec plugins...) and DRA lookups load client-node.
 */
async function kubeFor(req: CniRequest, log: Logger, timeoutMs: number): Promise<ThinKube | undefined> {
  const kubeconfig = req.conf.raw.kubeconfig;
  if (req.command !== 'ADD' || typeof kubeconfig !== 'string' || kubeconfig === '') return undefined;
  const kubeLog = log.child({ component: 'kube' });
  const logLine = (line: KubeLog): void => kubeLog[line.level](line.fields, line.msg);
  // Loaded here, not at the top: node:https and its TLS stack cost every other command too.
  const [{ readSimpleKubeconfig }, { RestKube }] = await Promise.all([import('../k8s/simple-kubeconfig.js'), import('../k8s/rest-kube.js')]);
  let creds: RestCredentials | undefined;
  try {
    creds = readSimpleKubeconfig(kubeconfig);
  } catch (err) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, `cannot use kubeconfig ${kubeconfig}: ${(err as Error).message}`);
  }
  if (creds === undefined) return fullKube(kubeconfig, timeoutMs, logLine);
  let dra: KubeService | undefined;
  return new RestKube(creds, timeoutMs, logLine, {
    draDevices: async (pod) => (dra ??= await fullKube(kubeconfig, timeoutMs, logLine)).draDevices(pod),
    stop: async () => dra?.stop(),
  });
}

/**
 * How this call starts plugins: through the spawner the launcher started it with (`multus-spawner
 * --thin` hands it a socket as MULTUS_SPAWNER_FD), else from this process. Taken out of the
 * environment the plugins get.
 */
function processRunner(): ProcessRunner {
  const fd = process.env.MULTUS_SPAWNER_FD;
  delete process.env.MULTUS_SPAWNER_FD;
  return fd !== undefined && /^\d+$/.test(fd) ? inheritedSpawnerRunner(Number(fd)) : spawnHere;
}

/** The daemon's outcome-line fields, so one log reader serves both plugins. */
function logFields(req: CniRequest | undefined): Record<string, unknown> {
  return { cmd: req?.command, pod: req?.pod === undefined ? undefined : `${req.pod.namespace}/${req.pod.name}`, sandbox: req?.containerId.slice(0, 12) };
}

/** One CNI call, start to end; returns what goes to stdout. */
async function handle(stdinText: string): Promise<{ stdout: string; code: number }> {
  // The launcher's compile cache is this plugin's; the delegates it spawns get process.env.
  delete process.env.NODE_COMPILE_CACHE;
  let version = '1.1.0';
  let log: Logger | undefined;
  let kube: ThinKube | undefined;
  let req: CniRequest | undefined;
  try {
    const stdin = parseStdinConfig(stdinText);
    if (typeof stdin.cniVersion === 'string') version = stdin.cniVersion;
    req = cniRequestFrom(process.env, stdin, {});
    log = await loggerFor(stdin);
    const tunables = parseTunables();
    const run = processRunner();
    kube = await kubeFor(req, log, tunables.apiTimeoutMs);
    const ctx: OperationContext = {
      kube,
      log,
      readinessTimeoutMs: tunables.readinessTimeoutMs,
      devices: { podResourcesSocket: tunables.podResourcesSocket, checkpointFile: tunables.deviceCheckpointFile },
      deviceInfoDir: tunables.deviceInfoDir,
      // One request per process, with the runtime's own timeout: no deadline of ours, no other
      // mailbox. It exits once it has answered: a retry later would never run.
      signal: new AbortController().signal,
      retryLater: undefined,
      inPodMailbox: (_pod, job) => job(),
      // No metrics in a one-shot process: the warning event and the log line report it.
      deleteAbandoned: () => undefined,
      netnsIp: netnsIpVia((task) => execNetnsIp(task, run), tunables.delegateTimeoutMs),
      runner: createRunner({ run: (task) => execPlugin(task, run), cniDir: req.conf.cniDir, binDirs: pluginDirs(req.conf, process.env.CNI_PATH ?? ''), timeoutMs: tunables.delegateTimeoutMs, chrootDir: '' }),
    };
    const outcome = await runOperation(req, ctx);
    // Upstream's thin plugin writes network-status before it answers; so does this one.
    await outcome.after?.();
    log.info({ ...logFields(req), networks: outcome.networks, result: 'ok' }, 'CNI request done');
    return { stdout: outcome.result === undefined ? '' : JSON.stringify(convertResult(outcome.result, req.conf.cniVersion)), code: 0 };
  } catch (err) {
    const body = toCniErrorBody(err, version);
    log?.error({ ...logFields(req), result: 'error', err: body }, 'CNI request failed');
    return { stdout: JSON.stringify(body), code: 1 };
  } finally {
    await kube?.stop();
  }
}

/** Read stdin, handle the call, print its answer and exit with its code. */
export async function runCall(): Promise<void> {
  const { stdout, code } = await handle(await readStdin());
  answerAndExit(stdout, code);
}
