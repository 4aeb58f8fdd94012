/**
 * A minimal DER (ASN.1 Distinguished Encoding Rules, X.690) encoder: just the types a PKCS#10
 * certificate signing request needs. node:crypto signs and exports keys but builds no CSRs,
 * and one small encoder is less to trust than a dependency for a few dozen bytes of structure.
 * Every value is a TLV: a tag byte, the content length, the content.
 */

/** Universal tags used here. */
const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Definite length: short form below 128, else 0x80|n followed by n big-endian length bytes. */
function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with an arbitrary tag byte (also for types this module has no helper for). */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const content = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Buffer[]): Buffer {
  return tlv(TAG.SEQUENCE, ...items);
}

/** SET OF. DER sorts the elements by their encodings, so `set` does too. */
export function set(...items: Buffer[]): Buffer {
  return tlv(TAG.SET, ...[...items].sort((a, b) => Buffer.compare(a, b)));
}

/** A non-negative INTEGER: minimal big-endian bytes, with a 0x00 prefix when the top bit is set (else it reads negative). */
export function integer(value: bigint): Buffer {
  if (value < 0n) throw new RangeError('der.integer: negative values are not supported');
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.INTEGER, bytes);
}

/** OBJECT IDENTIFIER from dotted form: the first two arcs share a byte (40·a + b), the rest are base-128 with continuation bits. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new TypeError(`der.oid: bad arc in ${JSON.stringify(dotted)}`);
    return Number(a);
  });
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [40 * first + second, ...rest]) {
    const groups = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(TAG.OID, Buffer.from(bytes));
}

export function utf8String(text: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
}

/** BIT STRING of whole bytes (the leading byte counts unused bits: none). */
export function bitString(bytes: Buffer): Buffer {
  return tlv(TAG.BIT_STRING, Buffer.from([0]), bytes);
}

/** A context-specific constructed tag `[n]` around `contents` (EXPLICIT tagging, or an IMPLICIT SET/SEQUENCE). */
export function contextTag(n: number, ...contents: Buffer[]): Buffer {
  return tlv(0xa0 | n, ...contents);
}

/** Base64 in 64-column lines between BEGIN/END markers. */
export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
