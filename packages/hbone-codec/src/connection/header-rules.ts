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
  const pseudo = new Map<string, string>();
  for (const [name, value] of headers) {
    if (name.startsWith(':')) {
      if (regularSeen) return `pseudo-header ${name} after a regular field (RFC 9113 §8.3)`;
      if (kind === 'trailers') return `pseudo-header ${name} in trailers (RFC 9113 §8.1)`;
      const allowed = kind === 'request' ? REQUEST_PSEUDO.has(name) : name === ':status';
      if (!allowed) return `pseudo-header ${name} not allowed in a ${kind} (RFC 9113 §8.3)`;
      if (pseudo.has(name)) return `pseudo-header ${name} repeated (RFC 9113 §8.3)`;
      pseudo.set(name, value);
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
    const method = pseudo.get(':method');
    if (method === undefined) return 'request without :method (RFC 9113 §8.3.1)';
    if (method === 'CONNECT' && !pseudo.has(':protocol')) {
      // RFC 9113 §8.5: CONNECT carries :authority and neither :scheme nor :path.
      if (!pseudo.get(':authority')) return 'CONNECT without :authority (RFC 9113 §8.5)';
      if (pseudo.has(':scheme') || pseudo.has(':path'))
        return 'CONNECT with :scheme or :path (RFC 9113 §8.5)';
    } else {
      if (!pseudo.has(':scheme')) return 'request without :scheme (RFC 9113 §8.3.1)';
      if (!pseudo.get(':path')) return 'request without :path (RFC 9113 §8.3.1)';
    }
  } else if (kind === 'response' || kind === 'informational') {
    const status = pseudo.get(':status');
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
