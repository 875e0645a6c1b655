/**
 * IP addresses as text and bytes (the 4- or 16-byte form xDS and DNS carry):
 * strict parsing of IPv4 and IPv6 text and RFC 5952 canonical text. Pure,
 * no `node:net`, so every package can use it anywhere.
 * @packageDocumentation
 */

const IPV4_PART = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const IPV6_CHARS = /^[0-9a-fA-F:.]+$/;

/**
 * The 4 bytes of a dotted-quad IPv4 address, or `undefined` when `text` is
 * not one (each part decimal 0..255 without leading zeros).
 *
 * @example
 * ```ts
 * parseIpv4('10.0.0.1'); // Uint8Array [10, 0, 0, 1]
 * parseIpv4('10.0.0.01'); // undefined
 * ```
 */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!IPV4_PART.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out[i] = value;
  }
  return out;
}

/**
 * The 16 bytes of an IPv6 address in an RFC 4291 §2.2 text form (`::`
 * compression, a trailing dotted quad), or `undefined`. No zone (`%eth0`)
 * and no brackets: callers that accept those strip them first.
 *
 * @example
 * ```ts
 * parseIpv6('fd00::a'); // 16 bytes
 * parseIpv6('::ffff:10.0.0.1'); // 16 bytes, the last 4 are 10.0.0.1
 * ```
 */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (!IPV6_CHARS.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  return out;
}

/** The 16-bit groups of one side of `::`; a dotted quad may end the address only. */
function groupsOf(part: string, endsAddress: boolean): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  const items = part.split(':');
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (endsAddress && i === items.length - 1 && item.includes('.')) {
      const v4 = parseIpv4(item);
      if (!v4) return undefined;
      out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      if (!HEX_GROUP.test(item)) return undefined;
      out.push(Number.parseInt(item, 16));
    }
  }
  return out;
}

/**
 * The text of 4 bytes (dotted quad) or 16 bytes (RFC 5952 canonical IPv6:
 * lower case, no leading zeros, the longest run of two or more zero groups
 * as `::`, the first one on a tie).
 *
 * @throws {RangeError} for any other length
 * @example
 * ```ts
 * formatIp(new Uint8Array([10, 0, 0, 1])); // '10.0.0.1'
 * formatIp(parseIpv6('2001:0db8:0:0:1:0:0:1')!); // '2001:db8::1:0:0:1'
 * ```
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
