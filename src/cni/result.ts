/**
 * CNI results across spec versions. Every result (a delegate plugin's stdout, a cached result,
 * a prevResult) is parsed into one canonical shape (the CNI 1.1.0 one) and converted back to
 * whatever version the runtime asked for, following libcni's conversion behaviour.
 */

import { isIP, isIPv4, isIPv6 } from '../util/ip-address.js';
import { CNI_ERR, CniError } from '../errors.js';
import { isJsonObject } from './types.js';
import { describeJson, describeJsonNumber } from '../util/describe-json.js';
import { SUPPORTED_VERSIONS, type CniVersion } from './versions.js';

/** An interface a plugin created or touched (1.1.0 shape). */
export interface CniInterface {
  name: string;
  mac?: string;
  /** Link MTU in bytes (1.1.0+). */
  mtu?: number;
  /** Netns path; absent for host-side interfaces. */
  sandbox?: string;
  /** vhost-user / userspace socket path (1.1.0+). */
  socketPath?: string;
  /** PCI address of a device-backed interface (1.1.0+). */
  pciID?: string;
}

/** One assigned address. */
export interface CniIpConfig {
  /** CIDR, e.g. "10.0.0.2/24". */
  address: string;
  /** Plain IP. */
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

/** One route (the 1.1.0 fields are kept through every version, as libcni's shared Route type does). */
export interface CniRoute {
  /** Destination CIDR. */
  dst: string;
  /** Next hop, plain IP. */
  gw?: string;
  /** Route MTU in bytes. */
  mtu?: number;
  /** Advertised MSS in bytes. */
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

/** DNS settings; kept even when empty (`{}`), as plugins print it. */
export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/**
 * The canonical in-memory result: the CNI 1.1.0 shape (1.0.0 and 1.1.0 are the same apart from
 * optional fields). `cniVersion` is the version the result was parsed from (or converted to).
 */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

/** A result that cannot be decoded or converted; CNI code 6 ("failed to decode content"). */
export class ResultFormatError extends CniError {
  declare readonly code: 6;

