import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { HboneError, Http2Error, Http2ErrorCode } from '../errors.js';
import type { Http2Connection, Http2Event } from '../connection/http2-connection.js';
import type { HeaderField } from '../hpack/hpack-decoder.js';

/** Keepalive of a connection: PING every `intervalMs`, give up after `timeoutMs` without an ACK. */
export interface KeepAliveOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** ztunnel's keepalive: PING every 10 s, 20 s timeout. */
export const ZTUNNEL_KEEPALIVE: KeepAliveOptions = { intervalMs: 10_000, timeoutMs: 20_000 };

/** How long the peer has to acknowledge our SETTINGS (RFC 9113 §6.5.3). */
const DEFAULT_SETTINGS_TIMEOUT = 10_000;

/** DATA bytes handed to the transport per flush before waiting for it to drain. */
const FLUSH_BUDGET = 256 * 1024;
/** Buffers at least this big are written on their own instead of joined. */
const LARGE_WRITE = 4096;

interface StreamHandlers {
  onHeaders(kind: string, headers: HeaderField[], endStream: boolean): void;
  onData(data: Buffer, endStream: boolean): void;
  onReset(errorCode: number, remote: boolean, retryable: boolean): void;
  onWritable(): void;
  onEndSent(): void;
  onClosed(): void;
}

/**
 * Glue between a byte transport (a TLS socket or any Duplex) and the sans-IO
 * {@link Http2Connection}: reads feed the codec, the codec's output is
 * written with small frames joined and large payloads uncopied, and writing
 * pauses while the transport is congested so nothing buffers without bound.
 */
export class Session {
  readonly connection: Http2Connection;
  readonly socket: Duplex;
  readonly #streams = new Map<number, StreamHandlers>();
  readonly #onEvent: (event: Http2Event) => void;
  #scheduled = false;
  #congested = false;
  #closed = false;
  #pingTimer: NodeJS.Timeout | undefined;
  #pingDeadline: NodeJS.Timeout | undefined;
  readonly #closeListeners: Array<(error: Error | undefined) => void> = [];
  readonly #pings = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  #pingCounter = 0;

