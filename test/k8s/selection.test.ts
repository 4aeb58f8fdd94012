import { describe, it, expect } from 'vitest';
import {
  DEFAULT_NETWORK_ANNOTATION,
  NETWORKS_ANNOTATION,
  checkDefaultRoutes,
  parseDefaultNetwork,
  parseNetworkSelections,
} from '../../src/k8s/selection.js';
import type { NetworkSelection } from '../../src/k8s/selection.js';
import { CNI_ERR, CniError } from '../../src/errors.js';

const parse = (v: string): NetworkSelection[] => parseNetworkSelections(v, 'p');

/** Asserts a CniError 7 whose message contains every fragment. */
function expectInvalid(fn: () => unknown, ...fragments: string[]): CniError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CniError);
  const err = caught as CniError;
  expect(err.code).toBe(CNI_ERR.INVALID_CONFIG);
  for (const f of fragments) expect(err.message).toContain(f);
  return err;
}

const invalid = (v: string, ...fragments: string[]): CniError =>
  expectInvalid(() => parse(v), `invalid ${NETWORKS_ANNOTATION} annotation`, ...fragments);

describe('comma form', () => {
  it('NAD-1: a bare name gets the pod namespace', () => {
    expect(parse('net-a')).toEqual([{ name: 'net-a', namespace: 'p' }]);
  });

  it('NAD-2: ns/name@ifname', () => {
    expect(parse('ns1/net-a@eth1')).toEqual([{ name: 'net-a', namespace: 'ns1', interface: 'eth1' }]);
  });

  it('NAD-3: items are trimmed', () => {
    expect(parse(' net-a , ns1/net-b ')).toEqual([
      { name: 'net-a', namespace: 'p' },
      { name: 'net-b', namespace: 'ns1' },
    ]);
  });

  it('NAD-4: whitespace around "/" and "@" is trimmed', () => {
    expect(parse('ns1 / net-a @ eth1')).toEqual([{ name: 'net-a', namespace: 'ns1', interface: 'eth1' }]);
  });

  it('NAD-5: inner whitespace fails the DNS-1123 regex', () => {
    invalid('n s/net', 'element 0 ("n s/net")', 'namespace "n s" must be a DNS-1123 label');
  });

  it("NAD-6: more than one '/' fails at '/'", () => {
    invalid('a/b/c', "failed at '/'", 'element 0 ("a/b/c")');
  });

  it("NAD-7: more than one '@' fails at '@'", () => {
    invalid('a@b@c', "failed at '@'");
  });

  it('NAD-8: an empty item is rejected at parse time (the reference accepts it)', () => {
    invalid('net-a,', 'element 1 ("")', 'empty element');
    invalid('net-a,,net-b', 'element 1 ("")');
  });

  it('NAD-9: an empty name is rejected', () => {
    invalid('ns1/', 'element 0 ("ns1/")', 'name must not be empty');
  });

  it('NAD-10: an empty namespace means the default one', () => {
    expect(parse('/net-a')).toEqual([{ name: 'net-a', namespace: 'p' }]);
  });

  it('NAD-11: "@eth1" has no name (error); "net-a@" means no interface', () => {
    invalid('@eth1', 'name must not be empty');
    expect(parse('net-a@')).toEqual([{ name: 'net-a', namespace: 'p' }]);
  });

  it.each(['Net-A', '-a', 'a-', 'a_b', 'a.b'])('NAD-12: name %j is not a DNS-1123 label', (name) => {
    invalid(name, `name ${JSON.stringify(name)} must be a DNS-1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?)`);
  });

  it('NAD-12: the error names the annotation, the element and the problem', () => {
    const err = invalid('net-x, ns1/Net-A');
    expect(err.message).toBe(
      `invalid ${NETWORKS_ANNOTATION} annotation: element 1 ("ns1/Net-A"): name "Net-A" must be a DNS-1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?)`,
    );
  });

  it('NAD-12: an upper-case namespace is rejected too', () => {
    invalid('NS/net', 'namespace "NS" must be a DNS-1123 label');
  });

  it('NAD-13: no length check on names', () => {
    const long = 'a'.repeat(80);
    expect(parse(long)).toEqual([{ name: long, namespace: 'p' }]);
  });

  it('NAD-14: the Multus ifname rule accepts "eth_1" and "Eth1"', () => {
    expect(parse('net-a@eth_1, net-b@Eth1')).toEqual([
      { name: 'net-a', namespace: 'p', interface: 'eth_1' },
      { name: 'net-b', namespace: 'p', interface: 'Eth1' },
    ]);
  });

  it('NAD-15: an ifname over 15 bytes is rejected', () => {
    invalid('net-a@averyveryverylongname', 'longer than 15 bytes');
    expect(parse('net-a@abcdefghijklmno')[0]?.interface).toBe('abcdefghijklmno');
  });

  it.each(['a:b', '.', '..'])('NAD-15: ifname %j is rejected (kernel rule)', (ifname) => {
    invalid(`net-a@${ifname}`, 'interface name');
  });

  it('NAD-16: null, true and 123 are comma-form network names', () => {
    expect(parse('null')).toEqual([{ name: 'null', namespace: 'p' }]);
    expect(parse('true')).toEqual([{ name: 'true', namespace: 'p' }]);
    expect(parse('123')).toEqual([{ name: '123', namespace: 'p' }]);
  });

  it('MN-11: order is kept and namespaces default to the pod namespace', () => {
    expect(parseNetworkSelections('net-a,net-b,other-ns/net-c', 'my-namespace')).toEqual([
      { name: 'net-a', namespace: 'my-namespace' },
      { name: 'net-b', namespace: 'my-namespace' },
      { name: 'net-c', namespace: 'other-ns' },
    ]);
  });

  it('NAD-24 / MN-24: duplicates are kept', () => {
    expect(parse('net-a,net-a')).toEqual([
      { name: 'net-a', namespace: 'p' },
      { name: 'net-a', namespace: 'p' },
    ]);
    expect(parse('net-a@eth1,net-b@eth1').map((s) => s.interface)).toEqual(['eth1', 'eth1']);
  });
});

