/**
 * Kubelet's pod-resources API (v1 `PodResourcesLister.List`, upstream §4.6): the device IDs
 * kubelet allocated to a pod's containers, by resource name. grpc-js is imported only when a
 * pod actually needs device IDs, so daemons on nodes without devices never load it.
 *
 * The messages are decoded by hand: the daemon reads five fields of one response, and a
 * decoder of that size spares a .proto file in dist/ and a protobuf runtime in memory. Unknown
 * fields (cpu_ids, memory, dynamic_resources, topology, anything kubelet adds later) are skipped
 * by wire type, which is what protobuf's compatibility rules promise.
 */

/** Upstream's limits: 10 s to connect and answer, 16 MiB largest answer (every pod on the node). */
const TIMEOUT_MS = 10_000;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const LIST_METHOD = '/v1.PodResourcesLister/List';

/** Device IDs by resource name. */
export type ResourceDevices = Map<string, string[]>;

/** One length-delimited or varint field of a protobuf message. */
interface Field {
  number: number;
  /** The bytes of a length-delimited field (wire type 2); undefined for the other types. */
  bytes?: Buffer;
}

function varint(buf: Buffer, at: { pos: number }): bigint {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    if (at.pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[at.pos++] as number;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return value;
    if (shift > 63n) throw new Error('varint longer than 64 bits');
  }
}

/** The fields of one message, in order; repeated fields appear once per value. */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  const at = { pos: 0 };
  while (at.pos < buf.length) {
    const key = Number(varint(buf, at));
    const number = key >>> 3;
    switch (key & 7) {
      case 0:
        varint(buf, at);
        out.push({ number });
        break;
      case 1:
        at.pos += 8;
        out.push({ number });
        break;
      case 2: {
        const length = Number(varint(buf, at));
        if (at.pos + length > buf.length) throw new Error('truncated length-delimited field');
        out.push({ number, bytes: buf.subarray(at.pos, at.pos + length) });
        at.pos += length;
        break;
      }
      case 5:
        at.pos += 4;
        out.push({ number });
        break;
      default:
        throw new Error(`unsupported wire type ${key & 7}`);
    }
  }
  if (at.pos > buf.length) throw new Error('truncated fixed-size field');
  return out;
}

function embedded(buf: Buffer, number: number): Buffer[] {
  return fields(buf).flatMap((f) => (f.number === number && f.bytes !== undefined ? [f.bytes] : []));
}

function text(buf: Buffer, number: number): string {
  return embedded(buf, number).at(-1)?.toString('utf8') ?? '';
}

/**
 * The devices of one pod in a ListPodResourcesResponse: PodResources{name=1, namespace=2,
 * containers=3}, ContainerResources{devices=2}, ContainerDevices{resource_name=1, device_ids=2}.
 */
export function podDevicesOf(response: Buffer, namespace: string, name: string): ResourceDevices {
  const devices: ResourceDevices = new Map();
  for (const pod of embedded(response, 1)) {
    if (text(pod, 1) !== name || text(pod, 2) !== namespace) continue;
    for (const container of embedded(pod, 3)) {
      for (const device of embedded(container, 2)) {
        const resource = text(device, 1);
        const ids = embedded(device, 2).map((b) => b.toString('utf8'));
        devices.set(resource, [...(devices.get(resource) ?? []), ...ids]);
      }
    }
  }
  return devices;
}

/**
 * Ask kubelet on `socketPath` for every pod's resources and keep those of `namespace/name`.
 * Rejects with a message naming the socket when kubelet cannot be reached or answers an error.
 */
export async function listPodDevices(socketPath: string, namespace: string, name: string): Promise<ResourceDevices> {
  // The default export (module.exports), not the namespace: grpc-js is CommonJS, and bundled by
  // esbuild (src/bundle.mjs) its named exports are not on the namespace of a dynamic import.
  const { default: grpc } = await import('@grpc/grpc-js');
  const client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  try {
    // One deadline for connecting and answering. The call fails fast when nothing listens on the
    // socket (kubelet restarting): the runtime retries the ADD, no point holding it for 10 s.
    const response = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(
        LIST_METHOD,
        () => Buffer.alloc(0), // ListPodResourcesRequest has no fields
        (b: Buffer) => b,
        {},
        { deadline: Date.now() + TIMEOUT_MS },
        (err, value) => (err || value === undefined ? reject(err ?? new Error('empty answer')) : resolve(value)),
      );
    });
    return podDevicesOf(response, namespace, name);
  } catch (err) {
    throw new Error(`kubelet pod-resources List() on ${socketPath} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    client.close();
  }
}
