/**
 * Kube worker thread entry: the watch loop and its caches live here, behind comlink, so that
 * pod churn on the main thread can never stall the watch (design.md §2).
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { KubeService } from './kube-service.js';
import type { KubeCall, KubeEvent, KubeOptions, KubeWorkerApi } from './protocol.js';

if (parentPort === null) throw new Error('kube.worker must run as a worker thread');

const service = new KubeService();
/** KubeApi's calls but start, as an object so the compiler refuses a list that misses one (comlink would then answer it "not a function"). */
const CALLS = Object.keys({ getPod: true, getNad: true, nadNamespaces: true, draDevices: true, patchNetworkStatus: true, recordEvent: true, publishNetworkStatus: true, stats: true, stop: true } satisfies Record<KubeCall, true>) as KubeCall[];

/** Each call answered with its value and the API requests finished meanwhile (protocol.ts Answered). */
const answering = Object.fromEntries(
  CALLS.map((name) => [
    name,
    async (...args: unknown[]) => {
      const value: unknown = await (service[name] as (...a: unknown[]) => Promise<unknown>).apply(service, args);
      return { value, observations: service.takeObservations() };
    },
  ]),
) as Omit<KubeWorkerApi, 'start'>;

const api: KubeWorkerApi = {
  ...answering,
  start(opts: KubeOptions, events: MessagePort) {
    const send = (event: KubeEvent): void => events.postMessage(event);
    return service.start(
      opts,
      (line) => send({ log: line }),
      (batch) => send({ observed: batch }),
    );
  },
};
Comlink.expose(api, nodeEndpoint(parentPort));
