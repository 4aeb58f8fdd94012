import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiObservations } from '../k8s/protocol.js';
import { createLoopDelayMonitor } from './loop-delay.js';

/**
 * Every metric the daemon exports, in one registry, recorded on the main thread (prom-client
 * registries are per thread). Labels are bounded: command, result, plugin type (the files of the
 * bin dirs), verb, HTTP code; never a pod name or uid.
 */

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const WAIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
/** The longest timer interval Node takes (2^31 − 1 ms, about 25 days). */
const NEVER_MS = 2 ** 31 - 1;

/** The kube worker's state, as the metrics need it. */
export interface KubeGaugeValues {
  connected: boolean;
  restarts: number;
  podsCached: number;
  nadsCached: number;
  eventLoopLagP99Seconds: number;
  certificateExpirySeconds: number | undefined;
}

/** Live values read at scrape time. */
export interface GaugeSources {
  supervisor: () => { actors: number; inflight: number; queued: number; followUps: number };
  pool: () => { threads: number; queueSize: number; utilization: number };
  /** The kube worker's state; undefined without Kubernetes. */
  kube?: () => Promise<KubeGaugeValues>;
  /** The daemon authenticates with a per-node certificate (its expiry is exported). */
  nodeCertificate?: boolean;
}

export function createMetrics(sources: GaugeSources) {
  const registry = new Registry();
  // prom-client's nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds come from a
  // sampler that wakes the main thread every 10 ms for good: most of an idle daemon's CPU (2–3 ms
  // a second here). Its interval is made one that never comes and those seven are dropped;
  // multus_main_eventloop_lag_p99_seconds samples while requests come. nodejs_eventloop_lag_seconds
  // (one setImmediate per scrape) stays.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: NEVER_MS });
  for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) registry.removeSingleMetric(`nodejs_eventloop_lag_${stat}_seconds`);
  const registers = [registry];

  const cniRequest = new Histogram({
    name: 'multus_cni_request_duration_seconds',
    help: 'CNI requests served on the socket, from decoding to the answer, by command and result',
    labelNames: ['command', 'result'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const delegate = new Histogram({
    name: 'multus_delegate_duration_seconds',
    help: 'One delegate plugin run (spawn to exit), by plugin type, command and result',
    labelNames: ['plugin', 'command', 'result'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const poolWait = new Histogram({
    name: 'multus_pool_wait_seconds',
    help: 'Time a plugin run waited for a delegate pool slot',
    buckets: WAIT_BUCKETS,
    registers,
  });
  // One worker round trip per scrape, shared by the kube gauges below and this histogram: the
  // requests the worker has not sent yet come with its answer (to observeKubeRequests).
  const kube = sources.kube;
  let pending: Promise<KubeGaugeValues> | undefined;
  const readKube = (source: () => Promise<KubeGaugeValues>): Promise<KubeGaugeValues> => {
    pending ??= source().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  const kubeRequest = new Histogram({
    name: 'multus_k8s_request_duration_seconds',
    help: 'Kubernetes API requests of the kube worker, by verb and HTTP code (0: no answer)',
    labelNames: ['verb', 'code'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
    async collect() {
      if (kube !== undefined) await readKube(kube);
    },
  });
  /** The kube worker's batches of finished API requests. */
  const observeKubeRequests = (batch: ApiObservations): void => {
    for (const [verb, code, seconds] of batch) kubeRequest.observe({ verb, code }, seconds);
  };
  // Upstream's only metric, kept for existing dashboards.
  const serverRequests = new Counter({
    name: 'multus_server_request_total',
    help: 'HTTP requests on the daemon socket, by handler, status code and method',
    labelNames: ['handler', 'code', 'method'] as const,
    registers,
  });
  const deletesAbandoned = new Counter({
    name: 'multus_delegate_deletes_abandoned_total',
    help: 'Delegate DELs given up: after deleteAttempts failed attempts, or at CNI GC (its IP may stay allocated)',
    labelNames: ['reason'] as const,
    registers,
  });
  const kubeWorkerRestarts = new Counter({
    name: 'multus_kube_worker_restarts_total',
    help: 'Times the kube worker thread died (an uncaught error, out of memory) and was started again',
    registers,
  });
  for (const command of ['ADD', 'DEL', 'CHECK']) for (const result of ['ok', 'error']) cniRequest.zero({ command, result });
  for (const reason of ['attempts', 'gc']) deletesAbandoned.inc({ reason }, 0);

  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers, collect() { this.set(read()); } });
  };
  gauge('multus_actors', 'Pod actors alive (pods with work queued or running)', () => sources.supervisor().actors);
  gauge('multus_inflight_requests', 'CNI requests accepted and not yet answered', () => sources.supervisor().inflight);
  gauge('multus_mailbox_depth', 'Operations queued or running over all pod mailboxes', () => sources.supervisor().queued);
  gauge('multus_followups', 'Network-status writes after an answered ADD: queued, running, or waiting to retry', () => sources.supervisor().followUps);
  // prom-client's nodejs_eventloop_lag_* include the 10 ms sampling interval; this one does
  // not, and samples only while requests come (mainLoopBusy).
  const mainLoop = createLoopDelayMonitor();
  gauge('multus_main_eventloop_lag_p99_seconds', 'Event-loop delay p99 of the main thread since the last scrape', () => mainLoop.p99Seconds());
  gauge('multus_pool_threads', 'Delegate pool worker threads', () => sources.pool().threads);
  gauge('multus_pool_queue_size', 'Plugin runs waiting for a delegate pool slot', () => sources.pool().queueSize);
  gauge('multus_pool_utilization', 'Delegate pool utilization (0..1, piscina estimate)', () => sources.pool().utilization);

  if (kube !== undefined) {
    const kubeGauge = (name: string, help: string, pick: (s: KubeGaugeValues) => number): void => {
      new Gauge({ name, help, registers, async collect() { this.set(pick(await readKube(kube))); } });
    };
    kubeGauge('multus_informer_connected', '1 when every informer watch is connected', (s) => (s.connected ? 1 : 0));
    kubeGauge('multus_informer_restarts', 'Informer restarts since start (errors and watchdog)', (s) => s.restarts);
    kubeGauge('multus_informer_cached_pods', 'Pods of this node in the informer cache', (s) => s.podsCached);
    kubeGauge('multus_informer_cached_nads', 'NetworkAttachmentDefinitions in the informer cache', (s) => s.nadsCached);
    kubeGauge('multus_kube_eventloop_lag_p99_seconds', 'Event-loop delay p99 of the kube worker thread since the last scrape', (s) => s.eventLoopLagP99Seconds);
    // Alert on time() > this − margin: a rotation that keeps failing shows here before requests fail.
    if (sources.nodeCertificate === true) kubeGauge('multus_client_certificate_expiration_timestamp_seconds', 'When the per-node client certificate in use expires (Unix time)', (s) => s.certificateExpirySeconds ?? 0);
  }
  return { registry, mainLoopBusy: () => mainLoop.busy(), cniRequest, delegate, poolWait, observeKubeRequests, serverRequests, deletesAbandoned, kubeWorkerRestarts };
}

export type Metrics = ReturnType<typeof createMetrics>;