describe('empty and form detection', () => {
  it('MN-10: an empty or whitespace-only value means no extra network', () => {
    expect(parse('')).toEqual([]);
    expect(parse('  \n ')).toEqual([]);
  });

  it('MN-10: the comma form and the JSON form give the same selection', () => {
    expect(parse('net-a')).toEqual(parse('[{"name":"net-a"}]'));
    expect(parse('ns1/net-a@eth1')).toEqual(parse('[{"name":"net-a","namespace":"ns1","interface":"eth1"}]'));
  });

  it('NAD-17: a JSON object (not a list) is an error', () => {
    invalid('{"name":"a"}', 'expected a JSON list of objects, got an object');
  });

  it('NAD-18: JSON [] means no extra network', () => {
    expect(parse('[]')).toEqual([]);
    expect(parse(' [ ] ')).toEqual([]);
  });

  it('NAD-19: [null] is an error, not a crash', () => {
    invalid('[null]', 'element 0 (null)', 'expected an object, got null');
  });

  it('NAD-19: other non-object elements and malformed JSON are errors', () => {
    invalid('[1]', 'element 0 (1)');
    invalid('["net-a"]', 'element 0 ("net-a")', 'expected an object');
    invalid('[[]]', 'expected an object, got an array');
    invalid('"net-a"', 'expected a JSON list');
    invalid('[{"name":"a"', 'not valid JSON');
  });

  it('never throws anything but a CniError 7 on odd input', () => {
    const inputs = ['[{}]', '[{"name":null}]', '[{"name":{}}]', '{', '"', '[{"name":"a","ips":[null]}]', ',', '/', '@', 'a@/b'];
    for (const v of inputs) {
      try {
        parse(v);
      } catch (err) {
        expect(err).toBeInstanceOf(CniError);
        expect((err as CniError).code).toBe(CNI_ERR.INVALID_CONFIG);
      }
    }
  });
});

