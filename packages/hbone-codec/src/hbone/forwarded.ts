import { isIP } from 'node:net';
import { HboneError } from '../errors.js';

/** One `forwarded` element (RFC 7239 §4); HBONE uses `for` and `host`. */
export interface ForwardedElement {
  readonly for?: string;
  readonly host?: string;
  readonly by?: string;
  readonly proto?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function quote(value: string): string {
  return TOKEN.test(value) ? value : quoted(value);
}

/**
 * Builds the `forwarded` header ztunnel sends: `for="<ip:port>"` plus
 * `;host=<service hostname>` when known (RFC 7239 §4, §6: IPv6 in brackets).
 * @example buildForwarded({ for: '10.0.0.1:4000', host: 'b.ns.svc.cluster.local' })
 *   // 'for="10.0.0.1:4000";host=b.ns.svc.cluster.local'
 */
export function buildForwarded(element: ForwardedElement): string {
  let out = '';
  for (const key of FORWARDED_KEYS) {
    const value = element[key];
    if (value === undefined) continue;
    // Values with ':' or '[' are not tokens and must be quoted (RFC 7239 §6).
    const encoded = key === 'for' || key === 'by' ? quoted(value) : quote(value);
    out = out === '' ? `${key}=${encoded}` : `${out};${key}=${encoded}`;
  }
  return out;
}

const FORWARDED_KEYS = ['for', 'by', 'host', 'proto'] as const;

/** A quoted-string (RFC 7230 §3.2.6): `"` and `\` escaped. */
function quoted(value: string): string {
  return value.includes('"') || value.includes('\\')
    ? `"${value.replace(/(["\\])/g, '\\$1')}"`
    : `"${value}"`;
}

/**
 * Formats a socket address for `for=`: `ip:port`, `[v6]:port` (RFC 7239 §6).
 * @example forwardedNode('fd00::1', 5000) // '[fd00::1]:5000'
 */
export function forwardedNode(ip: string, port?: number): string {
  // Only an IPv6 address has a ':'; the check spares IPv4 the IPv6 pattern.
  const host = ip.includes(':') && isIP(ip) === 6 ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

/**
 * Parses a `forwarded` header into its elements (RFC 7239 §4).
 * @throws {HboneError} HBONE_ERR_INVALID_HEADER on a syntax error
 */
export function parseForwarded(header: string): ForwardedElement[] {
  const elements: ForwardedElement[] = [];
  let current: Record<string, string> = {};
  let i = 0;
  const fail = (why: string): HboneError =>
    new HboneError('HBONE_ERR_INVALID_HEADER', `forwarded: ${why} at offset ${i}`);
  const skipSpace = (): void => {
    while (header[i] === ' ' || header[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    const eq = header.indexOf('=', i);
    if (eq < 0) throw fail('expected name=value');
    const name = header.slice(i, eq).trim().toLowerCase();
    if (!TOKEN.test(name)) throw fail('bad parameter name');
    i = eq + 1;
    let value = '';
    if (header[i] === '"') {
      i++;
      for (;;) {
        const c = header[i];
        if (c === undefined) throw fail('unterminated quoted string');
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const next = header[i++];
          if (next === undefined) throw fail('dangling escape');
          value += next;
        } else {
          value += c;
        }
      }
    } else {
      const start = i;
      while (i < header.length && header[i] !== ';' && header[i] !== ',') i++;
      value = header.slice(start, i).trim();
      if (!TOKEN.test(value)) throw fail('bad token value');
    }
    if (name in current) throw fail(`parameter ${name} repeated`);
    current[name] = value;
    skipSpace();
    const sep = header[i];
    if (sep === undefined) break;
    i++;
    if (sep === ',') {
      elements.push(current as ForwardedElement);
      current = {};
    } else if (sep !== ';') {
      throw fail('expected ; or ,');
    }
  }
  elements.push(current as ForwardedElement);
  return elements;
}
