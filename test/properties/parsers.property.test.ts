import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCniArgs, parseCniArgs } from '../../src/cni/args.js';
import { convertResult, toCanonicalResult, type CniResult } from '../../src/cni/result.js';
import { CniError } from '../../src/errors.js';
import { parseNetworkSelections } from '../../src/k8s/selection.js';
import { decodeCniRequest } from '../../src/server/request.js';

/**
 * Property-based tests: whatever the input, the parsers either answer or refuse with a CNI
 * error of the expected code — they never crash — and well-formed inputs round-trip.
 */

const RUNS = { numRuns: 500 };

/** Runs `f`; a thrown value must be a CniError with one of `codes`. */
function refusesCleanly(f: () => unknown, codes: number[]): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(CniError);
    expect(codes).toContain((err as CniError).code);
  }
}

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
const ifname = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,14}$/);
const argToken = fc.stringMatching(/^[A-Za-z0-9_./-]{1,20}$/);

describe('CNI_ARGS parser', () => {
  it('round-trips any well-formed pairs, in any order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(argToken, argToken), { selector: ([k]) => k, maxLength: 8 }), (pairs) => {
        const parsed = parseCniArgs(formatCniArgs(pairs));
        expect([...parsed]).toEqual(pairs);
        expect(parseCniArgs(formatCniArgs([...pairs].reverse()))).toEqual(new Map(pairs));
      }),
      RUNS,
    );
  });

  it('refuses anything else with code 4, never crashing', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (raw) => refusesCleanly(() => parseCniArgs(raw), [4])), RUNS);
  });
});

describe('network selection annotation parser', () => {
  const element = fc.record({ namespace: fc.option(dnsLabel, { nil: undefined }), name: dnsLabel, iface: fc.option(ifname, { nil: undefined }) });

  it('gives the same selections for the comma form and the JSON form (MN-10, MN-11)', () => {
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 6 }), (elements) => {
        const comma = elements.map((e) => `${e.namespace === undefined ? '' : `${e.namespace}/`}${e.name}${e.iface === undefined ? '' : `@${e.iface}`}`).join(',');
        const json = JSON.stringify(elements.map((e) => ({ name: e.name, ...(e.namespace === undefined ? {} : { namespace: e.namespace }), ...(e.iface === undefined ? {} : { interface: e.iface }) })));
        const fromComma = parseNetworkSelections(comma, 'pod-ns');
        expect(fromComma).toEqual(parseNetworkSelections(json, 'pod-ns'));
        expect(fromComma.map((s) => s.namespace)).toEqual(elements.map((e) => e.namespace ?? 'pod-ns'));
      }),
      RUNS,
    );
  });

  it('never crashes on arbitrary text or JSON: it answers or refuses with code 7', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (raw) => refusesCleanly(() => parseNetworkSelections(raw, 'ns'), [7])), RUNS);
    fc.assert(fc.property(fc.json({ maxDepth: 4 }), (raw) => refusesCleanly(() => parseNetworkSelections(raw, 'ns'), [7])), RUNS);
    fc.assert(fc.property(fc.array(fc.dictionary(fc.constantFrom('name', 'namespace', 'ips', 'mac', 'interface', 'default-route', 'portMappings', 'bandwidth', 'cni-args', 'Name'), fc.jsonValue({ maxDepth: 2 }))), (els) => refusesCleanly(() => parseNetworkSelections(JSON.stringify(els), 'ns'), [7])), RUNS);
  });
});

describe('request decoder', () => {
  it('never crashes on arbitrary bodies: it answers or refuses with a CNI code', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => refusesCleanly(() => decodeCniRequest(Buffer.from(bytes), {}), [1, 4, 6, 7])), RUNS);
    const env = fc.dictionary(fc.constantFrom('CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'X'), fc.string({ maxLength: 40 }));
    fc.assert(
      fc.property(env, fc.jsonValue({ maxDepth: 3 }), (e, stdin) => {
        const body = Buffer.from(JSON.stringify({ env: e, config: Buffer.from(JSON.stringify(stdin)).toString('base64') }));
        refusesCleanly(() => decodeCniRequest(body, {}), [1, 4, 6, 7]);
      }),
      RUNS,
    );
  });
});

describe('result converters', () => {
  const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, p]) => `${ip}/${p}`);
  const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([ip, p]) => `${ip}/${p}`);
  const result: fc.Arbitrary<CniResult> = fc
    .record({
      interfaces: fc.array(fc.record({ name: ifname, mac: fc.constant('02:00:00:00:00:01'), sandbox: fc.option(fc.constant('/var/run/netns/x'), { nil: undefined }) }), { maxLength: 3 }),
      ips: fc.array(fc.record({ address: fc.oneof(v4, v6), gateway: fc.option(fc.ipV4(), { nil: undefined }) }), { maxLength: 4 }),
      routes: fc.array(fc.record({ dst: fc.oneof(v4, v6) }), { maxLength: 3 }),
    })
    .map((r) => {
      const out: CniResult = { cniVersion: '1.1.0', interfaces: r.interfaces.map((i) => (i.sandbox === undefined ? { name: i.name, mac: i.mac } : { name: i.name, mac: i.mac, sandbox: i.sandbox })), routes: r.routes, dns: {} };
      // A v4 gateway only makes sense on a v4 address.
      out.ips = r.ips.map((ip) => (ip.gateway === undefined || ip.address.includes(':') ? { address: ip.address } : { address: ip.address, gateway: ip.gateway }));
      return out;
    });

  it.each(['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'])('round-trips through %s without loss (CNI-22, CNI-23)', (version) => {
    fc.assert(
      fc.property(result, (r) => {
        const back = toCanonicalResult(convertResult(r, version), version);
        expect({ ...back, cniVersion: '1.1.0' }).toEqual(r);
      }),
      RUNS,
    );
  });

  it('keeps the first IPv4 and IPv6 at 0.2.0, or refuses a result without IPs (CNI-23)', () => {
    fc.assert(
      fc.property(result, (r) => {
        const ips = r.ips ?? [];
        if (ips.length === 0) {
          expect(() => convertResult(r, '0.2.0')).toThrow(/no valid IP/);
          return;
        }
        const old = convertResult(r, '0.2.0') as { ip4?: { ip: string }; ip6?: { ip: string } };
        expect(old.ip4?.ip).toBe(ips.find((ip) => !ip.address.includes(':'))?.address);
        expect(old.ip6?.ip).toBe(ips.find((ip) => ip.address.includes(':'))?.address);
      }),
      RUNS,
    );
  });
});
