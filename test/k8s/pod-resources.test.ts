import { describe, expect, it } from 'vitest';
import { podDevicesOf } from '../../src/k8s/pod-resources.js';

/** Protobuf encoding by hand: a length-delimited field, and the other wire types to be skipped. */
const bytesField = (n: number, b: Buffer): Buffer => Buffer.concat([Buffer.from([(n << 3) | 2, b.length]), b]);
const str = (n: number, s: string): Buffer => bytesField(n, Buffer.from(s));

describe('pod-resources List() answer decoding', () => {
  const device = Buffer.concat([str(1, 'example.com/vf'), str(2, 'b'), str(2, 'a')]);
  const container = Buffer.concat([str(1, 'c'), bytesField(2, device), Buffer.from([(3 << 3) | 0, 0x96, 0x01])]);
  // Fields a later kubelet may add, of every wire type: varint, fixed64, fixed32.
  const future = Buffer.concat([Buffer.from([(13 << 3) | 0, 1]), Buffer.from([(14 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]), Buffer.from([(15 << 3) | 5, 1, 2, 3, 4])]);
  const pod = (ns: string, name: string): Buffer => bytesField(1, Buffer.concat([str(1, name), str(2, ns), future, bytesField(3, container)]));

  it('keeps the named pod\'s devices per resource, skipping fields it does not know', () => {
    const answer = Buffer.concat([pod('other', 'p'), pod('default', 'p')]);
    expect(podDevicesOf(answer, 'default', 'p')).toEqual(new Map([['example.com/vf', ['b', 'a']]]));
    expect(podDevicesOf(answer, 'default', 'q')).toEqual(new Map());
  });

  it('refuses a truncated answer', () => {
    const answer = pod('default', 'p');
    expect(() => podDevicesOf(answer.subarray(0, answer.length - 3), 'default', 'p')).toThrow(/truncated/);
  });
});
