import type { Duplex } from 'node:stream';
import { Http2Connection, type Http2Limits } from '../connection/http2-connection.js';
import type { Http2Settings } from '../connection/settings.js';
import { HboneError, Http2Error } from '../errors.js';
import {
  buildConnectRequest,
  type ConnectRequestInit,
  connectResponseStatus,
} from '../hbone/connect-request.js';
import type { HeaderField } from '../hpack/hpack-decoder.js';
import { HboneTunnel, ignoreError, type KeepAliveOptions, Session } from './session.js';

/** Options of {@link HboneClientConnection}. */
export interface HboneClientOptions {
  /** Local HTTP/2 settings; ztunnel's client settings by default. */
  readonly settings?: Partial<Http2Settings>;
  readonly connectionWindow?: number;
  readonly limits?: Partial<Http2Limits>;
  /** PING keepalive; off unless given (the pool uses ztunnel's 10 s / 20 s). */
  readonly keepAlive?: KeepAliveOptions;
  /** Close with SETTINGS_TIMEOUT when the server does not acknowledge our SETTINGS in time; default 10 s. */
  readonly settingsTimeoutMs?: number;
}

/** Thrown by {@link HboneClientConnection.open} when the server answers other than 2xx. */
export class HboneConnectRefusedError extends HboneError {
  /** The HTTP status the server answered (400, 401, 503, ...). */
  readonly status: number;
  readonly headers: readonly HeaderField[];

  constructor(status: number, headers: readonly HeaderField[]) {
    super('HBONE_ERR_CONNECT_REFUSED', `CONNECT refused with status ${status}`);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * One HBONE client connection over an established transport (a TLS socket
 * with ALPN h2, or any Duplex). Opens CONNECT tunnels as Node Duplex streams.
 *
 * @example
 * ```ts
 * const socket = tls.connect({ host, port: 15008, ALPNProtocols: ['h2'], ... });
 * const client = new HboneClientConnection(socket);
 * const tunnel = await client.open({ authority: '10.0.0.2:8080' });
 * tunnel.end('hello');
 * ```
 */
export class HboneClientConnection {
  readonly #session: Session;
  readonly #closeListeners: Array<(error: Error | undefined) => void> = [];
  #goaway = false;

  constructor(socket: Duplex, options: HboneClientOptions = {}) {
    const connection = new Http2Connection({
      role: 'client',
      ...(options.settings ? { settings: options.settings } : {}),
      ...(options.connectionWindow ? { connectionWindow: options.connectionWindow } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
    });
    this.#session = new Session(
      socket,
      connection,
      (event) => {
        if (event.type === 'goaway') this.#goaway = true;
      },
      options.settingsTimeoutMs,
    );
    this.#session.onClose((error) => {
      for (const l of this.#closeListeners.splice(0)) l(error);
    });
    if (options.keepAlive) this.#session.keepAlive(options.keepAlive);
  }

  /** Tunnels open on this connection. */
  get activeStreams(): number {
    return this.#session.connection.activeLocalStreams;
  }

  /** True when a new tunnel may be opened here now. */
  get available(): boolean {
    return !this.#session.closed && !this.#goaway && this.#session.connection.canOpenStream;
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.#session.closed;
  }

  /** True after the server sent GOAWAY: existing tunnels finish, no new ones. */
  get draining(): boolean {
    return this.#goaway || this.#session.connection.state.kind !== 'open';
  }

  /** Calls `listener` once when the connection closes. */
  onClose(listener: (error: Error | undefined) => void): void {
    if (this.#session.closed) listener(undefined);
    else this.#closeListeners.push(listener);
  }

  /**
   * Opens a CONNECT tunnel; resolves once the server answered 2xx.
   * @throws {HboneConnectRefusedError} on a non-2xx answer (400, 401, 503)
   * @throws {HboneError} HBONE_ERR_REFUSED_STREAM when the connection cannot take a stream; a stream or connection error if reset
   */
  open(request: ConnectRequestInit | readonly HeaderField[]): Promise<HboneTunnel> {
    const headers = Array.isArray(request)
      ? (request as readonly HeaderField[])
      : buildConnectRequest(request as ConnectRequestInit);
    return new Promise((resolve, reject) => {
      const connection = this.#session.connection;
      let streamId: number;
      try {
        streamId = connection.request(headers);
      } catch (error) {
        reject(error);
        return;
      }
      const tunnel = new HboneTunnel({ session: this.#session, streamId });
      let settled = false;
      const handlers = tunnel.handlers((kind, responseHeaders, endStream) => {
        if (settled || kind !== 'response') return;
        settled = true;
        const { status, established } = connectResponseStatus(responseHeaders);
        if (!established) {
          tunnel.destroy();
          reject(new HboneConnectRefusedError(status, responseHeaders));
          return;
        }
        tunnel.headers = responseHeaders;
        if (endStream) tunnel.push(null);
        resolve(tunnel);
      });
      const onReset = handlers.onReset;
      handlers.onReset = (errorCode, remote, retryable) => {
        if (!settled) {
          settled = true;
          const error = new Http2Error(
            errorCode,
            'stream',
            `CONNECT stream reset with code ${errorCode}`,
            streamId,
          );
          (error as { retryable?: boolean }).retryable = retryable;
          reject(error);
        }
        onReset(errorCode, remote, retryable);
      };
      this.#session.attach(streamId, handlers);
      tunnel.on('error', ignoreError);
      this.#session.schedule();
    });
  }

  /** Sends a PING and resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    return this.#session.ping();
  }

  /** Graceful close: GOAWAY, open tunnels finish, then the transport closes. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.onClose(() => resolve());
      this.#session.shutdown();
    });
  }

  /** Closes at once, resetting every tunnel. */
  destroy(error?: Error): void {
    this.#session.destroy(error);
  }
}
