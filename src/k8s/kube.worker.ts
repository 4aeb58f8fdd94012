/**
 * Kube worker thread entry: the watch loop and its caches live here, behind comlink, so that
 * pod churn on the main thread can never stall the watch (design.md §2).
 */
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { KubeService } from './kube-service.js';

if (parentPort === null) throw new Error('kube.worker must run as a worker thread');
Comlink.expose(new KubeService(), nodeEndpoint(parentPort));