describe('JSON form', () => {
  it('NAD-20: keys match case-insensitively (Go decoder)', () => {
    expect(parse('[{"Name":"a","NAMESPACE":"q"}]')).toEqual([{ name: 'a', namespace: 'q' }]);
  });

  it('NAD-20: an exact key wins over a case variant, whatever the order', () => {
    expect(parse('[{"name":"a","NAME":"b"}]')).toEqual([{ name: 'a', namespace: 'p' }]);
    expect(parse('[{"NAME":"b","name":"a"}]')).toEqual([{ name: 'a', namespace: 'p' }]);
  });

  it('NAD-21: duplicate keys: the last wins', () => {
    expect(parse('[{"name":"a","name":"b"}]')).toEqual([{ name: 'b', namespace: 'p' }]);
  });

  it('NAD-22: type and IP errors fail the whole annotation', () => {
    invalid('[{"name":"ok"},{"name":"a","ips":"1.2.3.4"}]', 'element 1 ("a")', '"ips" must be an array');
    invalid('[{"name":"a","interface":5}]', '"interface" must be a string, got the number 5');
    invalid('[{"name":"a","default-route":["x"]}]', '"default-route"[0] "x" is not a valid IP address');
  });

  it('NAD-23: a missing or empty name is rejected', () => {
    invalid('[{"namespace":"q"}]', 'element 0 ({"namespace":"q"})', '"name" is required');
    invalid('[{"name":""}]', '"name" must not be empty');
    invalid('[{"name":7}]', '"name" must be a string');
  });

  it('NAD-12: JSON names are DNS-1123 subdomains (dots allowed), namespaces labels', () => {
    expect(parse('[{"name":"a.b"}]')).toEqual([{ name: 'a.b', namespace: 'p' }]);
    invalid('[{"name":"A.b"}]', 'must be a DNS-1123 subdomain');
    invalid('[{"name":"a..b"}]', 'must be a DNS-1123 subdomain');
    invalid(`[{"name":"${'a'.repeat(254)}"}]`, 'must be a DNS-1123 subdomain');
    expect(parse(`[{"name":"${'a'.repeat(253)}"}]`)).toHaveLength(1);
    invalid('[{"name":"a","namespace":"q.r"}]', 'namespace "q.r" must be a DNS-1123 label');
  });

  it('NAD-24: duplicate elements are kept', () => {
    expect(parse('[{"name":"a"},{"name":"a"}]')).toHaveLength(2);
  });

  it('MN-12: unknown keys (reverse-DNS or not) are ignored', () => {
    expect(parse('[{"name":"a","org.example.x":1,"whatever":{"x":1}}]')).toEqual([{ name: 'a', namespace: 'p' }]);
  });

  it('MN-13: a missing or empty namespace means the pod namespace', () => {
    expect(parse('[{"name":"net-a","namespace":""}]')).toEqual([{ name: 'net-a', namespace: 'p' }]);
    expect(parse('[{"name":"net-a","namespace":null}]')).toEqual([{ name: 'net-a', namespace: 'p' }]);
  });

  it('MN-14: an explicit namespace', () => {
    expect(parse('[{"name":"net-c","namespace":"other-ns"}]')).toEqual([{ name: 'net-c', namespace: 'other-ns' }]);
  });

  it('MN-15 (a): ips pass through as given', () => {
    const [s] = parse('[{"name":"net-b","ips":["10.2.2.42/24","2001:db8::5/64","10.0.0.1"]}]');
    expect(s?.ips).toEqual(['10.2.2.42/24', '2001:db8::5/64', '10.0.0.1']);
  });

  it('MN-15 (c): ips [] is invalid', () => {
    invalid('[{"name":"n","ips":[]}]', '"ips" must have at least one element');
  });

  it('MN-15 (d) / MUL-3: invalid addresses and prefixes are rejected', () => {
    invalid('[{"name":"n","ips":["300.1.1.1"]}]', '"ips"[0] "300.1.1.1" is not a valid IP address or CIDR');
    invalid('[{"name":"n","ips":["10.0.0.1/33"]}]', '"10.0.0.1/33"');
    invalid('[{"name":"n","ips":["2001:db8::1/129"]}]', '"2001:db8::1/129"');
    invalid('[{"name":"n","ips":["10.0.0.1/"]}]', '"10.0.0.1/"');
    invalid('[{"name":"n","ips":["fe80::1%eth0"]}]', '"fe80::1%eth0"');
    expect(parse('[{"name":"n","ips":["2001:db8::1/128","0.0.0.0/0"]}]')[0]?.ips).toHaveLength(2);
  });

  it('MN-15 (e): ips given as a string is a type error', () => {
    invalid('[{"name":"n","ips":"10.0.0.1"}]', '"ips" must be an array of strings, got the string "10.0.0.1"');
  });

  it('MN-16 / MUL-3: mac accepts Go ParseMAC forms (6, 8, 20 octets; ":", "-", ".")', () => {
    const ok = [
      '02:23:45:67:89:01',
      '02-23-45-67-89-AB',
      '0223.4567.8901',
      '02:23:45:67:89:01:02:03',
      '0223.4567.8901.0203',
      Array.from({ length: 20 }, () => 'ab').join(':'),
      Array.from({ length: 10 }, () => 'abcd').join('.'),
    ];
    for (const mac of ok) expect(parse(JSON.stringify([{ name: 'n', mac }]))[0]?.mac).toBe(mac);
  });

  it.each(['02:23:45:67:89', '02:23:45-67:89:01', '0:23:45:67:89:01', '02:23:45:67:89:0g', '0223.4567', 'zz', '02:23:45:67:89:01:02'])(
    'MN-16 / MUL-3: mac %j is rejected',
    (mac) => {
      invalid(JSON.stringify([{ name: 'n', mac }]), `"mac" ${JSON.stringify(mac)} is not a valid hardware address`);
    },
  );

  it('MN-17: interface (and legacy interfaceRequest) set the ifname', () => {
    expect(parse('[{"name":"n","interface":"eth9"}]')[0]?.interface).toBe('eth9');
    expect(parse('[{"name":"n","interfaceRequest":"eth8"}]')[0]?.interface).toBe('eth8');
    expect(parse('[{"name":"n","interface":"eth9","interfaceRequest":"eth8"}]')[0]?.interface).toBe('eth9');
    expect(parse('[{"name":"n","interface":"","interfaceRequest":"eth8"}]')[0]?.interface).toBe('eth8');
  });

  it('MN-17: an invalid interface name is rejected', () => {
    invalid('[{"name":"n","interface":"averyveryverylongname"}]', '"interface" "averyveryverylongname" is longer than 15 bytes');
    invalid('[{"name":"n","interface":"a b"}]', 'must not contain whitespace');
    invalid('[{"name":"n","interfaceRequest":"a/b"}]', '"interfaceRequest" "a/b"');
  });

  it('MN-17 (b): a duplicate interface is not a parse error (caught at ADD)', () => {
    expect(parse('[{"name":"a","interface":"eth1"},{"name":"b","interface":"eth1"}]')).toHaveLength(2);
  });

  it('MN-18: cni-args must be an object and is kept as is', () => {
    expect(parse('[{"name":"n","cni-args":{"b":"2","c":"3"}}]')[0]?.cniArgs).toEqual({ b: '2', c: '3' });
    invalid('[{"name":"n","cni-args":["x"]}]', '"cni-args" must be an object, got an array');
    invalid('[{"name":"n","cni-args":"x"}]', '"cni-args" must be an object');
  });

  it('MN-19: portMappings pass through (protocol case kept, hostIP allowed)', () => {
    const [s] = parse('[{"name":"n","portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostPort":53,"containerPort":53,"protocol":"UDP","hostIP":"10.0.0.1"},{"HOSTPORT":1,"containerport":2}]}]');
    expect(s?.portMappings).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 53, containerPort: 53, protocol: 'UDP', hostIP: '10.0.0.1' },
      { hostPort: 1, containerPort: 2 },
    ]);
  });

  it.each([
    ['{"hostPort":0,"containerPort":80}', 'hostPort must be an integer in 1..65535, got 0'],
    ['{"hostPort":70000,"containerPort":80}', 'hostPort must be an integer in 1..65535, got 70000'],
    ['{"hostPort":80,"containerPort":80.5}', 'containerPort must be an integer'],
    ['{"hostPort":"80","containerPort":80}', 'hostPort must be an integer'],
    ['{"containerPort":80}', 'hostPort is required'],
    ['{"hostPort":80,"containerPort":80,"protocol":"icmp"}', 'protocol "icmp" must be TCP, UDP or SCTP'],
    ['{"hostPort":80,"containerPort":80,"hostIP":"nope"}', 'hostIP "nope" is not a valid IP address'],
  ])('MN-19: portMappings entry %s is rejected', (entry, fragment) => {
    invalid(`[{"name":"n","portMappings":[${entry}]}]`, fragment);
  });

  it('MN-19: portMappings must be a non-empty list of objects', () => {
    invalid('[{"name":"n","portMappings":[]}]', 'at least one element');
    invalid('[{"name":"n","portMappings":{"hostPort":1,"containerPort":1}}]', 'must be an array of objects');
    invalid('[{"name":"n","portMappings":[1]}]', '"portMappings"[0] must be an object');
  });

  it('MN-20: bandwidth passes through', () => {
    expect(parse('[{"name":"n","bandwidth":{"ingressRate":2048,"ingressBurst":300}}]')[0]?.bandwidth).toEqual({
      ingressRate: 2048,
      ingressBurst: 300,
    });
    expect(parse('[{"name":"n","bandwidth":{"egressRate":1,"egressBurst":2,"ingressRate":3}}]')[0]?.bandwidth).toEqual({
      egressRate: 1,
      egressBurst: 2,
      ingressRate: 3,
    });
  });

  it('MN-20: a burst without its rate, or bad numbers, are rejected', () => {
    invalid('[{"name":"n","bandwidth":{"ingressBurst":300}}]', '"bandwidth".ingressBurst requires a non-zero "bandwidth".ingressRate');
    invalid('[{"name":"n","bandwidth":{"egressRate":0,"egressBurst":5}}]', 'egressBurst requires');
    invalid('[{"name":"n","bandwidth":{"ingressRate":-1}}]', 'must be a non-negative integer, got -1');
    invalid('[{"name":"n","bandwidth":{"ingressRate":1.5}}]', 'must be a non-negative integer');
    invalid('[{"name":"n","bandwidth":[1]}]', '"bandwidth" must be an object');
  });

  it('MN-21 (a, c): default-route keeps plain IPs, may be empty, is absent when not given', () => {
    expect(parse('[{"name":"n","default-route":["10.0.0.1","2001:db8::1"]}]')[0]?.defaultRoute).toEqual(['10.0.0.1', '2001:db8::1']);
    expect(parse('[{"name":"n","default-route":[]}]')[0]?.defaultRoute).toEqual([]);
    expect(parse('[{"name":"n"}]')[0]).not.toHaveProperty('defaultRoute');
    invalid('[{"name":"n","default-route":["10.0.0.1/24"]}]', '"default-route"[0] "10.0.0.1/24" is not a valid IP address');
    invalid('[{"name":"n","default-route":"10.0.0.1"}]', '"default-route" must be an array');
  });

  it('MN-22: infiniband-guid uses the MAC parser', () => {
    expect(parse('[{"name":"n","infiniband-guid":"24:8a:07:03:00:8d:ae:2f"}]')[0]?.infinibandGuid).toBe('24:8a:07:03:00:8d:ae:2f');
    invalid('[{"name":"n","infiniband-guid":"24:8a"}]', '"infiniband-guid" "24:8a" is not a valid hardware address');
  });

  it('MN-23: ipam-claim-reference is kept, but not together with ips', () => {
    expect(parse('[{"name":"n","ipam-claim-reference":"vm1.net"}]')[0]?.ipamClaimReference).toBe('vm1.net');
    invalid('[{"name":"n","ips":["10.0.0.5/24"],"ipam-claim-reference":"vm1.net"}]', '"ips" and "ipam-claim-reference" must not be used together');
  });

  it('deviceID is kept; empty optional strings read as absent (upstream §4.4)', () => {
    expect(parse('[{"name":"n","deviceID":"0000:03:00.1"}]')[0]?.deviceID).toBe('0000:03:00.1');
    expect(parse('[{"name":"n","deviceID":"","mac":"","interface":"","infiniband-guid":""}]')).toEqual([{ name: 'n', namespace: 'p' }]);
  });

  it('MN-10: a full element maps every key', () => {
    const v = JSON.stringify([
      {
        name: 'net-b',
        namespace: 'ns1',
        interface: 'net9',
        ips: ['10.2.2.42/24'],
        mac: '02:23:45:67:89:01',
        'infiniband-guid': '24:8a:07:03:00:8d:ae:2f',
        portMappings: [{ hostPort: 8080, containerPort: 80 }],
        bandwidth: { ingressRate: 1 },
        deviceID: 'dev',
        'cni-args': { a: 1 },
        'default-route': ['10.2.2.1'],
      },
    ]);
    expect(parse(v)).toEqual([
      {
        name: 'net-b',
        namespace: 'ns1',
        interface: 'net9',
        ips: ['10.2.2.42/24'],
        mac: '02:23:45:67:89:01',
        infinibandGuid: '24:8a:07:03:00:8d:ae:2f',
        portMappings: [{ hostPort: 8080, containerPort: 80 }],
        bandwidth: { ingressRate: 1 },
        deviceID: 'dev',
        cniArgs: { a: 1 },
        defaultRoute: ['10.2.2.1'],
      },
    ]);
  });
});

