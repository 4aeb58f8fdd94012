import { describe, it, expect } from 'vitest';
import {
  ResultFormatError,
  compareVersions,
  convertResult,
  isSupportedVersion,
  toCanonicalResult,
} from '../../src/cni/result.js';
import type { CniResult } from '../../src/cni/result.js';
import { SUPPORTED_VERSIONS, type CniVersion } from '../../src/cni/versions.js';
import { CniError } from '../../src/errors.js';

const DEBIAN_BRIDGE_100 = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'br0', mac: 'aa:bb:cc:dd:ee:01' },
    { name: 'veth1234', mac: 'aa:bb:cc:dd:ee:02' },
    { name: 'eth0', mac: 'aa:bb:cc:dd:ee:03', sandbox: '/var/run/netns/x' },
  ],
  ips: [{ interface: 2, address: '198.18.0.2/24', gateway: '198.18.0.1' }],
  dns: {},
};

const RICH_110: CniResult = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'eth0', mac: 'aa:bb:cc:dd:ee:03', mtu: 9000, sandbox: '/var/run/netns/x', socketPath: '/run/vhu.sock', pciID: '0000:03:00.1' },
  ],
  ips: [
    { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 },
    { address: '10.0.1.2/24', interface: 0 },
    { address: 'fd00::2/64', gateway: 'fd00::1', interface: 0 },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 10, scope: 0 },
    { dst: '::/0', gw: 'fd00::1' },
  ],
  dns: { nameservers: ['10.0.0.53'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] },
};

/** What a canonical result looks like after a trip through `v` (the parts `v` cannot hold removed). */
function expectedAfter(c: CniResult, v: CniVersion): CniResult {
  const out: CniResult = { cniVersion: v };
  if (v === '0.1.0' || v === '0.2.0') {
    const v4 = c.ips?.find((ip) => !ip.address.includes(':'));
    const v6 = c.ips?.find((ip) => ip.address.includes(':'));
    const ips = [v4, v6].flatMap((ip) => (ip ? [{ address: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}) }] : []));
    if (ips.length) out.ips = ips;
    if (c.routes) {
      out.routes = [
        ...(v4 ? c.routes.filter((r) => !r.dst.includes(':')) : []),
        ...(v6 ? c.routes.filter((r) => r.dst.includes(':')) : []),
      ];
    }
  } else {
    if (c.interfaces) {
      const legacy = v !== '1.0.0' && v !== '1.1.0';
      out.interfaces = c.interfaces.map((i) => {
        if (!legacy) return { ...i };
        const { mtu: _m, socketPath: _s, pciID: _p, ...rest } = i;
        return rest;
      });
    }
    if (c.ips) out.ips = c.ips.map((ip) => ({ ...ip }));
    if (c.routes) out.routes = c.routes.map((r) => ({ ...r }));
  }
  if (c.dns) out.dns = c.dns;
  return out;
}

function expectDecodeError(fn: () => unknown, message?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ResultFormatError);
    expect(err).toBeInstanceOf(CniError);
    expect((err as ResultFormatError).code).toBe(6);
    if (message) expect((err as Error).message).toMatch(message);
    return;
  }
  expect.unreachable('expected a ResultFormatError');
}

