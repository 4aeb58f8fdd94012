/**
 * IP address checks with node:net's results (`isIP`, `isIPv4`, `isIPv6`; test/util/ip-address.test.ts
 * compares them on generated input), without node:net. Loading node:net and the streams under it
 * costs a thin DEL, which otherwise needs neither, 5-10 ms here; the checks are all it used.
 */

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
/** Dotted decimal, four octets, no leading zeros. */
const IPV4 = new RegExp(`^(?:${OCTET}\\.){3}${OCTET}$`);
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** What may follow `%` in a scoped IPv6 address. */
const ZONE = /^[0-9a-zA-Z.:-]+$/;

export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/**
 * Eight colon-separated groups of 1-4 hex digits, the last two of which may be written as an
 * IPv4 address; `::` once, for one or more groups of zeros; then an optional `%zone`.
 */
export function isIPv6(text: string): boolean {
  const percent = text.indexOf('%');
  if (percent >= 0 && !ZONE.test(text.slice(percent + 1))) return false;
  let address = percent >= 0 ? text.slice(0, percent) : text;
  let groups = 8;
  if (address.includes('.')) {
    const lastColon = address.lastIndexOf(':');
    if (lastColon < 0 || !isIPv4(address.slice(lastColon + 1))) return false;
    // The IPv4 part stands for two groups: check the rest with one placeholder group.
    address = `${address.slice(0, lastColon + 1)}0`;
    groups = 7;
  }
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const written = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
  if (!written.every((group) => HEX_GROUP.test(group))) return false;
  return halves.length === 2 ? written.length < groups : written.length === groups;
}

/** 4 or 6 for an address of that family, else 0. */
export function isIP(text: string): 0 | 4 | 6 {
  if (isIPv4(text)) return 4;
  return isIPv6(text) ? 6 : 0;
}
