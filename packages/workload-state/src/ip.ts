/**
 * IP address helpers over the byte form xDS uses (4 or 16 bytes), on
 * `@amesh/ip`'s parser and RFC 5952 formatter.
 */
import { formatIp, parseIpv4, parseIpv6 } from '@amesh/ip';

export { formatIp } from '@amesh/ip';

/**
 * Parses an IPv4 or IPv6 string into bytes; IPv4-mapped IPv6
 * (`::ffff:10.0.0.1`, as dual-stack sockets report) becomes 4 bytes.
 * Returns `undefined` for anything that is not an IP address.
 */
export function parseIp(text: string): Uint8Array | undefined {
  const v4 = parseIpv4(text);
  if (v4) return v4;
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = bare.indexOf('%');
  const v6 = parseIpv6(zone >= 0 ? bare.slice(0, zone) : bare);
  if (!v6) return undefined;
  const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

/** A canonical string key for an IP on a network: `<network>/<ip>`. */
export function ipKey(network: string, ip: Uint8Array | string): string {
  const bytes = typeof ip === 'string' ? parseIp(ip) : ip;
  return `${network}/${bytes ? formatIp(bytes) : String(ip)}`;
}