describe('versions', () => {
  it('knows the supported versions', () => {
    expect(SUPPORTED_VERSIONS).toEqual(['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
    expect(isSupportedVersion('0.3.1')).toBe(true);
    expect(isSupportedVersion('9.9.9')).toBe(false);
    expect(isSupportedVersion('')).toBe(false);
  });

  it('compares versions semver-ishly, empty meaning 0.1.0', () => {
    expect(compareVersions('0.3.1', '0.3.0')).toBeGreaterThan(0);
    expect(compareVersions('0.4.0', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('0.10.0', '0.9.0')).toBeGreaterThan(0);
    expect(compareVersions('1.1.0', '1.1.0')).toBe(0);
    expect(compareVersions('', '0.1.0')).toBe(0);
    expect(compareVersions('', '0.2.0')).toBeLessThan(0);
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
  });
});

describe('CNI-22/CNI-23 convertResult', () => {
  it('CNI-22: 1.0.0 → 0.4.0 adds ips[].version from the address family', () => {
    const v4 = toCanonicalResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', interface: 0 }] }, '1.0.0');
    const out4 = convertResult(v4, '0.4.0') as { cniVersion: string; ips: { version: string; address: string; interface: number }[] };
    expect(out4.cniVersion).toBe('0.4.0');
    expect(out4.ips[0]).toEqual({ version: '4', address: '10.0.0.2/24', interface: 0 });

    const v6 = toCanonicalResult({ cniVersion: '1.0.0', ips: [{ address: 'fd00::2/64', interface: 0 }] }, '1.0.0');
    const out6 = convertResult(v6, '0.4.0') as { ips: { version: string }[] };
    expect(out6.ips[0]?.version).toBe('6');
    expect((convertResult(v6, '0.3.0') as { ips: { version: string }[] }).ips[0]?.version).toBe('6');
  });

  it('CNI-22: 1.0.0 → 0.2.0 keeps only the first IPv4', () => {
    const c = toCanonicalResult(
      { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }, { address: '10.0.1.2/24' }] },
      '1.0.0',
    );
    expect(convertResult(c, '0.2.0')).toEqual({ cniVersion: '0.2.0', ip4: { ip: '10.0.0.2/24', gateway: '10.0.0.1' } });
  });

  it('CNI-22: 1.0.0 → 0.2.0 with IPv4 and IPv6 fills ip4 and ip6 and splits routes by family', () => {
    const c = toCanonicalResult(
      {
        cniVersion: '1.0.0',
        interfaces: [{ name: 'eth0' }],
        ips: [{ address: 'fd00::2/64', gateway: 'fd00::1', interface: 0 }, { address: '10.0.0.2/24', interface: 0 }],
        routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0' }, { dst: '192.168.0.0/16' }],
        dns: {},
      },
      '1.0.0',
    );
    expect(convertResult(c, '0.2.0')).toEqual({
      cniVersion: '0.2.0',
      ip4: { ip: '10.0.0.2/24', routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '192.168.0.0/16' }] },
      ip6: { ip: 'fd00::2/64', gateway: 'fd00::1', routes: [{ dst: '::/0' }] },
      dns: {},
    });
  });

  it('CNI-22: routes of a family with no IP are dropped for 0.1.0', () => {
    const c = toCanonicalResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }], routes: [{ dst: '::/0' }] }, '1.0.0');
    expect(convertResult(c, '0.1.0')).toEqual({ cniVersion: '0.1.0', ip4: { ip: '10.0.0.2/24', routes: [] } });
  });

  it('CNI-22: 1.0.0 with no IPs → 0.2.0 fails with "no valid IP addresses"', () => {
    const c = toCanonicalResult({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], dns: {} }, '1.0.0');
    expectDecodeError(() => convertResult(c, '0.2.0'), /no valid IP addresses/);
    expectDecodeError(() => convertResult({ cniVersion: '1.0.0', ips: [] }, '0.1.0'), /no valid IP addresses/);
  });

  it('CNI-23: the Debian bridge 1.0.0 result round-trips through every supported version', () => {
    const canonical = toCanonicalResult(DEBIAN_BRIDGE_100, '1.0.0');
    expect(canonical).toEqual(DEBIAN_BRIDGE_100);
    for (const v of SUPPORTED_VERSIONS) {
      const wire = convertResult(canonical, v);
      expect(wire['cniVersion']).toBe(v);
      // JSON round trip: what a plugin / the cache actually hands us.
      const back = toCanonicalResult(JSON.parse(JSON.stringify(wire)), '0.0.0-unused');
      expect(back, `via ${v}`).toEqual(expectedAfter(canonical, v));
    }
    expect(convertResult(canonical, '0.2.0')).toEqual({
      cniVersion: '0.2.0',
      ip4: { ip: '198.18.0.2/24', gateway: '198.18.0.1' },
      dns: {},
    });
  });

  it('CNI-23: a rich 1.1.0 result round-trips through every supported version', () => {
    const canonical = toCanonicalResult(RICH_110, '1.1.0');
    expect(canonical).toEqual(RICH_110);
    for (const v of SUPPORTED_VERSIONS) {
      const back = toCanonicalResult(JSON.parse(JSON.stringify(convertResult(canonical, v))), '1.1.0');
      expect(back, `via ${v}`).toEqual(expectedAfter(canonical, v));
    }
  });

  it('CNI-23: 1.1.0 fields survive to 1.1.0 and 1.0.0; interface extras are dropped at 0.4.0', () => {
    for (const v of ['1.1.0', '1.0.0'] as const) {
      const out = convertResult(RICH_110, v);
      expect(out).toEqual({ ...RICH_110, cniVersion: v });
    }
    const old = convertResult(RICH_110, '0.4.0') as { interfaces: Record<string, unknown>[]; routes: Record<string, unknown>[] };
    expect(old.interfaces[0]).toEqual({ name: 'eth0', mac: 'aa:bb:cc:dd:ee:03', sandbox: '/var/run/netns/x' });
    // libcni copies routes wholesale, 1.1.0 fields included.
    expect(old.routes[0]).toEqual({ dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 10, scope: 0 });
    // A 0.4.0 input carrying 1.1.0 interface keys: they are not part of its shape, so dropped.
    const parsed = toCanonicalResult({ cniVersion: '0.4.0', interfaces: [{ name: 'eth0', mtu: 1500, pciID: 'x' }] }, '0.4.0');
    expect(parsed.interfaces).toEqual([{ name: 'eth0' }]);
  });

  it('same version keeps content and only sets cniVersion', () => {
    const c = toCanonicalResult(DEBIAN_BRIDGE_100, '1.0.0');
    expect(convertResult(c, '1.0.0')).toEqual(DEBIAN_BRIDGE_100);
    const c04 = toCanonicalResult(
      { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.0.0.2/24', interface: 0 }], interfaces: [{ name: 'eth0' }], routes: [], dns: {} },
      '0.4.0',
    );
    expect(convertResult(c04, '0.4.0')).toEqual({
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0' }],
      ips: [{ version: '4', address: '10.0.0.2/24', interface: 0 }],
      routes: [],
      dns: {},
    });
  });

  it('converts to an unsupported target with a ResultFormatError', () => {
    const c = toCanonicalResult(DEBIAN_BRIDGE_100, '1.0.0');
    expectDecodeError(() => convertResult(c, '2.0.0'), /unsupported CNI version "2.0.0"/);
  });

  it('an empty target version means 0.1.0', () => {
    const c = toCanonicalResult(DEBIAN_BRIDGE_100, '1.0.0');
    expect(convertResult(c, '')['cniVersion']).toBe('0.1.0');
  });
});

