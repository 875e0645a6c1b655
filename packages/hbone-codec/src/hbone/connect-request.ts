import { isIP } from 'node:net';
import { HboneError } from '../errors.js';
import type { HeaderField } from '../hpack/hpack-decoder.js';
import { type HboneAuthority, parseAuthority } from './authority.js';
import { type ForwardedElement, parseForwarded } from './forwarded.js';
import { parseTraceParent, type TraceParent } from './traceparent.js';
import { parseBaggage } from './baggage.js';

/** Options of {@link buildConnectRequest}. */
export interface ConnectRequestInit {
  /** `<ip>:<port>`, `[v6]:<port>` or `<hostname>:<port>`. */
  readonly authority: string;
  /** Value of the `forwarded` header (see `buildForwarded`). */
  readonly forwarded?: string;
  /** Value of the `baggage` header (see `buildBaggage`). */
  readonly baggage?: string;
  /** Value of the `traceparent` header (see `buildTraceParent`). */
  readonly traceparent?: string;
  /** Any other fields, names lowercase. */
  readonly headers?: readonly HeaderField[];
}

/**
 * Builds the header list of an HBONE CONNECT (RFC 9113 §8.5): `:method` and
 * `:authority` only, then ztunnel's `forwarded`, `baggage`, `traceparent`.
 * @throws {HboneError} HBONE_ERR_BAD_REQUEST when the authority is unparsable
 * @example buildConnectRequest({ authority: '10.0.0.2:8080' })
 *   // [[':method', 'CONNECT'], [':authority', '10.0.0.2:8080']]
 */
export function buildConnectRequest(init: ConnectRequestInit): HeaderField[] {
  parseAuthority(init.authority);
  const headers: HeaderField[] = [
    [':method', 'CONNECT'],
    [':authority', init.authority],
  ];
  if (init.forwarded !== undefined) headers.push(['forwarded', init.forwarded]);
  if (init.baggage !== undefined) headers.push(['baggage', init.baggage]);
  if (init.traceparent !== undefined) headers.push(['traceparent', init.traceparent]);
  for (const field of init.headers ?? []) headers.push(field);
  return headers;
}

/** An accepted CONNECT request, parsed. */
export interface ConnectRequest {
  readonly authority: HboneAuthority;
  /** The raw `:authority` value. */
  readonly rawAuthority: string;
  /** Regular (non-pseudo) fields in order. */
  readonly headers: readonly HeaderField[];
  readonly forwarded: readonly ForwardedElement[] | undefined;
  readonly baggage: ReadonlyMap<string, string> | undefined;
  readonly traceparent: TraceParent | undefined;
}

/** The outcome of {@link parseConnectRequest}: a request, or the status to answer with. */
export type ConnectRequestResult =
  | { readonly ok: true; readonly request: ConnectRequest }
  | { readonly ok: false; readonly status: 400; readonly reason: string };

/** Options of {@link parseConnectRequest}. */
export interface ParseConnectOptions {
  /**
   * The destination IP of the accepted connection. When set, an IP authority
   * that differs from it is refused with 400 (ztunnel's rule); a host name
   * authority (waypoint, double HBONE) is accepted.
   */
  readonly destinationIp?: string;
}

/**
 * Checks an HBONE request against ztunnel's rules: 400 for a non-CONNECT,
 * an unparsable authority, an authority IP other than the connection's
 * destination, or malformed `forwarded` / `traceparent` / `baggage`.
 * @example parseConnectRequest([[':method', 'GET']]) // { ok: false, status: 400, ... }
 */
export function parseConnectRequest(
  headers: readonly HeaderField[],
  options: ParseConnectOptions = {},
): ConnectRequestResult {
  const refuse = (reason: string): ConnectRequestResult => ({ ok: false, status: 400, reason });
  let method: string | undefined;
  let rawAuthority: string | undefined;
  const regular: HeaderField[] = [];
  for (const field of headers) {
    const [name, value] = field;
    if (name === ':method') method = value;
    else if (name === ':authority') rawAuthority = value;
    else if (name.startsWith(':')) return refuse(`pseudo-header ${name} not allowed in an HBONE CONNECT`);
    else regular.push(field);
  }
  if (method !== 'CONNECT') return refuse(`method ${method ?? '(none)'} is not CONNECT`);
  if (rawAuthority === undefined) return refuse('CONNECT without :authority');
  let authority: HboneAuthority;
  try {
    authority = parseAuthority(rawAuthority);
  } catch (error) {
    return refuse((error as Error).message);
  }
  if (options.destinationIp !== undefined && authority.family !== 0) {
    if (normalizeIp(authority.host) !== normalizeIp(options.destinationIp)) {
      return refuse(
        `authority ${authority.host} differs from the connection's destination ${options.destinationIp}`,
      );
    }
  }
  const get = (n: string): string | undefined => regular.find(([k]) => k === n)?.[1];
  try {
    const fw = get('forwarded');
    const tp = get('traceparent');
    const bg = get('baggage');
    return {
      ok: true,
      request: {
        authority,
        rawAuthority,
        headers: regular,
        forwarded: fw === undefined ? undefined : parseForwarded(fw),
        traceparent: tp === undefined ? undefined : parseTraceParent(tp),
        baggage: bg === undefined ? undefined : parseBaggage(bg),
      },
    };
  } catch (error) {
    return refuse((error as Error).message);
  }
}

/** Why an HBONE server answers as it does (Istio ztunnel's outcomes). */
export type ConnectOutcome =
  /** The upstream TCP connection succeeded: 200, then bytes flow. */
  | { readonly kind: 'connected'; readonly baggage?: string }
  /** Not CONNECT, bad authority, authority IP ≠ destination IP. */
  | { readonly kind: 'bad-request'; readonly reason: string }
  /** Authorization denied the peer. */
  | { readonly kind: 'unauthorized'; readonly reason: string }
  /** The upstream could not be reached. */
  | { readonly kind: 'unavailable'; readonly reason: string };

/**
 * The response header list for an outcome: 200, 400, 401 or 503.
 * @example buildConnectResponse({ kind: 'unavailable', reason: 'refused' }) // [[':status', '503']]
 */
export function buildConnectResponse(outcome: ConnectOutcome): HeaderField[] {
  switch (outcome.kind) {
    case 'connected':
      return outcome.baggage === undefined
        ? [[':status', '200']]
        : [
            [':status', '200'],
            ['baggage', outcome.baggage],
          ];
    case 'bad-request':
      return [[':status', '400']];
    case 'unauthorized':
      return [[':status', '401']];
    case 'unavailable':
      return [[':status', '503']];
  }
}

/**
 * Reads the status of a CONNECT response: a tunnel is established only on 2xx (RFC 9110 §9.3.6).
 * @throws {HboneError} HBONE_ERR_PROTOCOL when `:status` is missing
 */
export function connectResponseStatus(headers: readonly HeaderField[]): {
  status: number;
  established: boolean;
} {
  const value = headers.find(([k]) => k === ':status')?.[1];
  if (value === undefined) throw new HboneError('HBONE_ERR_PROTOCOL', 'response without :status');
  const status = Number(value);
  return { status, established: status >= 200 && status < 300 };
}

function normalizeIp(ip: string): string {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4mapped) return v4mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  // Expand and re-compress so textual variants of one IPv6 address compare equal.
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const parts = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return parts.map((p) => Number.parseInt(p, 16).toString(16)).join(':');
}