describe('default-network annotation', () => {
  it('MUL-1: namespace defaults to the multus namespace', () => {
    expect(parseDefaultNetwork('other-default', 'kube-system')).toEqual({ name: 'other-default', namespace: 'kube-system' });
    expect(parseDefaultNetwork('[{"name":"x","namespace":"q"}]', 'kube-system')).toEqual({ name: 'x', namespace: 'q' });
  });

  it('MUL-1: more than one network is an error', () => {
    const err = expectInvalid(() => parseDefaultNetwork('a,b', 'kube-system'), 'more than one default network is specified');
    expect(err.message).toBe('more than one default network is specified');
  });

  it('MUL-1: no network at all, or a bad one, is an error naming the annotation', () => {
    expectInvalid(() => parseDefaultNetwork('[]', 'kube-system'), DEFAULT_NETWORK_ANNOTATION, 'no default network is specified');
    expectInvalid(() => parseDefaultNetwork('', 'kube-system'), 'no default network is specified');
    expectInvalid(() => parseDefaultNetwork('Bad', 'kube-system'), `invalid ${DEFAULT_NETWORK_ANNOTATION} annotation: element 0 ("Bad")`);
  });
});

describe('checkDefaultRoutes', () => {
  const sel = (...gws: string[][]): NetworkSelection[] => gws.map((defaultRoute, i) => ({ name: `n${i}`, namespace: 'p', defaultRoute }));

  it('MUL-8: one IPv4 and one IPv6 gateway, even on different elements, are fine', () => {
    expect(() => checkDefaultRoutes(sel(['10.0.0.1'], ['2001:db8::1'], []))).not.toThrow();
    expect(() => checkDefaultRoutes(sel(['10.0.0.1', '2001:db8::1']))).not.toThrow();
    expect(() => checkDefaultRoutes([{ name: 'a', namespace: 'p' }])).not.toThrow();
  });

  it('MUL-8 / MN-21 (b): two gateways of one family is the ECMP error', () => {
    for (const s of [sel(['10.0.0.1'], ['10.0.1.1']), sel(['2001:db8::1', '2001:db8::2']), sel(['10.0.0.1', '10.0.0.1'])]) {
      const err = expectInvalid(() => checkDefaultRoutes(s));
      expect(err.message).toBe('multus does not support ECMP for default-route');
    }
  });

  it('MUL-8: an IPv4-mapped IPv6 gateway counts as IPv4', () => {
    expectInvalid(() => checkDefaultRoutes(sel(['10.0.0.1'], ['::ffff:10.0.1.1'])), 'ECMP');
  });
});