describe('toCanonicalResult', () => {
  it('parses a 0.2.0 result into ips without interface index', () => {
    const c = toCanonicalResult({ cniVersion: '0.2.0', ip4: { ip: '198.18.0.2/24', gateway: '198.18.0.1' }, dns: {} }, '0.2.0');
    expect(c).toEqual({ cniVersion: '0.2.0', ips: [{ address: '198.18.0.2/24', gateway: '198.18.0.1' }], dns: {} });
    expect(c.interfaces).toBeUndefined();
  });

  it('merges 0.1.0 ip4/ip6 routes into routes', () => {
    const c = toCanonicalResult(
      {
        cniVersion: '0.1.0',
        ip4: { ip: '10.0.0.2/24', routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }] },
        ip6: { ip: 'fd00::2/64', routes: [{ dst: '::/0' }] },
      },
      '0.1.0',
    );
    expect(c).toEqual({
      cniVersion: '0.1.0',
      ips: [{ address: '10.0.0.2/24' }, { address: 'fd00::2/64' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0' }],
    });
  });

  it('drops ips[].version of 0.3.x/0.4.0 and unknown keys', () => {
    const c = toCanonicalResult(
      { cniVersion: '0.3.1', ips: [{ version: '6', address: 'fd00::2/64', extra: 1 }], bogus: true },
      '0.3.1',
    );
    expect(c).toEqual({ cniVersion: '0.3.1', ips: [{ address: 'fd00::2/64' }] });
  });

  it('LIB-3: no cniVersion in the result uses the fallback version', () => {
    const c = toCanonicalResult({ ip4: { ip: '10.0.0.2/24' } }, '0.2.0');
    expect(c).toEqual({ cniVersion: '0.2.0', ips: [{ address: '10.0.0.2/24' }] });
    expect(toCanonicalResult({ cniVersion: '', ips: [{ address: '10.0.0.2/24' }] }, '1.0.0').cniVersion).toBe('1.0.0');
    // Empty fallback: CNI convention is 0.1.0.
    expect(toCanonicalResult({}, '').cniVersion).toBe('0.1.0');
  });

  it('LIB-3: null and undefined are treated as {}', () => {
    expect(toCanonicalResult(null, '1.0.0')).toEqual({ cniVersion: '1.0.0' });
    expect(toCanonicalResult(undefined, '0.4.0')).toEqual({ cniVersion: '0.4.0' });
  });

  it('keeps an empty dns object for every version', () => {
    for (const v of SUPPORTED_VERSIONS) {
      const c = toCanonicalResult({ cniVersion: v, dns: {} }, v);
      expect(c.dns).toEqual({});
      if (v !== '0.1.0' && v !== '0.2.0') expect(convertResult(c, v)['dns']).toEqual({});
    }
  });

  describe('rejects malformed input with ResultFormatError (code 6)', () => {
    const cases: [string, unknown, RegExp][] = [
      ['ips is a string', { cniVersion: '1.0.0', ips: '10.0.0.2/24' }, /ips: expected an array/],
      ['address out of range', { cniVersion: '1.0.0', ips: [{ address: '300.1.1.1/24' }] }, /ips\[0\]\.address: invalid CIDR/],
      ['address without prefix', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2' }] }, /invalid CIDR/],
      ['IPv4 prefix > 32', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/33' }] }, /invalid CIDR/],
      ['IPv6 prefix > 128', { cniVersion: '1.0.0', ips: [{ address: 'fd00::2/129' }] }, /invalid CIDR/],
      ['address not a string', { cniVersion: '1.0.0', ips: [{ address: 10 }] }, /expected a CIDR string/],
      ['gateway with prefix', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1/24' }] }, /gateway: invalid IP/],
      ['negative interface index', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', interface: -1 }] }, /non-negative integer/],
      ['fractional interface index', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', interface: 1.5 }] }, /non-negative integer/],
      ['interface without a name', { cniVersion: '1.0.0', interfaces: [{ mac: 'aa:bb:cc:dd:ee:ff' }] }, /interfaces\[0\]\.name/],
      ['route dst not a CIDR', { cniVersion: '1.1.0', routes: [{ dst: 'default' }] }, /routes\[0\]\.dst/],
      ['route table a string', { cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', table: '10' }] }, /routes\[0\]\.table/],
      ['dns not an object', { cniVersion: '1.0.0', dns: [] }, /dns: expected an object/],
      ['dns nameservers not strings', { cniVersion: '1.0.0', dns: { nameservers: [1] } }, /nameservers\[0\]/],
      ['bad ips[].version', { cniVersion: '0.4.0', ips: [{ version: '5', address: '10.0.0.2/24' }] }, /version: expected "4" or "6"/],
      ['ips[].version family mismatch', { cniVersion: '0.3.1', ips: [{ version: '6', address: '10.0.0.2/24' }] }, /does not match/],
      ['0.2.0 ip4 holding an IPv6', { cniVersion: '0.2.0', ip4: { ip: 'fd00::2/64' } }, /not an IPv4 address/],
      ['0.2.0 ip6 not an object', { cniVersion: '0.2.0', ip6: 'fd00::2/64' }, /ip6: expected an object/],
      ['unknown version', { cniVersion: '9.9.9' }, /unsupported CNI version "9.9.9"/],
      ['cniVersion not a string', { cniVersion: 1 }, /cniVersion: expected a string/],
      ['non-object (string)', 'hello', /expected a JSON object/],
      ['non-object (array)', [], /expected a JSON object/],
      ['non-object (number)', 42, /expected a JSON object/],
    ];
    for (const [title, raw, message] of cases) {
      it(title, () => expectDecodeError(() => toCanonicalResult(raw, '1.0.0'), message));
    }

    it('an unsupported fallback version', () => {
      expectDecodeError(() => toCanonicalResult({}, '9.9.9'), /unsupported CNI version/);
    });
  });
});
