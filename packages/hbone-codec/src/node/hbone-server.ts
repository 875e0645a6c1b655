import type { Duplex } from 'node:stream';
import { Http2Connection, type Http2Limits } from '../connection/http2-connection.js';
import type { Http2Settings } from '../connection/settings.js';
import { HboneError, Http2ErrorCode } from '../errors.js';
import { buildConnectResponse, type ConnectRequest, parseConnectRequest } from '../hbone/connect-request.js';
import type { HeaderField } from '../hpack/hpack-decoder.js';
import { HboneTunnel, ignoreError, type KeepAliveOptions, Session } from './session.js';

/** What the caller knows about an accepted transport (from TLS and the socket). */
export interface HboneConnectionMetadata {
  /** The peer's SPIFFE identity from its client certificate, when verified. */
  readonly peerIdentity?: string;
  /** The destination address of the accepted socket. */
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

/** A CONNECT the server received; the handler accepts or refuses it. */
export interface IncomingTunnel {
  readonly metadata: HboneConnectionMetadata;
  /** The parsed request (authority, forwarded, baggage, traceparent, headers). */
  readonly request: ConnectRequest;
  /**
   * Answers 200 (call it once the upstream connection succeeded) and returns
   * the tunnel as a Duplex.
   */
  accept(options?: { baggage?: string; headers?: readonly HeaderField[] }): HboneTunnel;
  /** Answers 401 (authorization denied) or 503 (upstream unreachable) or 400, and ends the stream. */
  reject(status: 400 | 401 | 503): void;
}

/** Options of {@link HboneServer}. */
export interface HboneServerOptions {
  /** Gets every well-formed CONNECT; must call `accept` or `reject`. */
  readonly handler: (tunnel: IncomingTunnel) => void | Promise<void>;
  /** Local HTTP/2 settings; ztunnel's server settings by default. */
  readonly settings?: Partial<Http2Settings>;
  readonly connectionWindow?: number;
  readonly limits?: Partial<Http2Limits>;
  /** Metadata of a socket when {@link HboneServer.handle} is called without it (for example from its TLS certificate). */
  readonly identify?: (socket: Duplex) => HboneConnectionMetadata;
  /**
   * Refuse with 400 an IP authority that differs from the socket's
   * destination address (ztunnel's rule). Default true; a waypoint turns it off.
   */
  readonly checkAuthorityIp?: boolean;
  readonly keepAlive?: KeepAliveOptions;
  /** Close with SETTINGS_TIMEOUT when a client does not acknowledge our SETTINGS in time; default 10 s. */
  readonly settingsTimeoutMs?: number;
}

/**
 * An HBONE server over already-established transports: give it each TLS
 * socket (or any Duplex) with {@link HboneServer.handle}; every CONNECT is
 * parsed by the HBONE rules (400 on a bad one) and handed to the handler
 * with the connection's metadata.
 *
 * @example
 * ```ts
 * const hbone = new HboneServer({ handler: async (t) => {
 *   const upstream = net.connect(t.request.authority.port, t.request.authority.host);
 *   upstream.once('connect', () => { const d = t.accept(); d.pipe(upstream).pipe(d); });
 *   upstream.once('error', () => t.reject(503));
 * }});
 * tls.createServer({ ...certs, ALPNProtocols: ['h2'] }, (s) => hbone.handle(s)).listen(15008);
 * ```
 */
export class HboneServer {
  readonly #options: HboneServerOptions;
  readonly #sessions = new Set<Session>();

  constructor(options: HboneServerOptions) {
    this.#options = options;
  }

  /** Connections being served. */
  get connections(): number {
    return this.#sessions.size;
  }

  /** Serves HTTP/2 on an established transport until it closes. */
  handle(socket: Duplex, metadata?: HboneConnectionMetadata): void {
    const meta = metadata ?? this.#options.identify?.(socket) ?? {};
    const o = this.#options;
    const connection = new Http2Connection({
      role: 'server',
      ...(o.settings ? { settings: o.settings } : {}),
      ...(o.connectionWindow ? { connectionWindow: o.connectionWindow } : {}),
      ...(o.limits ? { limits: o.limits } : {}),
    });
    const session: Session = new Session(
      socket,
      connection,
      (event) => {
        if (event.type === 'headers' && event.kind === 'request') {
          this.#onRequest(session, meta, event.streamId, event.headers, event.endStream);
        }
      },
      o.settingsTimeoutMs,
    );
    this.#sessions.add(session);
    session.onClose(() => this.#sessions.delete(session));
    if (o.keepAlive) session.keepAlive(o.keepAlive);
  }

  #onRequest(
    session: Session,
    metadata: HboneConnectionMetadata,
    streamId: number,
    headers: HeaderField[],
    endStream: boolean,
  ): void {
    const connection = session.connection;
    const checkIp = this.#options.checkAuthorityIp ?? true;
    const parsed = parseConnectRequest(
      headers,
      checkIp && metadata.localAddress !== undefined ? { destinationIp: metadata.localAddress } : {},
    );
    if (!parsed.ok || endStream) {
      connection.respond(
        streamId,
        buildConnectResponse({ kind: 'bad-request', reason: parsed.ok ? 'request ended' : parsed.reason }),
        {
          endStream: true,
        },
      );
      if (!endStream) connection.reset(streamId, Http2ErrorCode.NO_ERROR);
      session.schedule();
      return;
    }
    const tunnel = new HboneTunnel({ session, streamId });
    tunnel.headers = headers;
    let answered = false;
    session.attach(
      streamId,
      tunnel.handlers(() => {}),
    );
    const incoming: IncomingTunnel = {
      metadata,
      request: parsed.request,
      accept: (options = {}) => {
        if (answered) throw new HboneError('HBONE_ERR_INVALID_ARGUMENT', 'CONNECT already answered');
        answered = true;
        const response = buildConnectResponse(
          options.baggage === undefined
            ? { kind: 'connected' }
            : { kind: 'connected', baggage: options.baggage },
        );
        if (connection.streamState(streamId) !== undefined) {
          connection.respond(streamId, [...response, ...(options.headers ?? [])]);
          session.schedule();
        }
        return tunnel;
      },
      reject: (status) => {
        if (answered) throw new HboneError('HBONE_ERR_INVALID_ARGUMENT', 'CONNECT already answered');
        answered = true;
        if (connection.streamState(streamId) !== undefined) {
          const outcome =
            status === 401
              ? ({ kind: 'unauthorized', reason: '' } as const)
              : status === 503
                ? ({ kind: 'unavailable', reason: '' } as const)
                : ({ kind: 'bad-request', reason: '' } as const);
          connection.respond(streamId, buildConnectResponse(outcome), { endStream: true });
          connection.reset(streamId, Http2ErrorCode.NO_ERROR);
          session.schedule();
        }
        session.detach(streamId);
        tunnel.destroy();
      },
    };
    tunnel.on('error', ignoreError);
    Promise.resolve()
      .then(() => this.#options.handler(incoming))
      .catch(() => {
        if (!answered) incoming.reject(503);
      });
  }

  /** Graceful shutdown: GOAWAY on every connection; resolves when all closed. */
  close(): Promise<void> {
    const all = [...this.#sessions].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.onClose(() => resolve());
          s.shutdown();
        }),
    );
    return Promise.all(all).then(() => {});
  }

  /** Closes every connection at once. */
  destroy(): void {
    for (const s of this.#sessions) s.destroy();
  }
}