  constructor(
    socket: Duplex,
    connection: Http2Connection,
    onEvent: (event: Http2Event) => void,
    settingsTimeoutMs = DEFAULT_SETTINGS_TIMEOUT,
  ) {
    this.socket = socket;
    this.connection = connection;
    this.#onEvent = onEvent;
    // Like ztunnel: no Nagle delay on small frames, TCP keepalive after 180 s idle.
    const tcp = socket as Partial<Pick<Socket, 'setNoDelay' | 'setKeepAlive'>>;
    tcp.setNoDelay?.(true);
    tcp.setKeepAlive?.(true, 180_000);
    // RFC 9113 §6.5.3: a peer that never acknowledges our SETTINGS gets SETTINGS_TIMEOUT.
    const settingsTimer = setTimeout(() => {
      if (this.#closed || connection.pendingSettingsAcks === 0) return;
      connection.goaway(Http2ErrorCode.SETTINGS_TIMEOUT, 'SETTINGS not acknowledged');
      this.destroy(
        new Http2Error(
          Http2ErrorCode.SETTINGS_TIMEOUT,
          'connection',
          `SETTINGS not acknowledged within ${settingsTimeoutMs} ms`,
        ),
      );
    }, settingsTimeoutMs);
    settingsTimer.unref();
    this.onClose(() => clearTimeout(settingsTimer));
    socket.on('data', (chunk: Buffer) => {
      connection.receive(chunk);
      this.#run();
    });
    socket.on('drain', () => {
      this.#congested = false;
      this.#run();
    });
    socket.on('end', () => this.destroy(new HboneError('HBONE_ERR_CONNECTION_CLOSED', 'transport ended')));
    socket.on('error', (error: Error) => this.destroy(error));
    socket.on('close', () => this.destroy(new HboneError('HBONE_ERR_CONNECTION_CLOSED', 'transport closed')));
    this.#run();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Registers the handlers of a stream. */
  attach(streamId: number, handlers: StreamHandlers): void {
    this.#streams.set(streamId, handlers);
  }

  detach(streamId: number): void {
    this.#streams.delete(streamId);
  }

  /** Runs the codec soon (coalesces the calls of one event-loop turn). */
  schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    // After the poll phase, not per microtask: frames of every stream that
    // became ready in the same event-loop turn leave in one TLS write (a
    // quarter fewer writes per new tunnel under load), at no cost when idle.
    setImmediate(this.#flushScheduled);
  }

  readonly #flushScheduled = (): void => {
    this.#scheduled = false;
    this.#run();
  };

  onClose(listener: (error: Error | undefined) => void): void {
    if (this.#closed) listener(undefined);
    else this.#closeListeners.push(listener);
  }

  /** Sends a PING; resolves with the round-trip time in ms. */
  ping(): Promise<number> {
    const opaque = Buffer.alloc(8);
    opaque.writeUInt32BE(++this.#pingCounter >>> 0, 4);
    opaque.write('ab', 0, 'latin1');
    const start = performance.now();
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new HboneError('HBONE_ERR_CONNECTION_CLOSED', 'connection closed'));
        return;
      }
      this.#pings.set(opaque.toString('hex'), { resolve: () => resolve(performance.now() - start), reject });
      this.connection.ping(opaque);
      this.schedule();
    });
  }

  /** Starts PING keepalive; a missing ACK past the timeout destroys the connection. */
  keepAlive(options: KeepAliveOptions): void {
    this.#pingTimer = setInterval(() => {
      if (this.#pingDeadline) return;
      this.#pingDeadline = setTimeout(() => {
        this.destroy(new HboneError('HBONE_ERR_PING_TIMEOUT', `no PING ACK within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      this.#pingDeadline.unref();
      this.ping().then(
        () => {
          clearTimeout(this.#pingDeadline);
          this.#pingDeadline = undefined;
        },
        () => {},
      );
    }, options.intervalMs);
    this.#pingTimer.unref();
  }

  /** Graceful close: GOAWAY, let streams finish, then end the transport. */
  shutdown(): void {
    this.connection.shutdown();
    this.#run();
  }

  destroy(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pingDeadline);
    const streamError = error ?? new HboneError('HBONE_ERR_CONNECTION_CLOSED', 'connection closed');
    for (const [, handlers] of this.#streams) handlers.onReset(Http2ErrorCode.CANCEL, false, false);
    this.#streams.clear();
    for (const [, p] of this.#pings) p.reject(streamError);
    this.#pings.clear();
    if (!this.socket.destroyed) {
      // Give a queued GOAWAY a chance to leave before the socket goes.
      const tail = this.connection.flush(0);
      if (tail.length > 0 && this.socket.writable) {
        this.socket.end(Buffer.concat(tail));
        setTimeout(() => this.socket.destroy(), 1000).unref();
      } else {
        this.socket.destroy();
      }
    }
    for (const listener of this.#closeListeners.splice(0)) listener(error ? streamError : undefined);
  }

  #run(): void {
    if (this.#closed) return;
    for (let guard = 0; guard < 64; guard++) {
      const events = this.connection.takeEvents();
      for (const event of events) this.#dispatch(event);
      if (this.#closed) return;
      if (this.#congested || !this.connection.wantsFlush) {
        if (events.length === 0) break;
        continue;
      }
      const out = this.connection.flush(FLUSH_BUDGET);
      if (out.length > 0) {
        const ok = this.#write(out);
        if (!ok) this.#congested = true;
      }
    }
    const state = this.connection.state;
    if (state.kind === 'closed') {
      this.destroy(state.error);
    } else if (this.connection.isDrained && !this.connection.wantsFlush) {
      this.destroy();
    } else if (this.connection.wantsFlush && !this.#congested) {
      this.schedule();
    }
  }

  /**
   * Writes the codec's output: small buffers (control frames, frame headers,
   * small DATA) are joined into one write; large DATA payloads go as their
   * own write, uncopied. Measured faster over TLS than one corked writev,
   * which makes the TLS layer copy every payload into one buffer.
   */
  #write(out: Buffer[]): boolean {
    let ok = true;
    let small: Buffer[] = [];
    let smallBytes = 0;
    const writeSmall = (): void => {
      if (small.length === 0) return;
      ok = this.socket.write(small.length === 1 ? small[0]! : Buffer.concat(small, smallBytes));
      small = [];
      smallBytes = 0;
    };
    for (const b of out) {
      if (b.length >= LARGE_WRITE) {
        writeSmall();
        ok = this.socket.write(b);
      } else {
        small.push(b);
        smallBytes += b.length;
      }
    }
    writeSmall();
    return ok;
  }

  #dispatch(event: Http2Event): void {
    switch (event.type) {
      case 'headers':
        this.#streams.get(event.streamId)?.onHeaders(event.kind, event.headers, event.endStream);
        break;
      case 'data': {
        const handlers = this.#streams.get(event.streamId);
        if (handlers) handlers.onData(event.data, event.endStream);
        else this.connection.consume(event.streamId, event.data.length);
        break;
      }
      case 'stream-reset': {
        const handlers = this.#streams.get(event.streamId);
        this.#streams.delete(event.streamId);
        handlers?.onReset(event.errorCode, event.remote, event.retryable);
        break;
      }
      case 'stream-closed': {
        const handlers = this.#streams.get(event.streamId);
        this.#streams.delete(event.streamId);
        handlers?.onClosed();
        break;
      }
      case 'stream-writable':
        this.#streams.get(event.streamId)?.onWritable();
        break;
      case 'stream-end-sent':
        this.#streams.get(event.streamId)?.onEndSent();
        break;
      case 'ping-ack': {
        const key = event.opaque.toString('hex');
        const pending = this.#pings.get(key);
        this.#pings.delete(key);
        pending?.resolve();
        break;
      }
      default:
        break;
    }
    this.#onEvent(event);
  }
}

/** @internal The `error` listener of a tunnel whose errors its owner reads elsewhere (one function for all tunnels). */
export function ignoreError(): void {}

/** Options of {@link HboneTunnel} streams. */
interface TunnelInit {
  readonly session: Session;
  readonly streamId: number;
}

/**
 * One HBONE tunnel (an HTTP/2 stream) as a Node Duplex: writes become DATA
 * within the peer's flow-control window (a full queue holds the write
 * callback back: backpressure), reads reopen our window only as they are
 * consumed. `end()` sends END_STREAM; `destroy()` sends RST_STREAM(CANCEL).
 */
export class HboneTunnel extends Duplex {
  /** The HTTP/2 stream id. */
  readonly streamId: number;
  /** Response headers (client side) or request headers (server side). */
  headers: HeaderField[] = [];
  readonly #session: Session;
  #unconsumed = 0;
  #pendingWrite: (() => void) | undefined;
  #pendingFinal: ((error?: Error | null) => void) | undefined;
  #done = false;

  /** @internal */
  constructor(init: TunnelInit) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 64 * 1024 });
    this.#session = init.session;
    this.streamId = init.streamId;
  }

  /** @internal Handlers wired to the session. */
  handlers(onHeaders: (kind: string, headers: HeaderField[], endStream: boolean) => void): StreamHandlers {
    return {
      onHeaders,
      onData: (data, endStream) => {
        if (data.length > 0) {
          if (this.push(data)) this.#session.connection.consume(this.streamId, data.length);
          else this.#unconsumed += data.length;
        }
        if (endStream) this.push(null);
      },
      onReset: (errorCode, remote) => {
        this.#done = true;
        this.#release();
        if (this.destroyed) return;
        if (errorCode === Http2ErrorCode.NO_ERROR && this.readableEnded) {
          this.destroy();
        } else {
          const who = remote ? 'peer reset' : 'reset';
          this.destroy(
            new Http2Error(errorCode, 'stream', `tunnel ${who} with code ${errorCode}`, this.streamId),
          );
        }
      },
      onWritable: () => this.#release(),
      onEndSent: () => {
        const cb = this.#pendingFinal;
        this.#pendingFinal = undefined;
        cb?.();
      },
      onClosed: () => {
        this.#done = true;
        this.#release();
      },
    };
  }

  #release(): void {
    const cb = this.#pendingWrite;
    this.#pendingWrite = undefined;
    cb?.();
    if (this.#done) {
      const final = this.#pendingFinal;
      this.#pendingFinal = undefined;
      final?.();
    }
  }

  override _read(): void {
    if (this.#unconsumed > 0) {
      const n = this.#unconsumed;
      this.#unconsumed = 0;
      this.#session.connection.consume(this.streamId, n);
      this.#session.schedule();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeChunks([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#writeChunks(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  #writeChunks(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    if (this.#done) {
      callback(new HboneError('HBONE_ERR_STREAM_CLOSED', 'tunnel closed'));
      return;
    }
    let ok = true;
    try {
      for (const c of chunks) ok = this.#session.connection.write(this.streamId, c);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#session.schedule();
    if (ok) callback();
    else this.#pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#done) {
      callback();
      return;
    }
    // Finish only once END_STREAM has really left: a Duplex is destroyed right
    // after it finishes, and destroying earlier would reset queued data away.
    this.#pendingFinal = callback;
    try {
      this.#session.connection.end(this.streamId);
    } catch (error) {
      this.#pendingFinal = undefined;
      callback(error as Error);
      return;
    }
    this.#session.schedule();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const state = this.#session.connection.streamState(this.streamId);
    if (state === undefined || state === 'closed') this.#done = true;
    if (!this.#done) {
      this.#done = true;
      this.#session.detach(this.streamId);
      this.#session.connection.reset(this.streamId, Http2ErrorCode.CANCEL);
      this.#session.schedule();
    }
    this.#release();
    callback(error);
  }
}
