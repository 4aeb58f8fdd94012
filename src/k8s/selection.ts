/**
 * Network selection annotations (multi-net spec §4.1, Multus' own checks): parse
 * `k8s.v1.cni.cncf.io/networks` and `v1.multus-cni.io/default-network` into validated
 * elements. Both the comma form (`ns/name@ifname, other`) and the JSON list form are accepted.
 * Every problem is a CNI error 7 naming the annotation and the element, so a bad annotation
 * fails the pod ADD with a message the user can act on (Multus fails ADD too; the spec's
 * "invalid and ignored" is not followed). Namespace isolation is the caller's job.
 */

import { BlockList } from 'node:net';
import { isIP, isIPv4, isIPv6 } from '../util/ip-address.js';
import { CNI_ERR, CniError } from '../errors.js';
import { isJsonObject } from '../cni/types.js';
import { describeJson, describeJsonNumber, truncate } from '../util/describe-json.js';

/** The secondary-networks annotation on a pod. */
export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

/** Multus' per-pod override of the cluster network (delegate 0). */
export const DEFAULT_NETWORK_ANNOTATION = 'v1.multus-cni.io/default-network';

/** One `portMappings` entry, passed to the delegate as `runtimeConfig.portMappings`. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  /** As given (case kept); one of TCP/UDP/SCTP case-insensitively. Absent means TCP. */
  protocol?: string;
  hostIP?: string;
}

/** The `bandwidth` key, passed to the delegate as `runtimeConfig.bandwidth`. */
export interface Bandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** One validated selection element. */
export interface NetworkSelection {
  name: string;
  /** Always filled (the default namespace is applied when missing or empty). */
  namespace: string;
  /** From `interface` (or the legacy `interfaceRequest`, used only when `interface` is empty). */
  interface?: string;
  /** IPs or CIDRs, as given. */
  ips?: string[];
  /** As given (not normalised). */
  mac?: string;
  /** From `infiniband-guid`, as given. */
  infinibandGuid?: string;
  portMappings?: PortMapping[];
  bandwidth?: Bandwidth;
  deviceID?: string;
  /** From `cni-args`: merged into the delegate config's `args.cni`. */
  cniArgs?: Record<string, unknown>;
  /** From `default-route`: present (possibly empty) only when the key was given. Plain IPs, as given. */
  defaultRoute?: string[];
  /** From `ipam-claim-reference`. */
  ipamClaimReference?: string;
}

/**
 * Parse the value of a selection annotation (both forms). Empty/whitespace-only and JSON `[]`
 * mean "no extra network" (`[]`). `annotation` names it in errors (default: the networks
 * annotation); `defaultNamespace` fills missing or empty namespaces.
 * @throws CniError code 7 on any invalid input (never anything else).
 */
