import { isIP } from 'node:net';
import { HboneError } from '../errors.js';

/** A parsed CONNECT `:authority` (RFC 9113 §8.5, RFC 3986 §3.2). */
export interface HboneAuthority {
  /** An IP address (without brackets) or a DNS host name. */
  readonly host: string;
  readonly port: number;
  /** 4 or 6 for an IP literal, 0 for a host name. */
  readonly family: 0 | 4 | 6;
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Parses `host:port`, `[v6]:port`, as CONNECT requires (a port is mandatory).
 * @throws {HboneError} HBONE_ERR_BAD_REQUEST when the authority is unparsable
 * @example parseAuthority('[fd00::1]:8080') // { host: 'fd00::1', port: 8080, family: 6 }
 */
export function parseAuthority(authority: string): HboneAuthority {
  const bad = (why: string): HboneError =>
    new HboneError('HBONE_ERR_BAD_REQUEST', `invalid authority ${JSON.stringify(authority)}: ${why}`);
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0 || authority[close + 1] !== ':') throw bad('IPv6 literal must be [addr]:port');
    host = authority.slice(1, close);
    portText = authority.slice(close + 2);
    if (isIP(host) !== 6) throw bad('not an IPv6 address inside brackets');
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon <= 0) throw bad('missing port');
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (host.includes(':')) throw bad('IPv6 address must be in brackets');
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw bad('port must be decimal digits');
  const port = Number(portText);
  if (port < 1 || port > 65535) throw bad('port must be 1..65535');
  const family = isIP(host);
  if (family === 0 && !HOSTNAME.test(host)) throw bad('host is neither an IP address nor a DNS name');
  return { host, port, family: family as 0 | 4 | 6 };
}

/**
 * Formats an authority: IPv6 in brackets (RFC 3986 §3.2.2).
 * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT for a bad port
 * @example formatAuthority('fd00::1', 80) // '[fd00::1]:80'
 */
export function formatAuthority(host: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new HboneError('HBONE_ERR_INVALID_ARGUMENT', `port must be 1..65535, got ${port}`);
  }
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
