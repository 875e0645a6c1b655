import { ProxyError } from './errors.js';

/**
 * SOCKS5 (RFC 1928) server side, sans-IO: the greeting and the CONNECT
 * request, with "no authentication" only — what an app on the same host uses
 * to enter the mesh explicitly (ztunnel's port 15080).
 */

/** SOCKS5 reply codes (RFC 1928 §6). */
export const Socks5Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/** One of {@link Socks5Reply}. */
export type Socks5ReplyCode = (typeof Socks5Reply)[keyof typeof Socks5Reply];

/** Where the client asked to connect. */
export type Socks5Destination =
  | { readonly kind: 'ip'; readonly host: string; readonly port: number }
  | { readonly kind: 'domain'; readonly host: string; readonly port: number };

/** Result of parsing a prefix of the input: need more bytes, or a value and how many bytes it used. */
export type Parse<T> =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'done'; readonly value: T; readonly consumed: number };

const VERSION = 5;
const NO_AUTH = 0x00;
const NO_ACCEPTABLE = 0xff;
const CONNECT = 0x01;

/**
 * Parses the client greeting `VER NMETHODS METHODS...`.
 * @returns whether "no authentication" was offered
 * @throws {ProxyError} `PROXY_ERR_SOCKS_VERSION` when the version is not 5
 */
export function parseGreeting(input: Uint8Array): Parse<{ readonly noAuthOffered: boolean }> {
  if (input.length < 1) return { kind: 'incomplete' };
  if (input[0] !== VERSION) {
    throw new ProxyError('PROXY_ERR_SOCKS_VERSION', `SOCKS version ${input[0]} is not supported (only 5)`);
  }
  if (input.length < 2) return { kind: 'incomplete' };
  const n = input[1]!;
  if (input.length < 2 + n) return { kind: 'incomplete' };
  const methods = input.subarray(2, 2 + n);
  return { kind: 'done', value: { noAuthOffered: methods.includes(NO_AUTH) }, consumed: 2 + n };
}

/** The server's method selection: "no authentication", or "no acceptable methods". */
export function encodeMethodSelection(accept: boolean): Uint8Array {
  return Uint8Array.of(VERSION, accept ? NO_AUTH : NO_ACCEPTABLE);
}

/**
 * Parses a request `VER CMD RSV ATYP DST.ADDR DST.PORT`.
 * @throws {ProxyError} `PROXY_ERR_SOCKS_VERSION`, `PROXY_ERR_SOCKS_COMMAND` (not CONNECT; reply
 *   {@link Socks5Reply.COMMAND_NOT_SUPPORTED}), `PROXY_ERR_SOCKS_ADDRESS` (unknown address type or empty domain)
 */
export function parseConnectRequest(input: Uint8Array): Parse<Socks5Destination> {
  if (input.length < 4) return { kind: 'incomplete' };
  if (input[0] !== VERSION) {
    throw new ProxyError('PROXY_ERR_SOCKS_VERSION', `SOCKS version ${input[0]} is not supported (only 5)`);
  }
  if (input[1] !== CONNECT) {
    throw new ProxyError(
      'PROXY_ERR_SOCKS_COMMAND',
      `SOCKS command ${input[1]} is not supported (only CONNECT)`,
    );
  }
  const atyp = input[3];
  let offset = 4;
  let destination: { kind: 'ip' | 'domain'; host: string };
  if (atyp === 0x01) {
    if (input.length < offset + 4 + 2) return { kind: 'incomplete' };
    destination = { kind: 'ip', host: Array.from(input.subarray(offset, offset + 4)).join('.') };
    offset += 4;
  } else if (atyp === 0x04) {
    if (input.length < offset + 16 + 2) return { kind: 'incomplete' };
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2)
      groups.push(((input[offset + i]! << 8) | input[offset + i + 1]!).toString(16));
    destination = { kind: 'ip', host: groups.join(':') };
    offset += 16;
  } else if (atyp === 0x03) {
    if (input.length < offset + 1) return { kind: 'incomplete' };
    const length = input[offset]!;
    if (length === 0) throw new ProxyError('PROXY_ERR_SOCKS_ADDRESS', 'SOCKS domain name is empty');
    if (input.length < offset + 1 + length + 2) return { kind: 'incomplete' };
    destination = {
      kind: 'domain',
      host: new TextDecoder().decode(input.subarray(offset + 1, offset + 1 + length)),
    };
    offset += 1 + length;
  } else {
    throw new ProxyError('PROXY_ERR_SOCKS_ADDRESS', `SOCKS address type ${atyp} is not supported`);
  }
  const port = (input[offset]! << 8) | input[offset + 1]!;
  return { kind: 'done', value: { ...destination, port }, consumed: offset + 2 };
}

/**
 * A reply `VER REP RSV ATYP BND.ADDR BND.PORT`; the bound address is sent as
 * IPv4 0.0.0.0:0 unless given (clients ignore it for CONNECT).
 */
export function encodeReply(
  code: Socks5ReplyCode,
  bound: { ipv4: string; port: number } = { ipv4: '0.0.0.0', port: 0 },
): Uint8Array {
  const octets = bound.ipv4.split('.').map(Number);
  return Uint8Array.of(VERSION, code, 0, 0x01, ...octets, bound.port >> 8, bound.port & 0xff);
}
