import { describe, it, expect } from 'vitest';
import { NETWORK_STATUS_ANNOTATION, formatNetworkStatus, networkStatusesFor } from '../../src/k8s/network-status.js';
import type { NetworkStatus } from '../../src/k8s/network-status.js';
import { toCanonicalResult } from '../../src/cni/result.js';
import type { CniResult } from '../../src/cni/result.js';

const SB = '/var/run/netns/pod';

describe('networkStatusesFor', () => {
  it('NAD-25: exactly one sandbox interface gets every IP (bare), its mac and mtu', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'net1', mac: '02:00:00:00:00:01', mtu: 9000, sandbox: SB }],
      ips: [{ address: '1.1.1.3/24' }, { address: '2001::1/64' }],
      dns: {},
    };
    expect(networkStatusesFor(r, 'p/n', false)).toEqual([
      { name: 'p/n', interface: 'net1', ips: ['1.1.1.3', '2001::1'], mac: '02:00:00:00:00:01', mtu: 9000, dns: {} },
    ]);
  });

  it('NAD-26: one entry per sandbox interface, IPs by index; only the first is default', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'foo', mac: '02:00:00:00:00:00' },
        { name: 'example0', mac: '02:00:00:00:00:01', sandbox: SB },
        { name: 'example1', mac: '02:00:00:00:00:02', sandbox: SB },
      ],
      ips: [
        { address: '10.0.0.1/24', interface: 1 },
        { address: '10.0.0.2/24', interface: 1 },
        { address: '10.0.0.3/24', interface: 2 },
      ],
    };
    expect(networkStatusesFor(r, 'p/n', false)).toEqual([
      { name: 'p/n', interface: 'example0', ips: ['10.0.0.1', '10.0.0.2'], mac: '02:00:00:00:00:01', dns: {} },
      { name: 'p/n', interface: 'example1', ips: ['10.0.0.3'], mac: '02:00:00:00:00:02', dns: {} },
    ]);
    const asDefault = networkStatusesFor(r, 'cbr0', true);
    expect(asDefault.map((e) => e.default)).toEqual([true, undefined]);
    expect(asDefault[1]).not.toHaveProperty('default');
  });

  it('NAD-27: IPs without an index (or with a negative one) go to the last sandbox entry', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'eth0', sandbox: SB },
        { name: 'eth1', sandbox: SB },
        { name: 'veth-host' },
      ],
      ips: [{ address: '10.0.0.1/24' }, { address: '10.0.0.2/24', interface: 0 }, { address: '10.0.0.3/24', interface: -1 }],
    };
    const out = networkStatusesFor(r, 'p/n', false);
    expect(out.map((e) => [e.interface, e.ips])).toEqual([
      ['eth0', ['10.0.0.2']],
      ['eth1', ['10.0.0.1', '10.0.0.3']],
    ]);
  });

  it('NAD-28: the sandbox interface named by an IP with a gateway is the default one', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'veth0' }, { name: 'eth0', sandbox: SB }, { name: 'veth1' }, { name: 'eth1', sandbox: SB }],
      ips: [
        { address: '10.0.0.2/24', interface: 1 },
        { address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 3 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
    };
    const out = networkStatusesFor(r, 'cbr0', true);
    expect(out).toEqual([
      { name: 'cbr0', interface: 'eth0', ips: ['10.0.0.2'], dns: {} },
      { name: 'cbr0', interface: 'eth1', ips: ['10.1.0.2'], default: true, dns: {}, gateway: ['10.1.0.1'] },
    ]);
    // Without any gateway IP, the first sandbox interface is the default one.
    const noGw: CniResult = { ...r, ips: [{ address: '10.0.0.2/24', interface: 1 }, { address: '10.1.0.2/24', interface: 3 }] };
    expect(networkStatusesFor(noGw, 'cbr0', true).map((e) => e.default === true)).toEqual([true, false]);
    // A gateway IP on a host-side interface does not count.
    const hostGw: CniResult = { ...r, ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1', interface: 2 }] };
    expect(networkStatusesFor(hostGw, 'cbr0', true).map((e) => e.default === true)).toEqual([true, false]);
  });

  it('NAD-28: never more than one default entry, and none unless isDefault', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'a', sandbox: SB }, { name: 'b', sandbox: SB }],
      ips: [
        { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 1 },
        { address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 0 },
      ],
    };
    expect(networkStatusesFor(r, 'cbr0', true).map((e) => e.default === true)).toEqual([false, true]);
    expect(networkStatusesFor(r, 'p/n', false).some((e) => 'default' in e)).toBe(false);
  });

  it('NAD-29 / MN-27: a result without interfaces still gives one minimal entry (spec, not reference)', () => {
    const r = toCanonicalResult({ cniVersion: '0.2.0', ip4: { ip: '10.1.0.5/16' } }, '0.2.0');
    expect(networkStatusesFor(r, 'p/n', false, { ifname: 'net1' })).toEqual([
      { name: 'p/n', interface: 'net1', ips: ['10.1.0.5'], dns: {} },
    ]);
    const bare: CniResult = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/16' }, { address: 'fd00::5/64' }] };
    expect(networkStatusesFor(bare, 'cbr0', true)).toEqual([{ name: 'cbr0', ips: ['10.1.0.5', 'fd00::5'], default: true, dns: {} }]);
    expect(networkStatusesFor({ cniVersion: '1.0.0' }, 'cbr0', true, { ifname: '' })).toEqual([{ name: 'cbr0', default: true, dns: {} }]);
  });

  it('NAD-30: interfaces but none in the sandbox: one entry, no interface/mac, every IP', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'br0', mac: '02:00:00:00:00:01', mtu: 1500 }],
      ips: [{ address: '10.0.0.2/24', interface: 0 }, { address: '10.0.0.3/24' }],
    };
    expect(networkStatusesFor(r, 'p/n', false, { ifname: 'net1' })).toEqual([{ name: 'p/n', ips: ['10.0.0.2', '10.0.0.3'], dns: {} }]);
  });

  it('NAD-31: gateways of default routes (0.0.0.0/0, ::/0, no dst) only', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'eth0', sandbox: SB }],
      ips: [{ address: '10.10.10.2/24', interface: 0 }],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.10.10.10' },
        { dst: '10.10.10.0/24', gw: '10.10.10.1' },
        { dst: '', gw: '20.20.20.20' },
        { dst: '::/0', gw: '2001:0DB8::1' },
        { dst: '0.0.0.0/0' },
      ],
    };
    const [e] = networkStatusesFor(r, 'p/n', false);
    expect(e?.gateway).toEqual(['10.10.10.10', '20.20.20.20', '2001:db8::1']);
  });

  it('NAD-31: with several sandbox interfaces the gateways go to the primary entry only', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'a', sandbox: SB }, { name: 'b', sandbox: SB }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
    };
    expect(networkStatusesFor(r, 'p/n', false).map((e) => e.gateway)).toEqual([['10.0.0.1'], undefined]);
  });

  it('MN-28: a pod with only the default network gets one entry with default:true', () => {
    const r = toCanonicalResult(
      {
        cniVersion: '1.0.0',
        interfaces: [{ name: 'cni0', mac: 'aa:bb:cc:dd:ee:01' }, { name: 'veth1', mac: 'aa:bb:cc:dd:ee:02' }, { name: 'eth0', mac: 'aa:bb:cc:dd:ee:03', sandbox: SB }],
        ips: [{ interface: 2, address: '10.244.1.73/24', gateway: '10.244.1.1' }],
        dns: {},
      },
      '1.0.0',
    );
    const entries = networkStatusesFor(r, 'cbr0', true);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.default).toBe(true);
    expect(JSON.parse(formatNetworkStatus(entries))).toEqual([
      { name: 'cbr0', interface: 'eth0', ips: ['10.244.1.73'], mac: 'aa:bb:cc:dd:ee:03', default: true, dns: {} },
    ]);
  });

  it('MN-30: the entry name is the one given (ns/name)', () => {
    const r: CniResult = { cniVersion: '1.1.0', interfaces: [{ name: 'net1', sandbox: SB }] };
    expect(networkStatusesFor(r, 'p/n', false)[0]?.name).toBe('p/n');
  });

  it('MN-31: interface is the sandbox interface, not a host-side one', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'br0' }, { name: 'veth1' }, { name: 'eth0', sandbox: SB }],
    };
    expect(networkStatusesFor(r, 'p/n', false).map((e) => e.interface)).toEqual(['eth0']);
  });

  it('MN-32: host-side IPs never leak in; IPs are bare and canonical', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'br0' }, { name: 'veth1' }, { name: 'eth0', sandbox: SB }],
      ips: [
        { address: '10.0.0.1/24', interface: 0 },
        { address: '10.1.0.5/24', interface: 2 },
        { address: '2001:0DB8:0:0::5/64', interface: 2 },
        { address: '::ffff:10.2.0.5/120', interface: 2 },
        { address: '10.3.0.5/24', interface: 7 },
      ],
    };
    expect(networkStatusesFor(r, 'p/n', false)[0]?.ips).toEqual(['10.1.0.5', '2001:db8::5', '10.2.0.5']);
  });

  it('MN-33: mac and mtu come from the interface; absent or zero are omitted', () => {
    const r: CniResult = {
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'net1', mac: '86:1d:96:ff:55:0d', mtu: 1400, sandbox: SB },
        { name: 'net2', mtu: 0, sandbox: SB },
      ],
    };
    const [a, b] = networkStatusesFor(r, 'p/n', false);
    expect(a).toMatchObject({ interface: 'net1', mac: '86:1d:96:ff:55:0d', mtu: 1400 });
    expect(b).toEqual({ name: 'p/n', interface: 'net2', dns: {} });
  });

  it('MN-34: default is omitted (not false) for non-default networks', () => {
    const r: CniResult = { cniVersion: '1.1.0', interfaces: [{ name: 'net1', sandbox: SB }] };
    const [e] = networkStatusesFor(r, 'p/n', false);
    expect(e).not.toHaveProperty('default');
    expect(formatNetworkStatus(networkStatusesFor(r, 'p/n', false))).not.toContain('default');
  });

  it('MN-35: dns is copied from the result and always present', () => {
    const dns = { nameservers: ['10.0.0.53'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] };
    const r: CniResult = { cniVersion: '1.1.0', interfaces: [{ name: 'net1', sandbox: SB }], dns };
    const [e] = networkStatusesFor(r, 'p/n', false);
    expect(e?.dns).toEqual(dns);
    expect(e?.dns.nameservers).not.toBe(dns.nameservers);
    const noDns: CniResult = { cniVersion: '1.1.0', interfaces: [{ name: 'net1', sandbox: SB }] };
    expect(networkStatusesFor(noDns, 'p/n', false)[0]?.dns).toEqual({});
    const emptyFields: CniResult = { ...noDns, dns: { nameservers: [], domain: '', search: [] } };
    expect(networkStatusesFor(emptyFields, 'p/n', false)[0]?.dns).toEqual({});
  });

  it('MN-37: device-info from opts goes on every entry', () => {
    const deviceInfo = { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:03:00.1' } };
    const r: CniResult = { cniVersion: '1.1.0', interfaces: [{ name: 'a', sandbox: SB }, { name: 'b', sandbox: SB }] };
    expect(networkStatusesFor(r, 'p/n', false, { deviceInfo }).map((e) => e['device-info'])).toEqual([deviceInfo, deviceInfo]);
    expect(networkStatusesFor(r, 'p/n', false)[0]).not.toHaveProperty('device-info');
  });
});