  constructor(message: string) {
    super(CNI_ERR.DECODE, message);
  }
}

/** True when `v` is a CNI version this module can parse and emit. */
export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** semver-ish compare of "a.b.c" strings: negative/0/positive. Missing/empty version means "0.1.0" (CNI convention). */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Parse a plugin's (or a cached) result object of ANY supported version into the canonical 1.1.0
 * shape. `fallbackVersion` is used when the object has no/empty cniVersion (libcni: the config's
 * version; empty means "0.1.0"). Unknown extra keys are dropped; `null`/undefined is `{}`.
 * @throws ResultFormatError on anything malformed or an unsupported version.
 */
export function toCanonicalResult(raw: unknown, fallbackVersion: string): CniResult {
  const obj: unknown = raw ?? {};
  if (!isJsonObject(obj)) fail(`result: expected a JSON object, got ${describeJson(obj)}`);
  const declared = obj['cniVersion'];
  if (declared !== undefined && declared !== null && typeof declared !== 'string') {
    fail(`result.cniVersion: expected a string, got ${describeJson(declared)}`);
  }
  const version = normalizeVersion(typeof declared === 'string' && declared !== '' ? declared : fallbackVersion);
  if (!isSupportedVersion(version)) fail(`result: unsupported CNI version "${version}"`);
  switch (familyOf(version)) {
    case 'legacy':
      return parseLegacy(obj, version);
    case 'v03':
      return parseCurrent(obj, version, false);
    case 'v1':
      return parseCurrent(obj, version, true);
  }
}

/**
 * Convert a canonical result to the wire shape of `version` (a plain JSON-able object; empty
 * version means "0.1.0").
 * @throws ResultFormatError for an unsupported target version, and for 0.1.0/0.2.0 when there is
 * no IP at all.
 */
export function convertResult(result: CniResult, version: string): Record<string, unknown> {
  const target = normalizeVersion(version);
  if (!isSupportedVersion(target)) fail(`cannot convert: unsupported CNI version "${target}"`);
  switch (familyOf(target)) {
    case 'legacy':
      return toLegacy(result, target);
    case 'v03':
      return toCurrent(result, target, false);
    case 'v1':
      return toCurrent(result, target, true);
  }
}

// ---------------------------------------------------------------------------------------------
// internals

type JsonObj = Record<string, unknown>;
type Family = 4 | 6;
type VersionFamily = 'legacy' | 'v03' | 'v1';

function fail(message: string): never {
  throw new ResultFormatError(message);
}

function normalizeVersion(v: string): string {
  return v === '' ? '0.1.0' : v;
}

function versionParts(v: string): number[] {
  return normalizeVersion(v)
    .split('.')
    .map((p) => {
      const m = /^\d+/.exec(p);
      return m ? Number(m[0]) : 0;
    });
}

function familyOf(v: CniVersion): VersionFamily {
  if (v === '0.1.0' || v === '0.2.0') return 'legacy';
  if (v === '1.0.0' || v === '1.1.0') return 'v1';
  return 'v03';
}

/** IPv6 iff the address part contains ':' (the rule libcni's users rely on for CIDR strings). */
function familyOfAddress(address: string): Family {
  const slash = address.indexOf('/');
  const ip = slash === -1 ? address : address.slice(0, slash);
  return ip.includes(':') ? 6 : 4;
}

/** Family of a valid CIDR, or undefined when `s` is not one. */
function cidrFamily(s: string): Family | undefined {
  const slash = s.indexOf('/');
  if (slash === -1) return undefined;
  const ip = s.slice(0, slash);
  const prefix = s.slice(slash + 1);
  if (ip.includes('%') || !/^\d{1,3}$/.test(prefix)) return undefined;
  const bits = Number(prefix);
  if (isIPv4(ip)) return bits <= 32 ? 4 : undefined;
  if (isIPv6(ip)) return bits <= 128 ? 6 : undefined;
  return undefined;
}

function readCidr(v: unknown, path: string): { value: string; family: Family } {
  if (typeof v !== 'string') fail(`${path}: expected a CIDR string, got ${describeJson(v)}`);
  const family = cidrFamily(v);
  if (family === undefined) fail(`${path}: invalid CIDR address ${JSON.stringify(v)}`);
  return { value: v, family };
}

function readIp(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(`${path}: expected an IP string, got ${describeJson(v)}`);
  if (v.includes('%') || isIP(v) === 0) fail(`${path}: invalid IP address ${JSON.stringify(v)}`);
  return v;
}

function readString(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(`${path}: expected a string, got ${describeJson(v)}`);
  return v;
}

function readUint(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(`${path}: expected a non-negative integer, got ${describeJsonNumber(v)}`);
  }
  return v;
}

function readStringArray(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) fail(`${path}: expected an array of strings, got ${describeJson(v)}`);
  return v.map((s, i) => readString(s, `${path}[${i}]`));
}

/** `obj[key]` treating JSON null like absent (Go's decoder does the same for pointers/slices). */
function opt(obj: JsonObj, key: string): unknown {
  const v = obj[key];
  return v === null ? undefined : v;
}

function readArray(obj: JsonObj, key: string, path: string): unknown[] | undefined {
  const v = opt(obj, key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) fail(`${path}.${key}: expected an array, got ${describeJson(v)}`);
  return v as unknown[];
}

function readObject(v: unknown, path: string): JsonObj {
  if (!isJsonObject(v)) fail(`${path}: expected an object, got ${describeJson(v)}`);
  return v;
}

function parseInterface(v: unknown, path: string, extended: boolean): CniInterface {
  const o = readObject(v, path);
  const out: CniInterface = { name: readString(o['name'], `${path}.name`) };
  const mac = opt(o, 'mac');
  if (mac !== undefined) out.mac = readString(mac, `${path}.mac`);
  if (extended) {
    const mtu = opt(o, 'mtu');
    if (mtu !== undefined) out.mtu = readUint(mtu, `${path}.mtu`);
  }
  const sandbox = opt(o, 'sandbox');
  if (sandbox !== undefined) out.sandbox = readString(sandbox, `${path}.sandbox`);
  if (extended) {
    const socketPath = opt(o, 'socketPath');
    if (socketPath !== undefined) out.socketPath = readString(socketPath, `${path}.socketPath`);
    const pciID = opt(o, 'pciID');
    if (pciID !== undefined) out.pciID = readString(pciID, `${path}.pciID`);
  }
  return out;
}

