import fc from 'fast-check';
import { isIP as netIsIP, isIPv4 as netIsIPv4, isIPv6 as netIsIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isIP, isIPv4, isIPv6 } from '../../src/util/ip-address.js';

/** src/util/ip-address.ts must answer as node:net does, for any string. */
function sameAsNodeNet(text: string): void {
  expect([isIP(text), isIPv4(text), isIPv6(text)], JSON.stringify(text)).toEqual([netIsIP(text), netIsIPv4(text), netIsIPv6(text)]);
}

/** Strings made of the pieces addresses (and near misses) are made of. */
const addressLike = fc
  .array(fc.constantFrom('::', ':', '.', '0', '1', '01', '255', '256', 'a', 'ffff', 'FFFF', 'fffff', 'g', '%', 'eth0', '-', ' ', '1.2.3.4', '::ffff:'), { maxLength: 12 })
  .map((pieces) => pieces.join(''));

describe('IP address checks without node:net', () => {
  it('answer as node:net does on the cases that decide it', () => {
    for (const text of ['', '::', ':::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '1::2::3', '1:2:3:4:5:6:7:8:9', 'abcde::', 'g::1',
      '1.2.3.4', '01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3', '1..2.3.4', ' 1.2.3.4', '1.2.3.4%eth0', '١.2.3.4',
      '::ffff:1.2.3.4', '::1.2.3.4', ':1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5::1.2.3.4', '1:2:3:4:5:6::1.2.3.4', '::ffff:1.2.3',
      'fe80::1%eth0', 'fe80::1%a.b:c-d', 'fe80::1%', 'fe80::1%eth0%x', '%eth0']) {
      sameAsNodeNet(text);
    }
  });

  it('answer as node:net does on generated addresses and near misses', () => {
    fc.assert(fc.property(fc.oneof(addressLike, fc.ipV4(), fc.ipV4Extended(), fc.ipV6(), fc.string({ maxLength: 24 })), sameAsNodeNet), { numRuns: 20_000 });
  });
});