describe('formatNetworkStatus', () => {
  it('MN-26 / MUL-9: exact upstream format for the quickstart example', () => {
    const entries: NetworkStatus[] = [
      { name: 'cbr0', ips: ['10.244.1.73'], default: true, dns: {} },
      { name: 'default/macvlan-conf', interface: 'net1', ips: ['192.168.1.205'], mac: '86:1d:96:ff:55:0d', dns: {} },
    ];
    const expected = `[{
    "name": "cbr0",
    "ips": [
        "10.244.1.73"
    ],
    "default": true,
    "dns": {}
},{
    "name": "default/macvlan-conf",
    "interface": "net1",
    "ips": [
        "192.168.1.205"
    ],
    "mac": "86:1d:96:ff:55:0d",
    "dns": {}
}]`;
    expect(formatNetworkStatus(entries)).toBe(expected);
    expect(Array.isArray(JSON.parse(formatNetworkStatus(entries)))).toBe(true);
  });

  it('MN-37: keys in upstream order whatever the input order; empties omitted', () => {
    const e = {
      gateway: ['10.0.0.1'],
      'device-info': { type: 'pci' },
      dns: { options: ['ndots:5'], nameservers: ['10.0.0.53'] },
      default: false,
      mtu: 0,
      mac: '02:00:00:00:00:01',
      ips: [],
      interface: 'net1',
      name: 'p/n',
    } as NetworkStatus;
    expect(formatNetworkStatus([e])).toBe(`[{
    "name": "p/n",
    "interface": "net1",
    "mac": "02:00:00:00:00:01",
    "dns": {
        "nameservers": [
            "10.0.0.53"
        ],
        "options": [
            "ndots:5"
        ]
    },
    "device-info": {
        "type": "pci"
    },
    "gateway": [
        "10.0.0.1"
    ]
}]`);
  });

  it('MN-26: no entries is "[]"; HTML characters are escaped like Go', () => {
    expect(formatNetworkStatus([])).toBe('[]');
    expect(formatNetworkStatus([{ name: 'a<b>&c\u2028', dns: {} }])).toBe('[{\n    "name": "a\\u003cb\\u003e\\u0026c\\u2028",\n    "dns": {}\n}]');
  });

  it('MN-26: the annotation key', () => {
    expect(NETWORK_STATUS_ANNOTATION).toBe('k8s.v1.cni.cncf.io/network-status');
  });
});
