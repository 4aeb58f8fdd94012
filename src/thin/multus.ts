#!/usr/bin/env node
/**
 * `multus`: the thin plugin (upstream-behaviour.md §6, `multus-daemonset.yml`). The runtime runs
 * it for every CNI call, like the shim, but it does the daemon's work itself, in-process: the
 * same planning and pod operations (src/actors), the same libcni-style runner, plugins spawned
 * directly instead of through the pool, and the Kubernetes API read with live GETs through the
 * `kubeconfig` named in its config. No daemon, no socket; every call pays Node's start-up.
 */
import type { Logger } from 'pino';
import { runOperation } from '../actors/operations.js';
import type { OperationContext } from '../actors/pod-operations.js';
import { createRunner } from '../cni/runner.js';
import { execNetnsIp, execPlugin, netnsIpVia } from '../cni/exec.js';
import { SUPPORTED_VERSIONS, convertResult } from '../cni/result.js';
import type { JsonObject } from '../cni/types.js';
import { stringOr } from '../config/daemon-config.js';
import { parseTunables } from '../config/env.js';
import { pluginDirs } from '../config/multus-conf.js';
import { CNI_ERR, CniError, toCniErrorBody } from '../errors.js';
import type { KubeService } from '../k8s/kube-service.js';
import { createLogger } from '../logging/logger.js';
import { cniRequestFrom, parseStdinConfig, type CniRequest } from '../server/request.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The config's logging keys; upstream's thin plugin logs nothing below `panic` unless asked. */
function loggerFor(conf: JsonObject): Logger {
  return createLogger({ level: stringOr(conf, 'logLevel', 'panic'), file: stringOr(conf, 'logFile', ''), toStderr: conf.logToStderr === true });
}

/**
 * Kubernetes only where a command consults it (ADD plans from the pod and its NADs and writes
 * network-status), and only with a kubeconfig: importing client-node costs a large part of a
 * call, so DEL, CHECK, STATUS and GC never load it.
 */
async function kubeFor(req: CniRequest, log: Logger, timeoutMs: number): Promise<KubeService | undefined> {
  const kubeconfig = req.conf.raw.kubeconfig;
  if (req.command !== 'ADD' || typeof kubeconfig !== 'string' || kubeconfig === '') return undefined;
  const { KubeService } = await import('../k8s/kube-service.js');
  const kube = new KubeService();
  const kubeLog = log.child({ component: 'kube' });
  try {
    await kube.start({ kubeconfig, nodeName: '', requestTimeoutMs: timeoutMs, watchdogMs: timeoutMs, syncTimeoutMs: 0, informers: false }, (line) => kubeLog[line.level](line.fields, line.msg), () => undefined);
  } catch (err) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, `cannot use kubeconfig ${kubeconfig}: ${(err as Error).message}`);
  }
  return kube;
}

/** The daemon's outcome-line fields, so one log reader serves both plugins. */
function logFields(req: CniRequest | undefined): Record<string, unknown> {
  return { cmd: req?.command, pod: req?.pod === undefined ? undefined : `${req.pod.namespace}/${req.pod.name}`, sandbox: req?.containerId.slice(0, 12) };
}

/** One CNI call, start to end; returns what goes to stdout. */
async function handle(stdinText: string): Promise<{ stdout: string; code: number }> {
  // The launcher's compile cache is this plugin's; the delegates it spawns get process.env.
  delete process.env.NODE_COMPILE_CACHE;
  if (process.env.CNI_COMMAND === 'VERSION') {
    return { stdout: JSON.stringify({ cniVersion: '1.1.0', supportedVersions: SUPPORTED_VERSIONS }), code: 0 };
  }
  let version = '1.1.0';
  let log: Logger | undefined;
  let kube: KubeService | undefined;
  let req: CniRequest | undefined;
  try {
    const stdin = parseStdinConfig(stdinText);
    if (typeof stdin.cniVersion === 'string') version = stdin.cniVersion;
    req = cniRequestFrom(process.env, stdin, {});
    log = loggerFor(stdin);
    const tunables = parseTunables();
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
      netnsIp: netnsIpVia(execNetnsIp, tunables.delegateTimeoutMs),
      runner: createRunner({ run: execPlugin, cniDir: req.conf.cniDir, binDirs: pluginDirs(req.conf, process.env.CNI_PATH ?? ''), timeoutMs: tunables.delegateTimeoutMs, chrootDir: '' }),
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

const { stdout, code } = await handle(await readStdin());
process.stdout.write(stdout, () => process.exit(code));
