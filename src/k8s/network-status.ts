/**
 * The `k8s.v1.cni.cncf.io/network-status` annotation (multi-net spec §5): build the entries for
 * one delegate's result the way upstream's CreateNetworkStatuses does (one entry per sandbox
 * interface), with the spec's fix for results without interfaces, and serialise them
 * byte-for-byte like upstream so consumers parsing (or diffing) the annotation see no change.
 */

import { SocketAddress } from 'node:net';
import { isIP, isIPv4 } from '../util/ip-address.js';
import { copyDns, type CniDns, type CniIpConfig, type CniResult, type CniRoute } from '../cni/result.js';
import { isDefaultRoute } from '../cni/routes.js';

/** The status annotation written on the pod after a successful ADD. */
export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';

/** One element of the status annotation (upstream `NetworkStatus`). */
export interface NetworkStatus {
  /** `<ns>/<nad>` for annotation networks, the CNI config name for the cluster network. */
  name: string;
  interface?: string;
  /** Bare addresses (no prefix length), canonical text form. */
  ips?: string[];
  mac?: string;
  mtu?: number;
  /** Only ever `true`; false is expressed by omission (upstream omitempty). */
  default?: boolean;
  /** Keys in libcni's order, empty ones omitted (copyDns). */
  dns: CniDns;
  'device-info'?: Record<string, unknown>;
  /** Gateways of the result's default routes (upstream key; the spec calls it default-route). */
  gateway?: string[];
}

/**
 * Entries for one delegate's result (upstream CreateNetworkStatuses, NAD-25..31, with the
 * spec's fix for NAD-29: a result without interfaces still yields one entry).
 * - One entry per interface with a non-empty `sandbox`, in result order.
 * - An IP goes to the entry of the sandbox interface its `interface` index names; IPs with no
 *   (or a negative) index go to the last sandbox entry; IPs naming a host-side or unknown
 *   interface are dropped.
 * - The "primary" entry is the first sandbox interface named by an IP that has a `gateway`
 *   (IPs in result order), else the first sandbox entry. It alone gets `default: true` (when
 *   `isDefault`) and the default-route gateways (`gateway`).
 * - Interfaces but none in the sandbox: one entry with every IP and no interface/mac/mtu.
 * - No interfaces at all: one entry with `interface: opts.ifname` (when given) and every IP.
 * - `dns` (copied from the result) and `device-info` (from opts) go on every entry.
 */
export function networkStatusesFor(
  result: CniResult,
  name: string,
  isDefault: boolean,
  opts: { ifname?: string; deviceInfo?: Record<string, unknown> } = {},
): NetworkStatus[] {
  const interfaces = result.interfaces ?? [];
  const ips = result.ips ?? [];
  const gateways = defaultGateways(result.routes ?? []);
  const base = (): NetworkStatus => {
    const e: NetworkStatus = { name, dns: copyDns(result.dns) };
    if (opts.deviceInfo !== undefined) e['device-info'] = opts.deviceInfo;
    return e;
  };
  const finish = (e: NetworkStatus, primary: boolean, addrs: string[]): NetworkStatus => {
    if (addrs.length > 0) e.ips = addrs;
    if (primary && isDefault) e.default = true;
    if (primary && gateways.length > 0) e.gateway = [...gateways];
    return orderKeys(e);
  };

  const sandboxIdx: number[] = [];
  interfaces.forEach((iface, i) => {
    if (iface.sandbox !== undefined && iface.sandbox !== '') sandboxIdx.push(i);
  });

  if (sandboxIdx.length === 0) {
    // NAD-29 (no interfaces: spec MN-27 minimal entry) and NAD-30 (none in the sandbox).
    const e = base();
    if (interfaces.length === 0 && opts.ifname !== undefined && opts.ifname !== '') e.interface = opts.ifname;
    return [finish(e, true, ips.map((ip) => bareIp(ip.address)))];
  }

  const entryOf = new Map<number, number>(sandboxIdx.map((ifIdx, entryIdx) => [ifIdx, entryIdx]));
  const addrs: string[][] = sandboxIdx.map(() => []);
  const last = sandboxIdx.length - 1;
  for (const ip of ips) {
    const target = hasIndex(ip) ? entryOf.get(ip.interface) : last;
    if (target !== undefined) addrs[target]?.push(bareIp(ip.address));
  }
  const primary = primaryEntry(ips, entryOf);

  return sandboxIdx.map((ifIdx, entryIdx) => {
    const iface = interfaces[ifIdx];
    const e = base();
    if (iface !== undefined) {
      if (iface.name !== '') e.interface = iface.name;
      if (iface.mac !== undefined && iface.mac !== '') e.mac = iface.mac;
      if (iface.mtu !== undefined && iface.mtu !== 0) e.mtu = iface.mtu;
    }
    return finish(e, entryIdx === primary, addrs[entryIdx] ?? []);
  });
}

