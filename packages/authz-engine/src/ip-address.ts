import { formatIp } from '@amesh/ip';
import { AuthzError } from './errors.js';

/**
 * A parsed IP address. IPv4 is one 32-bit word, IPv6 four, most significant
 * first. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack
 * Node socket reports) are normalised to IPv4 so IPv4 blocks match them.
 */
export interface IpAddress {
  readonly family: 4 | 6;
  /** Unsigned 32-bit words: one for IPv4, four for IPv6. */
  readonly words: readonly number[];
}

/** A parsed CIDR block (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a /32 or /128. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly prefixLength: number;
  /** The network words, already masked. */
  readonly words: readonly number[];
  /** Per-word masks. */
  readonly masks: readonly number[];
  /** Canonical text, for messages and explanations. */
  readonly text: string;
}

/**
 * Parses an IPv4 or IPv6 address (no zone, no brackets).
 * @throws {AuthzError} `AUTHZ_ERR_INVALID_ADDRESS` when the text is not an IP address
 * @example
 * ```ts
 * parseIpAddress('10.1.2.3').family; // 4
 * ```
 */
export function parseIpAddress(text: string): IpAddress {
  const ip = tryParseIpAddress(text);
  if (ip === undefined) {
    throw new AuthzError('AUTHZ_ERR_INVALID_ADDRESS', `not an IP address: ${JSON.stringify(text)}`);
  }
  return ip;
}

/** Like {@link parseIpAddress}, but returns `undefined` instead of throwing. */
export function tryParseIpAddress(text: string): IpAddress | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, words: [v4] };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  return normaliseMapped(v6);
}

/**
 * Parses a CIDR block or a single address (`10.0.0.1` = `10.0.0.1/32`).
 * Host bits are cleared, as Istio and Envoy do.
 * @throws {AuthzError} `AUTHZ_ERR_INVALID_ADDRESS` when the text is not a CIDR block
 */
export function parseCidr(text: string): Cidr {
  const cidr = tryParseCidr(text);
  if (cidr === undefined) {
    throw new AuthzError(
      'AUTHZ_ERR_INVALID_ADDRESS',
      `not an IP address or CIDR block: ${JSON.stringify(text)}`,
    );
  }
  return cidr;
}

/** Like {@link parseCidr}, but returns `undefined` instead of throwing. */
export function tryParseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  let family: 4 | 6;
  let words: number[];
  const v4 = parseIpv4(addressText);
  if (v4 !== undefined) {
    family = 4;
    words = [v4];
  } else {
    const v6 = parseIpv6(addressText);
    if (v6 === undefined) return undefined;
    family = 6;
    words = v6;
  }
  const max = family === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return undefined;
    prefixLength = Number(lengthText);
    if (prefixLength > max) return undefined;
  }
  return makeCidr(family, words, prefixLength);
}

/**
 * Builds a CIDR block from the wire form's `Address { address, length }`:
 * 4 bytes for IPv4, 16 for IPv6, `length` the prefix length.
 * @throws {AuthzError} `AUTHZ_ERR_INVALID_ADDRESS` for another byte count or a prefix longer than the address
 */
export function cidrFromBytes(address: Uint8Array, length: number): Cidr {
  if (address.length !== 4 && address.length !== 16) {
    throw new AuthzError('AUTHZ_ERR_INVALID_ADDRESS', `an address has 4 or 16 bytes, got ${address.length}`);
  }
  const family = address.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(length) || length < 0 || length > max) {
    throw new AuthzError('AUTHZ_ERR_INVALID_ADDRESS', `prefix length ${length} is outside 0..${max}`);
  }
  const words: number[] = [];
  for (let i = 0; i < address.length; i += 4) {
    words.push(
      ((address[i]! << 24) | (address[i + 1]! << 16) | (address[i + 2]! << 8) | address[i + 3]!) >>> 0,
    );
  }
  return makeCidr(family, words, length);
}

/** The wire bytes of an address (4 or 16), for building wire-form policies. */
export function ipAddressToBytes(ip: IpAddress): Uint8Array {
  const bytes = new Uint8Array(ip.words.length * 4);
  ip.words.forEach((word, i) => {
    bytes[i * 4] = word >>> 24;
    bytes[i * 4 + 1] = (word >>> 16) & 0xff;
    bytes[i * 4 + 2] = (word >>> 8) & 0xff;
    bytes[i * 4 + 3] = word & 0xff;
  });
  return bytes;
}

/** True when `ip` lies inside `cidr` (families must agree). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const w = ip.words;
  const n = cidr.words;
  const m = cidr.masks;
  for (let i = 0; i < n.length; i++) {
    if (((w[i]! ^ n[i]!) & m[i]!) !== 0) return false;
  }
  return true;
}

/** Canonical text of an address (IPv6 compressed per RFC 5952). */
export function formatIpAddress(ip: IpAddress): string {
  return formatIp(ipAddressToBytes(ip));
}

function makeCidr(family: 4 | 6, words: number[], prefixLength: number): Cidr {
  const masks: number[] = [];
  let remaining = prefixLength;
  for (let i = 0; i < words.length; i++) {
    const bits = Math.min(32, Math.max(0, remaining));
    masks.push(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
    remaining -= 32;
  }
  let masked = words.map((w, i) => (w & masks[i]!) >>> 0);
  // An IPv4-mapped block (::ffff:0:0/96 and longer) is the IPv4 block it maps.
  if (family === 6 && prefixLength >= 96 && masked[0] === 0 && masked[1] === 0 && masked[2] === 0xffff) {
    return makeCidr(4, [words[3]!], prefixLength - 96);
  }
  if (family === 4) masked = [masked[0]!];
  return {
    family,
    prefixLength,
    words: masked,
    masks,
    text: `${formatIpAddress({ family, words: masked })}/${prefixLength}`,
  };
}

function normaliseMapped(words: number[]): IpAddress {
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    return { family: 4, words: [words[3]!] };
  }
  return { family: 6, words };
}

/** Dotted quad, each part 0..255 in decimal without leading zeros (as `inet_pton`). */
function parseIpv4(text: string): number | undefined {
  const length = text.length;
  if (length < 7 || length > 15) return undefined;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return undefined; // leading zero
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return (value * 256 + part) >>> 0;
}

/** RFC 4291 §2.2 text forms: full, `::` compressed, and a trailing dotted quad. */
function parseIpv6(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45 || text.indexOf(':') < 0) return undefined;
  const doubleColon = text.indexOf('::');
  if (doubleColon >= 0 && text.indexOf('::', doubleColon + 1) >= 0) return undefined;
  const head = doubleColon >= 0 ? text.slice(0, doubleColon) : text;
  const tail = doubleColon >= 0 ? text.slice(doubleColon + 2) : '';
  const headGroups = parseGroups(head, doubleColon < 0);
  const tailGroups = doubleColon >= 0 ? parseGroups(tail, true) : [];
  if (headGroups === undefined || tailGroups === undefined) return undefined;
  const total = headGroups.length + tailGroups.length;
  if (doubleColon >= 0 ? total > 7 : total !== 8) return undefined;
  const groups = [...headGroups, ...new Array<number>(8 - total).fill(0), ...tailGroups];
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((groups[i]! << 16) | groups[i + 1]!) >>> 0);
  return words;
}

function parseGroups(text: string, mayEndWithIpv4: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && mayEndWithIpv4 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(v4 >>> 16, v4 & 0xffff);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
    groups.push(Number.parseInt(part, 16));
  }
  return groups;
}
