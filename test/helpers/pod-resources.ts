import { Server, ServerCredentials, loadPackageDefinition, type GrpcObject, type ServiceDefinition, type sendUnaryData, type status } from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';

/**
 * A kubelet pod-resources API of the test suite's own: a grpc-js server on a unix socket serving
 * `v1.PodResourcesLister/List`. Its messages are encoded by protobufjs from the upstream field
 * numbers (api.proto of k8s.io/kubelet/pkg/apis/podresources/v1), so the daemon's hand-written
 * decoder is checked against an independent encoder. Fields the daemon ignores (cpu_ids,
 * topology, memory) are filled in, to show they are skipped.
 */
const PROTO: Parameters<typeof fromJSON>[0] = {
  nested: {
    v1: {
      nested: {
        PodResourcesLister: { methods: { List: { requestType: 'ListPodResourcesRequest', responseType: 'ListPodResourcesResponse', comment: '' } } },
        ListPodResourcesRequest: { fields: {} },
        ListPodResourcesResponse: { fields: { pod_resources: { rule: 'repeated', type: 'PodResources', id: 1 } } },
        PodResources: { fields: { name: { type: 'string', id: 1 }, namespace: { type: 'string', id: 2 }, containers: { rule: 'repeated', type: 'ContainerResources', id: 3 } } },
        ContainerResources: {
          fields: {
            name: { type: 'string', id: 1 },
            devices: { rule: 'repeated', type: 'ContainerDevices', id: 2 },
            cpu_ids: { rule: 'repeated', type: 'int64', id: 3 },
            memory: { rule: 'repeated', type: 'ContainerMemory', id: 4 },
          },
        },
        ContainerDevices: { fields: { resource_name: { type: 'string', id: 1 }, device_ids: { rule: 'repeated', type: 'string', id: 2 }, topology: { type: 'TopologyInfo', id: 3 } } },
        ContainerMemory: { fields: { memory_type: { type: 'string', id: 1 }, size: { type: 'uint64', id: 2 } } },
        TopologyInfo: { fields: { nodes: { rule: 'repeated', type: 'NUMANode', id: 1 } } },
        NUMANode: { fields: { ID: { type: 'int64', id: 1 } } },
      },
    },
  },
};

/** One pod as kubelet reports it: resource name → device IDs, per container. */
export interface KubeletPod {
  namespace: string;
  name: string;
  containers: Array<Record<string, string[]>>;
}

/** The running server. */
export interface PodResourcesServer {
  socket: string;
  /** What List() answers from now on. */
  setPods(pods: KubeletPod[]): void;
  /** Answer List() with this gRPC error instead (undefined: answer normally). */
  failWith(code: status | undefined): void;
  /** List() calls so far. */
  calls(): number;
  close(): Promise<void>;
}

function toMessage(pods: readonly KubeletPod[]): unknown {
  return {
    pod_resources: pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      containers: p.containers.map((devices, i) => ({
        name: `c${i}`,
        devices: Object.entries(devices).map(([resource_name, device_ids]) => ({ resource_name, device_ids, topology: { nodes: [{ ID: 0 }] } })),
        cpu_ids: [2, 3],
        memory: [{ memory_type: 'memory', size: 1 << 30 }],
      })),
    })),
  };
}

/** Start serving on `socket` (an absolute path). */
export async function startPodResourcesServer(socket: string): Promise<PodResourcesServer> {
  const pkg = loadPackageDefinition(fromJSON(PROTO, { keepCase: true })) as { v1: GrpcObject };
  const service = (pkg.v1.PodResourcesLister as { service: ServiceDefinition }).service;
  let pods: KubeletPod[] = [];
  let failure: status | undefined;
  let calls = 0;
  const server = new Server();
  server.addService(service, {
    List: (_call: unknown, callback: sendUnaryData<unknown>) => {
      calls++;
      if (failure !== undefined) callback({ code: failure, details: 'kubelet says no' }, null);
      else callback(null, toMessage(pods));
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return {
    socket,
    setPods: (next) => (pods = next),
    failWith: (code) => (failure = code),
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