export function parseNetworkSelections(
  value: string,
  defaultNamespace: string,
  annotation: string = NETWORKS_ANNOTATION,
): NetworkSelection[] {
  if (value.trim() === '') return [];
  if (/[[{"]/.test(value)) return parseJsonForm(value, defaultNamespace, annotation);
  return value.split(',').map((item, i) => parseCommaItem(item.trim(), i, defaultNamespace, annotation));
}

/**
 * Parse `v1.multus-cni.io/default-network`: same parser, but a missing namespace means
 * `multusNamespace`, and exactly one network must be named (MUL-1). The caller treats a
 * missing annotation as "no override" and must not call this for it.
 * @throws CniError code 7 ("more than one default network is specified" for several).
 */
export function parseDefaultNetwork(value: string, multusNamespace: string): NetworkSelection {
  const list = parseNetworkSelections(value, multusNamespace, DEFAULT_NETWORK_ANNOTATION);
  if (list.length > 1) {
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      'more than one default network is specified',
      `${DEFAULT_NETWORK_ANNOTATION}: ${list.length} networks: ${list.map((s) => `${s.namespace}/${s.name}`).join(', ')}`,
    );
  }
  const only = list[0];
  if (only === undefined) {
    throw new CniError(CNI_ERR.INVALID_CONFIG, `invalid ${DEFAULT_NETWORK_ANNOTATION} annotation: no default network is specified`);
  }
  return only;
}

/**
 * Multus allows at most one IPv4 and one IPv6 gateway across every element's `default-route`
 * (it installs one default route per family; MUL-8). Each listed gateway counts, duplicates too.
 * @throws CniError code 7 "multus does not support ECMP for default-route".
 */
export function checkDefaultRoutes(selections: readonly NetworkSelection[]): void {
  let v4 = 0;
  let v6 = 0;
  for (const s of selections) {
    for (const gw of s.defaultRoute ?? []) {
      if (isV4Gateway(gw)) v4++;
      else v6++;
    }
  }
  if (v4 > 1 || v6 > 1) {
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      'multus does not support ECMP for default-route',
      `${NETWORKS_ANNOTATION}: ${v4} IPv4 and ${v6} IPv6 default-route gateways requested; at most one of each is allowed`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// internals

type JsonObj = Record<string, unknown>;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_TEXT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MAX = 253;
const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);
const BURSTS = [
  ['ingressRate', 'ingressBurst'],
  ['egressRate', 'egressBurst'],
] as const;

/** IPv4-mapped IPv6 addresses count as IPv4 (Go's `To4() != nil`). */
let v4Mapped: BlockList | undefined;

function isV4Gateway(ip: string): boolean {
  if (isIPv4(ip)) return true;
  if (!isIPv6(ip)) return false;
  // Made on first use: node:net is loaded only then (src/bundle.mjs).
  if (v4Mapped === undefined) {
    v4Mapped = new BlockList();
    v4Mapped.addSubnet('::ffff:0:0', 96, 'ipv6');
  }
  return v4Mapped.check(ip, 'ipv6');
}

/** Throws the error for one element; `what` says what is wrong. */
class ElementContext {
  constructor(
    readonly annotation: string,
    readonly index: number,
    readonly label: string,
  ) {}

  fail(what: string): never {
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      `invalid ${this.annotation} annotation: element ${this.index} (${this.label}): ${what}`,
    );
  }
}

function failWhole(annotation: string, what: string): never {
  throw new CniError(CNI_ERR.INVALID_CONFIG, `invalid ${annotation} annotation: ${what}`);
}

// --- comma form ------------------------------------------------------------------------------

function parseCommaItem(item: string, index: number, defaultNamespace: string, annotation: string): NetworkSelection {
  const ctx: ElementContext = new ElementContext(annotation, index, JSON.stringify(item));
  if (item === '') ctx.fail('empty element (stray ",")');
  const slash = item.split('/');
  if (slash.length > 2) ctx.fail(`invalid network object (failed at '/'): more than one "/"`);
  const namespace = slash.length === 2 ? (slash[0] ?? '').trim() : '';
  const at = (slash[slash.length - 1] ?? '').split('@');
  if (at.length > 2) ctx.fail(`invalid network object (failed at '@'): more than one "@"`);
  const name = (at[0] ?? '').trim();
  const ifname = (at[1] ?? '').trim();

  if (name === '') ctx.fail('network name must not be empty');
  if (namespace !== '') checkLabel(ctx, 'namespace', namespace);
  checkLabel(ctx, 'name', name);
  const out: NetworkSelection = { name, namespace: namespace === '' ? defaultNamespace : namespace };
  if (ifname !== '') {
    checkIfname(ctx, 'interface name', ifname);
    out.interface = ifname;
  }
  return out;
}

function checkLabel(ctx: ElementContext, what: string, v: string): void {
  if (!DNS1123_LABEL.test(v)) ctx.fail(`${what} ${JSON.stringify(v)} must be a DNS-1123 label (${DNS1123_LABEL_TEXT})`);
}

/** Multus' interface-name rule (the kernel's): 1..15 bytes, not "."/"..", no whitespace, "/", ":" or NUL. */
function checkIfname(ctx: ElementContext, what: string, v: string): void {
  const q = JSON.stringify(v);
  if (v === '') ctx.fail(`${what} must not be empty`);
  if (Buffer.byteLength(v, 'utf8') > 15) ctx.fail(`${what} ${q} is longer than 15 bytes`);
  if (v === '.' || v === '..') ctx.fail(`${what} ${q} must not be "." or ".."`);
  if (/[\s/:\0]/u.test(v)) ctx.fail(`${what} ${q} must not contain whitespace, "/", ":" or NUL`);
}

// --- JSON form -------------------------------------------------------------------------------

function parseJsonForm(value: string, defaultNamespace: string, annotation: string): NetworkSelection[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    failWhole(annotation, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(parsed)) failWhole(annotation, `expected a JSON list of objects, got ${describeJson(parsed)}`);
  return (parsed as unknown[]).map((el, i) => parseJsonElement(el, i, defaultNamespace, annotation));
}

function parseJsonElement(el: unknown, index: number, defaultNamespace: string, annotation: string): NetworkSelection {
  const obj = isJsonObject(el) ? el : undefined;
  const rawName = obj === undefined ? undefined : field(obj, 'name');
  const label = typeof rawName === 'string' && rawName !== '' ? JSON.stringify(rawName) : elementText(el);
  const ctx: ElementContext = new ElementContext(annotation, index, label);
  if (obj === undefined) ctx.fail(`expected an object, got ${describeJson(el)}`);

  if (rawName === undefined) ctx.fail('"name" is required');
  if (typeof rawName !== 'string') ctx.fail(`"name" must be a string, got ${describeJson(rawName)}`);
  if (rawName === '') ctx.fail('"name" must not be empty');
  if (rawName.length > DNS1123_SUBDOMAIN_MAX || !DNS1123_SUBDOMAIN.test(rawName)) {
    ctx.fail(`name ${JSON.stringify(rawName)} must be a DNS-1123 subdomain (lower-case alphanumerics, "-" and ".", at most 253 characters)`);
  }
  const ns = optString(ctx, obj, 'namespace');
  if (ns !== undefined && ns !== '') checkLabel(ctx, 'namespace', ns);
  const out: NetworkSelection = { name: rawName, namespace: ns === undefined || ns === '' ? defaultNamespace : ns };

  const iface = optString(ctx, obj, 'interface');
  const legacy = optString(ctx, obj, 'interfaceRequest');
  const ifname = iface !== undefined && iface !== '' ? iface : legacy;
  if (ifname !== undefined && ifname !== '') {
    checkIfname(ctx, iface !== undefined && iface !== '' ? '"interface"' : '"interfaceRequest"', ifname);
    out.interface = ifname;
  }

  const ips = field(obj, 'ips');
  if (ips !== undefined) out.ips = readIps(ctx, ips);

  const mac = optString(ctx, obj, 'mac');
  if (mac !== undefined && mac !== '') {
    if (!isGoMac(mac)) ctx.fail(`"mac" ${JSON.stringify(mac)} is not a valid hardware address`);
    out.mac = mac;
  }
  const guid = optString(ctx, obj, 'infiniband-guid');
  if (guid !== undefined && guid !== '') {
    if (!isGoMac(guid)) ctx.fail(`"infiniband-guid" ${JSON.stringify(guid)} is not a valid hardware address`);
    out.infinibandGuid = guid;
  }

  const pm = field(obj, 'portMappings');
  if (pm !== undefined) out.portMappings = readPortMappings(ctx, pm);

  const bw = field(obj, 'bandwidth');
  if (bw !== undefined) out.bandwidth = readBandwidth(ctx, bw);

  const deviceID = optString(ctx, obj, 'deviceID');
  if (deviceID !== undefined && deviceID !== '') out.deviceID = deviceID;

  const cniArgs = field(obj, 'cni-args');
  if (cniArgs !== undefined) {
    if (!isJsonObject(cniArgs)) ctx.fail(`"cni-args" must be an object, got ${describeJson(cniArgs)}`);
    out.cniArgs = cniArgs;
  }

  const dr = field(obj, 'default-route');
  if (dr !== undefined) out.defaultRoute = readDefaultRoute(ctx, dr);

  const claim = optString(ctx, obj, 'ipam-claim-reference');
  if (claim !== undefined && claim !== '') {
    if (out.ips !== undefined) ctx.fail('"ips" and "ipam-claim-reference" must not be used together');
    out.ipamClaimReference = claim;
  }
  return out;
}

function readIps(ctx: ElementContext, v: unknown): string[] {
  if (!Array.isArray(v)) ctx.fail(`"ips" must be an array of strings, got ${describeJson(v)}`);
  if (v.length === 0) ctx.fail('"ips" must have at least one element');
  return (v as unknown[]).map((ip, i) => {
    if (typeof ip !== 'string') ctx.fail(`"ips"[${i}] must be a string, got ${describeJson(ip)}`);
    if (!isIpOrCidr(ip)) ctx.fail(`"ips"[${i}] ${JSON.stringify(ip)} is not a valid IP address or CIDR`);
    return ip;
  });
}

function readDefaultRoute(ctx: ElementContext, v: unknown): string[] {
  if (!Array.isArray(v)) ctx.fail(`"default-route" must be an array of IP addresses, got ${describeJson(v)}`);
  return (v as unknown[]).map((ip, i) => {
    if (typeof ip !== 'string') ctx.fail(`"default-route"[${i}] must be a string, got ${describeJson(ip)}`);
    if (!isPlainIp(ip)) ctx.fail(`"default-route"[${i}] ${JSON.stringify(ip)} is not a valid IP address`);
    return ip;
  });
}

function readPortMappings(ctx: ElementContext, v: unknown): PortMapping[] {
  if (!Array.isArray(v)) ctx.fail(`"portMappings" must be an array of objects, got ${describeJson(v)}`);
  if (v.length === 0) ctx.fail('"portMappings" must have at least one element');
  return (v as unknown[]).map((m, i) => {
    const path = `"portMappings"[${i}]`;
    if (!isJsonObject(m)) ctx.fail(`${path} must be an object, got ${describeJson(m)}`);
    const out: PortMapping = {
      hostPort: readPort(ctx, `${path}.hostPort`, field(m, 'hostPort')),
      containerPort: readPort(ctx, `${path}.containerPort`, field(m, 'containerPort')),
    };
    const protocol = optString(ctx, m, 'protocol', `${path}.protocol`);
    if (protocol !== undefined && protocol !== '') {
      if (!PROTOCOLS.has(protocol.toUpperCase())) {
        ctx.fail(`${path}.protocol ${JSON.stringify(protocol)} must be TCP, UDP or SCTP`);
      }
      out.protocol = protocol;
    }
    const hostIP = optString(ctx, m, 'hostIP', `${path}.hostIP`);
    if (hostIP !== undefined && hostIP !== '') {
      if (!isPlainIp(hostIP)) ctx.fail(`${path}.hostIP ${JSON.stringify(hostIP)} is not a valid IP address`);
      out.hostIP = hostIP;
    }
    return out;
  });
}

function readPort(ctx: ElementContext, path: string, v: unknown): number {
  if (v === undefined) ctx.fail(`${path} is required`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    ctx.fail(`${path} must be an integer in 1..65535, got ${describeJsonNumber(v)}`);
  }
  return v;
}

function readBandwidth(ctx: ElementContext, v: unknown): Bandwidth {
  if (!isJsonObject(v)) ctx.fail(`"bandwidth" must be an object, got ${describeJson(v)}`);
  const out: Bandwidth = {};
  for (const key of ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const) {
    const n = field(v, key);
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      ctx.fail(`"bandwidth".${key} must be a non-negative integer, got ${describeJsonNumber(n)}`);
    }
    out[key] = n;
  }
  for (const [rate, burst] of BURSTS) {
    const b = out[burst];
    const r = out[rate];
    if (b !== undefined && (r === undefined || (r === 0 && b > 0))) {
      ctx.fail(`"bandwidth".${burst} requires a non-zero "bandwidth".${rate}`);
    }
  }
  return out;
}

/**
 * A key of a JSON object matched like Go's decoder: the exact key if present, else the last
 * case-insensitive match. JSON `null` reads as absent (Go leaves the field at its zero value).
 */
function field(obj: JsonObj, key: string): unknown {
  let v: unknown;
  if (Object.hasOwn(obj, key)) {
    v = obj[key];
  } else {
    const lower = key.toLowerCase();
    for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) v = obj[k];
  }
  return v === null ? undefined : v;
}

function optString(ctx: ElementContext, obj: JsonObj, key: string, path = `"${key}"`): string | undefined {
  const v = field(obj, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') ctx.fail(`${path} must be a string, got ${describeJson(v)}`);
  return v;
}

/** A plain IPv4/IPv6 address as Go's net.ParseIP takes it (no zone). */
function isPlainIp(s: string): boolean {
  return !s.includes('%') && isIP(s) !== 0;
}

/** An IP, or IP/prefix with the prefix in range for the family (Go's ParseCIDR). */
function isIpOrCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash === -1) return isPlainIp(s);
  const ip = s.slice(0, slash);
  const prefix = s.slice(slash + 1);
  if (!isPlainIp(ip) || !/^(0|[1-9]\d{0,2})$/.test(prefix)) return false;
  return Number(prefix) <= (isIPv4(ip) ? 32 : 128);
}

/**
 * Go's net.ParseMAC: 6, 8 or 20 octets written as `xx:xx:..`, `xx-xx-..` (one separator
 * throughout) or `xxxx.xxxx.xxxx..` (3, 4 or 10 groups of 4 hex digits).
 */
function isGoMac(s: string): boolean {
  const colon = /^[0-9a-f]{2}(?::[0-9a-f]{2})*$/i;
  const dash = /^[0-9a-f]{2}(?:-[0-9a-f]{2})*$/i;
  const dot = /^[0-9a-f]{4}(?:\.[0-9a-f]{4})*$/i;
  if (colon.test(s) || dash.test(s)) return [6, 8, 20].includes((s.length + 1) / 3);
  if (dot.test(s)) return [3, 4, 10].includes((s.length + 1) / 5);
  return false;
}

/** Compact JSON of an element for error messages (elements without a usable name). */
function elementText(el: unknown): string {
  return truncate(JSON.stringify(el) ?? String(el));
}