/**
 * Serialise exactly like upstream: `[` + each entry as JSON indented by 4 spaces, joined by
 * `,` + `]`; keys in upstream order; absent optional keys, `default: false`, `mtu: 0` and empty
 * lists omitted; `dns` always written (`{}` when empty); `<`, `>`, `&`, U+2028, U+2029 escaped
 * as Go's encoder does.
 */
export function formatNetworkStatus(entries: readonly NetworkStatus[]): string {
  return `[${entries.map((e) => goEscape(JSON.stringify(orderKeys(e), null, 4))).join(',')}]`;
}

// ---------------------------------------------------------------------------------------------
// internals

function hasIndex(ip: CniIpConfig): ip is CniIpConfig & { interface: number } {
  return ip.interface !== undefined && ip.interface >= 0;
}

function primaryEntry(ips: readonly CniIpConfig[], entryOf: ReadonlyMap<number, number>): number {
  for (const ip of ips) {
    if (ip.gateway === undefined || ip.gateway === '' || !hasIndex(ip)) continue;
    const entry = entryOf.get(ip.interface);
    if (entry !== undefined) return entry;
  }
  return 0;
}

/** The status object with its keys in upstream marshal order and empty optionals dropped. */
function orderKeys(e: NetworkStatus): NetworkStatus {
  // Insertion order is serialisation order: name, interface, ips, mac, mtu, default, dns,
  // device-info, gateway. `dns` is assigned in place after the optional keys before it.
  const out = { name: e.name } as NetworkStatus;
  if (e.interface !== undefined && e.interface !== '') out.interface = e.interface;
  if (e.ips !== undefined && e.ips.length > 0) out.ips = e.ips;
  if (e.mac !== undefined && e.mac !== '') out.mac = e.mac;
  if (e.mtu !== undefined && e.mtu !== 0) out.mtu = e.mtu;
  if (e.default === true) out.default = true;
  out.dns = copyDns(e.dns);
  if (e['device-info'] !== undefined) out['device-info'] = e['device-info'];
  if (e.gateway !== undefined && e.gateway.length > 0) out.gateway = e.gateway;
  return out;
}

/** Gateways of default routes (dst 0.0.0.0/0, ::/0 or no dst), in route order, canonical text. */
function defaultGateways(routes: readonly CniRoute[]): string[] {
  const out: string[] = [];
  for (const r of routes) {
    if (r.gw === undefined || r.gw === '' || !isDefaultRoute(r)) continue;
    out.push(canonicalIp(r.gw));
  }
  return out;
}

/** "10.0.0.2/24" → "10.0.0.2", in the text form Go's IP.String() prints. */
function bareIp(address: string): string {
  const slash = address.indexOf('/');
  return canonicalIp(slash === -1 ? address : address.slice(0, slash));
}

/**
 * Go's IP.String(): lower-case RFC 5952 IPv6, IPv4-mapped addresses printed as IPv4, and
 * `::a.b.c.d` printed in hex. Invalid input is returned unchanged.
 */
function canonicalIp(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6 || ip.includes('%')) return ip;
  let text: string;
  try {
    text = new SocketAddress({ address: ip, family: 'ipv6' }).address;
  } catch {
    return ip;
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped?.[1] !== undefined) return mapped[1];
  const compat = /^::(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (compat?.[1] !== undefined && isIPv4(compat[1])) {
    const b = compat[1].split('.').map(Number);
    const hi = (((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16);
    const lo = (((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16);
    return hi === '0' ? `::${lo}` : `::${hi}:${lo}`;
  }
  return text;
}

/** Go's json encoder escapes these even with indentation; JSON.stringify does not. */
function goEscape(json: string): string {
  return json
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}