function parseIpConfig(v: unknown, path: string, checkVersionField: boolean): CniIpConfig {
  const o = readObject(v, path);
  const address = readCidr(o['address'], `${path}.address`);
  if (checkVersionField) {
    const ver = opt(o, 'version');
    if (ver !== undefined) {
      if (ver !== '4' && ver !== '6') fail(`${path}.version: expected "4" or "6", got ${describeJson(ver)}`);
      if (Number(ver) !== address.family) {
        fail(`${path}.version: "${ver}" does not match address ${JSON.stringify(address.value)}`);
      }
    }
  }
  const out: CniIpConfig = { address: address.value };
  const gateway = opt(o, 'gateway');
  if (gateway !== undefined) out.gateway = readIp(gateway, `${path}.gateway`);
  const iface = opt(o, 'interface');
  if (iface !== undefined) out.interface = readUint(iface, `${path}.interface`);
  return out;
}

const ROUTE_NUMBERS = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;

function parseRoute(v: unknown, path: string): CniRoute {
  const o = readObject(v, path);
  const out: CniRoute = { dst: readCidr(o['dst'], `${path}.dst`).value };
  const gw = opt(o, 'gw');
  if (gw !== undefined) out.gw = readIp(gw, `${path}.gw`);
  for (const key of ROUTE_NUMBERS) {
    const n = opt(o, key);
    if (n !== undefined) out[key] = readUint(n, `${path}.${key}`);
  }
  return out;
}

function parseDns(v: unknown, path: string): CniDns {
  const o = readObject(v, path);
  const out: CniDns = {};
  const nameservers = opt(o, 'nameservers');
  if (nameservers !== undefined) out.nameservers = readStringArray(nameservers, `${path}.nameservers`);
  const domain = opt(o, 'domain');
  if (domain !== undefined) out.domain = readString(domain, `${path}.domain`);
  const search = opt(o, 'search');
  if (search !== undefined) out.search = readStringArray(search, `${path}.search`);
  const options = opt(o, 'options');
  if (options !== undefined) out.options = readStringArray(options, `${path}.options`);
  return out;
}

/** 0.3.x / 0.4.0 (`extended` false) and 1.x (`extended` true). */
function parseCurrent(obj: JsonObj, version: CniVersion, extended: boolean): CniResult {
  const out: CniResult = { cniVersion: version };
  const interfaces = readArray(obj, 'interfaces', 'result');
  if (interfaces) out.interfaces = interfaces.map((v, i) => parseInterface(v, `result.interfaces[${i}]`, extended));
  const ips = readArray(obj, 'ips', 'result');
  if (ips) out.ips = ips.map((v, i) => parseIpConfig(v, `result.ips[${i}]`, !extended));
  const routes = readArray(obj, 'routes', 'result');
  if (routes) out.routes = routes.map((v, i) => parseRoute(v, `result.routes[${i}]`));
  const dns = opt(obj, 'dns');
  if (dns !== undefined) out.dns = parseDns(dns, 'result.dns');
  return out;
}

/** 0.1.0 / 0.2.0: `ip4`/`ip6` become `ips` (no interface index), their routes merge into `routes`. */
function parseLegacy(obj: JsonObj, version: CniVersion): CniResult {
  const out: CniResult = { cniVersion: version };
  const ips: CniIpConfig[] = [];
  let routes: CniRoute[] | undefined;
  for (const [key, family] of [['ip4', 4], ['ip6', 6]] as const) {
    const raw = opt(obj, key);
    if (raw === undefined) continue;
    const path = `result.${key}`;
    const o = readObject(raw, path);
    const ip = readCidr(o['ip'], `${path}.ip`);
    if (ip.family !== family) fail(`${path}.ip: ${JSON.stringify(ip.value)} is not an IPv${family} address`);
    const cfg: CniIpConfig = { address: ip.value };
    const gateway = opt(o, 'gateway');
    if (gateway !== undefined) cfg.gateway = readIp(gateway, `${path}.gateway`);
    ips.push(cfg);
    const rs = readArray(o, 'routes', path);
    if (rs) {
      routes ??= [];
      routes.push(...rs.map((v, i) => parseRoute(v, `${path}.routes[${i}]`)));
    }
  }
  if (ips.length > 0) out.ips = ips;
  if (routes) out.routes = routes;
  const dns = opt(obj, 'dns');
  if (dns !== undefined) out.dns = parseDns(dns, 'result.dns');
  return out;
}

