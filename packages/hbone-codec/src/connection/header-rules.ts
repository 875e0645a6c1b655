import type { HeaderField } from '../hpack/hpack-decoder.js';

/** Which part of a message a header block is (RFC 9113 §8.1). */
export type HeaderBlockKind = 'request' | 'response' | 'informational' | 'trailers';

// RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2.
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
// RFC 9110 §5.1 token characters, lowercase only (RFC 9113 §8.2.1).
const NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// RFC 9113 §8.2.1: no NUL, CR or LF; no leading or trailing SP / HTAB.
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;

interface PseudoFields {
  ':method': string | undefined;
  ':scheme': string | undefined;
  ':authority': string | undefined;
  ':path': string | undefined;
  ':protocol': string | undefined;
  ':status': string | undefined;
}

/**
 * Checks a header list against RFC 9113 §8.2–§8.3; returns the broken rule,
 * or undefined when the list is well formed. `role` is who *sent* it.
 * @example validateHeaderList([[':status', '200']], 'response') // undefined
 */
export function validateHeaderList(
  headers: readonly HeaderField[],
  kind: HeaderBlockKind,
): string | undefined {
  let regularSeen = false;
  // The few pseudo-headers there are, in plain fields: one lookup table per block cost more than the check.
  const pseudo: PseudoFields = {
    ':method': undefined,
    ':scheme': undefined,
    ':authority': undefined,
    ':path': undefined,
    ':protocol': undefined,
    ':status': undefined,
  };
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      if (regularSeen) return `pseudo-header ${name} after a regular field (RFC 9113 §8.3)`;
      if (kind === 'trailers') return `pseudo-header ${name} in trailers (RFC 9113 §8.1)`;
      const allowed = kind === 'request' ? REQUEST_PSEUDO.has(name) : name === ':status';
      if (!allowed) return `pseudo-header ${name} not allowed in a ${kind} (RFC 9113 §8.3)`;
      const known = name as keyof PseudoFields;
      if (pseudo[known] !== undefined) return `pseudo-header ${name} repeated (RFC 9113 §8.3)`;
      pseudo[known] = value;
    } else {
      regularSeen = true;
      if (!NAME.test(name))
        return `field name ${JSON.stringify(name)} is not a lowercase token (RFC 9113 §8.2.1)`;
      if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name} (RFC 9113 §8.2.2)`;
      if (name === 'te' && value !== 'trailers') return 'te other than "trailers" (RFC 9113 §8.2.2)';
    }
    if (BAD_VALUE.test(value))
      return `field ${name} has a forbidden character or surrounding whitespace (RFC 9113 §8.2.1)`;
  }
  if (kind === 'request') {
    const method = pseudo[':method'];
    if (method === undefined) return 'request without :method (RFC 9113 §8.3.1)';
    if (method === 'CONNECT' && pseudo[':protocol'] === undefined) {
      // RFC 9113 §8.5: CONNECT carries :authority and neither :scheme nor :path.
      if (!pseudo[':authority']) return 'CONNECT without :authority (RFC 9113 §8.5)';
      if (pseudo[':scheme'] !== undefined || pseudo[':path'] !== undefined)
        return 'CONNECT with :scheme or :path (RFC 9113 §8.5)';
    } else {
      if (pseudo[':scheme'] === undefined) return 'request without :scheme (RFC 9113 §8.3.1)';
      if (!pseudo[':path']) return 'request without :path (RFC 9113 §8.3.1)';
    }
  } else if (kind === 'response' || kind === 'informational') {
    const status = pseudo[':status'];
    if (status === undefined || !/^[1-9][0-9]{2}$/.test(status))
      return 'response without a valid :status (RFC 9113 §8.3.2)';
  }
  return undefined;
}

/** The value of the first field with this name, or undefined. */
export function headerValue(headers: readonly HeaderField[], name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}
