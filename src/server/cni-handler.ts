import type { Logger } from 'pino';
import { convertResult } from '../cni/result.js';
import type { JsonObject } from '../cni/types.js';
import { toCniErrorBody } from '../errors.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { decodeDelegateRequest, type DelegateRequest } from './delegate-request.js';
import { decodeCniRequest, type CniRequest } from './request.js';
import type { Reply } from './socket-server.js';

export interface CniHandlerOptions {
  daemonConfig: JsonObject;
  supervisor: Supervisor;
  log: Logger;
  /** Observes each finished request (metrics). */
  onDone?: (info: { command: string; ok: boolean; seconds: number }) => void;
}

/** Best-effort cniVersion of a request we could not decode, for the error's own version field. */
function requestVersion(req: CniRequest | undefined): string {
  return req?.conf.cniVersion ?? '1.0.0';
}

/**
 * POST /cni: decode, hand to the supervisor, answer upstream's way: 200 `{"Result":…}` for ADD
 * (converted here to the stdin's cniVersion, so the native shim can print it as is), 200 with an
 * empty body for the other commands, 400 with a CNI error JSON on failure. One log line per
 * outcome, never the raw config.
 */
export function createCniHandler(opts: CniHandlerOptions): (body: Buffer, clientGone: AbortSignal) => Promise<Reply> {
  return async (body, clientGone) => {
    const started = performance.now();
    let req: CniRequest | undefined;
    try {
      req = decodeCniRequest(body, opts.daemonConfig);
      const { result, networks } = await opts.supervisor.handle(req, clientGone);
      const reply: Reply =
        result === undefined ? { status: 200, body: '' } : { status: 200, body: JSON.stringify({ Result: convertResult(result, req.conf.cniVersion) }) };
      finish(req, started, undefined, networks);
      return reply;
    } catch (err) {
      finish(req, started, err, undefined);
      return { status: 400, body: JSON.stringify(toCniErrorBody(err, requestVersion(req))) };
    }
  };

  function finish(req: CniRequest | undefined, started: number, err: unknown, networks: string[] | undefined): void {
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    const command = req?.command ?? 'unknown';
    opts.onDone?.({ command, ok: err === undefined, seconds: durationMs / 1000 });
    const fields = {
      cmd: command,
      pod: req?.pod === undefined ? undefined : `${req.pod.namespace}/${req.pod.name}`,
      podUid: req?.pod?.uid,
      sandbox: req?.containerId.slice(0, 12),
      ifname: req?.ifname,
      networks,
      durationMs,
      result: err === undefined ? 'ok' : 'error',
    };
    if (err === undefined) opts.log.info(fields, 'CNI request done');
    else opts.log.error({ ...fields, err: toCniErrorBody(err, requestVersion(req)) }, 'CNI request failed');
  }
}

/**
 * POST /delegate (hot-plug): the same answers as /cni, with the delegate's result in CNI 1.1.0
 * (the dynamic-networks controller reads the current result type).
 */
export function createDelegateHandler(opts: CniHandlerOptions): (body: Buffer, clientGone: AbortSignal) => Promise<Reply> {
  return async (body, clientGone) => {
    const started = performance.now();
    let req: DelegateRequest | undefined;
    try {
      req = decodeDelegateRequest(body, opts.daemonConfig);
      const result = await opts.supervisor.handleDelegate(req, clientGone);
      log(req, started, undefined);
      return result === undefined ? { status: 200, body: '' } : { status: 200, body: JSON.stringify({ Result: convertResult(result, '1.1.0') }) };
    } catch (err) {
      log(req, started, err);
      return { status: 400, body: JSON.stringify(toCniErrorBody(err, '1.1.0')) };
    }
  };

  function log(req: DelegateRequest | undefined, started: number, err: unknown): void {
    const fields = {
      cmd: `delegate ${req?.command ?? 'unknown'}`,
      pod: req === undefined ? undefined : `${req.pod.namespace}/${req.pod.name}`,
      sandbox: req?.containerId.slice(0, 12),
      ifname: req?.ifname,
      networks: req === undefined ? undefined : [req.net.name],
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      result: err === undefined ? 'ok' : 'error',
    };
    if (err === undefined) opts.log.info(fields, 'delegate request done');
    else opts.log.error({ ...fields, err: toCniErrorBody(err, '1.1.0') }, 'delegate request failed');
  }
}
