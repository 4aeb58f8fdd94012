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
const CALLS: readonly KubeCall[] = ['getPod', 'getNad', 'nadNamespaces', 'draDevices', 'patchNetworkStatus', 'recordEvent', 'publishNetworkStatus', 'stats', 'stop'];

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