function copyRoute(r: CniRoute): CniRoute {
  const out: CniRoute = { dst: r.dst };
  if (r.gw !== undefined) out.gw = r.gw;
  for (const key of ROUTE_NUMBERS) {
    const n = r[key];
    if (n !== undefined) out[key] = n;
  }
  return out;
}

/**
 * DNS with libcni's key order and its omitempty (an empty list or domain is left out), arrays
 * copied. Results and network-status both use it.
 */
export function copyDns(d: CniDns | undefined): CniDns {
  const out: CniDns = {};
  if (d === undefined) return out;
  if (d.nameservers !== undefined && d.nameservers.length > 0) out.nameservers = [...d.nameservers];
  if (d.domain !== undefined && d.domain !== '') out.domain = d.domain;
  if (d.search !== undefined && d.search.length > 0) out.search = [...d.search];
  if (d.options !== undefined && d.options.length > 0) out.options = [...d.options];
  return out;
}

function copyInterface(i: CniInterface, extended: boolean): CniInterface {
  const out: CniInterface = { name: i.name };
  if (i.mac !== undefined) out.mac = i.mac;
  if (extended && i.mtu !== undefined) out.mtu = i.mtu;
  if (i.sandbox !== undefined) out.sandbox = i.sandbox;
  if (extended && i.socketPath !== undefined) out.socketPath = i.socketPath;
  if (extended && i.pciID !== undefined) out.pciID = i.pciID;
  return out;
}

/** 0.3.x / 0.4.0 (`extended` false: add ips[].version, drop 1.1.0 interface fields) and 1.x. */
function toCurrent(result: CniResult, version: CniVersion, extended: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces !== undefined) out['interfaces'] = result.interfaces.map((i) => copyInterface(i, extended));
  if (result.ips !== undefined) {
    out['ips'] = result.ips.map((ip) => {
      const o: Record<string, unknown> = {};
      if (!extended) o['version'] = String(familyOfAddress(ip.address));
      o['address'] = ip.address;
      if (ip.gateway !== undefined) o['gateway'] = ip.gateway;
      if (ip.interface !== undefined) o['interface'] = ip.interface;
      return o;
    });
  }
  if (result.routes !== undefined) out['routes'] = result.routes.map(copyRoute);
  if (result.dns !== undefined) out['dns'] = copyDns(result.dns);
  return out;
}

/** 0.1.0 / 0.2.0: first IPv4 → ip4, first IPv6 → ip6, routes attached by `dst` family (libcni). */
function toLegacy(result: CniResult, version: CniVersion): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  const slots: Partial<Record<Family, Record<string, unknown>>> = {};
  for (const ip of result.ips ?? []) {
    const family = familyOfAddress(ip.address);
    if (slots[family] !== undefined) continue;
    const o: Record<string, unknown> = { ip: ip.address };
    if (ip.gateway !== undefined) o['gateway'] = ip.gateway;
    slots[family] = o;
  }
  const ip4 = slots[4];
  const ip6 = slots[6];
  if (ip4 === undefined && ip6 === undefined) fail('cannot convert: no valid IP addresses');
  if (result.routes !== undefined) {
    for (const [family, slot] of [[4, ip4], [6, ip6]] as const) {
      if (slot === undefined) continue;
      slot['routes'] = result.routes.filter((r) => familyOfAddress(r.dst) === family).map(copyRoute);
    }
  }
  if (ip4 !== undefined) out['ip4'] = ip4;
  if (ip6 !== undefined) out['ip6'] = ip6;
  if (result.dns !== undefined) out['dns'] = copyDns(result.dns);
  return out;
}
