import { connectionError, HboneError, Http2Error, Http2ErrorCode, streamError } from '../errors.js';
import { FrameDecoder } from '../frame/frame-decoder.js';
import {
  encodeData,
  encodeFrameHeader,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
} from '../frame/frame-encoder.js';
import {
  CONNECTION_PREFACE,
  DEFAULT_WINDOW,
  type Frame,
  FrameFlag,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  type SettingEntry,
  SettingId,
} from '../frame/frame-types.js';
import { HpackDecoder, type HeaderField } from '../hpack/hpack-decoder.js';
import { HpackEncoder } from '../hpack/hpack-encoder.js';
import { type HeaderBlockKind, headerValue, validateHeaderList } from './header-rules.js';
import {
  type Http2Settings,
  PROTOCOL_DEFAULT_SETTINGS,
  ZTUNNEL_CLIENT_SETTINGS,
  ZTUNNEL_CONNECTION_WINDOW,
  ZTUNNEL_SERVER_SETTINGS,
} from './settings.js';
import { TokenBucket } from './token-bucket.js';

const {
  NO_ERROR,
  PROTOCOL_ERROR,
  FLOW_CONTROL_ERROR,
  STREAM_CLOSED,
  REFUSED_STREAM,
  CANCEL,
  ENHANCE_YOUR_CALM,
} = Http2ErrorCode;

/** The state of one stream (RFC 9113 §5.1); idle streams are simply absent. */
export type StreamState = 'open' | 'half-closed-local' | 'half-closed-remote' | 'closed';

/** The state of the connection as a whole. */
export type ConnectionState =
  | { readonly kind: 'open' }
  /** A GOAWAY was sent or received: existing streams finish, no new ones start. */
  | {
      readonly kind: 'draining';
      readonly sentLastStreamId: number | undefined;
      readonly receivedLastStreamId: number | undefined;
    }
  | { readonly kind: 'closed'; readonly error: Http2Error | undefined };

/** Flood and abuse limits (RFC 9113 §10.5; CVE-2023-44487, CVE-2024-27316). */
export interface Http2Limits {
  /** Streams the peer may reset in a burst before ENHANCE_YOUR_CALM (rapid reset); default 200. */
  readonly resetBurst: number;
  /** Sustained peer resets per second; default 50. */
  readonly resetsPerSecond: number;
  /** PINGs / SETTINGS the peer may send in a burst; default 100. */
  readonly controlBurst: number;
  /** Sustained PINGs + SETTINGS per second; default 20. */
  readonly controlPerSecond: number;
  /** Control frames (ACKs, RSTs) we may hold unsent before giving up on a peer that does not read; default 1000. */
  readonly maxPendingControlFrames: number;
  /** CONTINUATION frames allowed in one header block; default 32. */
  readonly maxContinuationFrames: number;
  /** Compressed bytes allowed in one header block; default 2 × max header list size. */
  readonly maxHeaderBlockBytes: number;
  /** Queued outbound DATA bytes per stream before `write` says "stop" (default 256 KiB). */
  readonly streamWriteBuffer: number;
}

/** Options of {@link Http2Connection}. */
export interface Http2ConnectionOptions {
  /** Client sends the preface and opens odd streams; server expects the preface. */
  readonly role: 'client' | 'server';
  /** Local settings to advertise; defaults are ztunnel's for the role. */
  readonly settings?: Partial<Http2Settings>;
  /** Connection-level receive window; default 16 MiB (ztunnel). */
  readonly connectionWindow?: number;
  readonly limits?: Partial<Http2Limits>;
  /** Milliseconds clock for the flood limits; default `Date.now`. */
  readonly now?: () => number;
}

/** Something that happened on the connection, for the I/O layer to act on. */
export type Http2Event =
  /** The peer's SETTINGS were applied. */
  | { readonly type: 'remote-settings'; readonly settings: Http2Settings }
  /** A complete header block: request, response, interim response or trailers. */
  | {
      readonly type: 'headers';
      readonly streamId: number;
      readonly kind: HeaderBlockKind;
      readonly headers: HeaderField[];
      readonly endStream: boolean;
    }
  /**
   * Stream payload. Call {@link Http2Connection.consume} with its length once
   * it has been handed on, so the peer may send more (flow control).
   */
  | { readonly type: 'data'; readonly streamId: number; readonly data: Buffer; readonly endStream: boolean }
  /** The stream ended by RST_STREAM, sent (`remote: false`) or received, or refused by GOAWAY. */
  | {
      readonly type: 'stream-reset';
      readonly streamId: number;
      readonly errorCode: number;
      readonly remote: boolean;
      /** True when the peer never processed the stream (REFUSED_STREAM or above GOAWAY's last id). */
      readonly retryable: boolean;
    }
  /** Our END_STREAM for the stream left in {@link Http2Connection.flush} (all queued DATA before it). */
  | { readonly type: 'stream-end-sent'; readonly streamId: number }
  /** Both directions ended normally. */
  | { readonly type: 'stream-closed'; readonly streamId: number }
  /** Queued outbound bytes of the stream fell below the write buffer limit. */
  | { readonly type: 'stream-writable'; readonly streamId: number }
  | { readonly type: 'ping-ack'; readonly opaque: Buffer }
  | {
      readonly type: 'goaway';
      readonly lastStreamId: number;
      readonly errorCode: number;
      readonly debugData: Buffer;
    }
  /** A connection error, ours or the peer's: a GOAWAY is queued, the connection is closed. */
  | { readonly type: 'connection-error'; readonly error: Http2Error };

interface StreamRecord {
  readonly id: number;
  state: StreamState;
  sendWindow: number;
  recvWindow: number;
  /** Consumed bytes not yet returned to the peer by WINDOW_UPDATE. */
  credit: number;
  out: Buffer[];
  outBytes: number;
  endQueued: boolean;
  wantsWritable: boolean;
  /** Header blocks received: decides request/response/trailers. */
  blocksReceived: number;
  finalResponseSeen: boolean;
  expectedLength: number | undefined;
  receivedLength: number;
  /** Trailers to send once queued DATA is out. */
  trailers: readonly HeaderField[] | undefined;
}

interface PendingBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly fragments: Buffer[];
  bytes: number;
  frames: number;
}

const DEFAULT_LIMITS: Omit<Http2Limits, 'maxHeaderBlockBytes'> = {
  resetBurst: 200,
  resetsPerSecond: 50,
  controlBurst: 100,
  controlPerSecond: 20,
  maxPendingControlFrames: 1000,
  maxContinuationFrames: 32,
  streamWriteBuffer: 256 * 1024,
};

const RECENTLY_RESET_MEMORY = 1024;

/**
 * A sans-IO HTTP/2 connection (RFC 9113): feed it received bytes with
 * {@link receive}, read what happened with {@link takeEvents}, and write
 * what {@link flush} returns to the transport. No sockets, no timers; the
 * clock is injected. Generic HTTP/2 (any request, response, DATA and
 * trailers); the HBONE rules live in their own module.
 *
 * Flow control both ways: outbound DATA is queued per stream and released
 * as windows allow, round-robin so one stalled stream never blocks others;
 * inbound windows are only reopened when the application calls
 * {@link consume}, so a slow reader throttles its peer instead of making
 * anyone buffer without bound.
 *
 * @example
 * ```ts
 * const client = new Http2Connection({ role: 'client' });
 * const id = client.request([[':method', 'CONNECT'], [':authority', '10.0.0.2:80']]);
 * socket.write(Buffer.concat(client.flush()));
 * socket.on('data', (chunk) => { client.receive(chunk); for (const e of client.takeEvents()) handle(e); });
 * ```
 */
export class Http2Connection {
  readonly role: 'client' | 'server';
  readonly #local: Http2Settings;
  #remote: Http2Settings = PROTOCOL_DEFAULT_SETTINGS;
  readonly #limits: Http2Limits;
  readonly #decoder: FrameDecoder;
  readonly #hpackIn: HpackDecoder;
  readonly #hpackOut: HpackEncoder;
  readonly #streams = new Map<number, StreamRecord>();
  readonly #recentlyReset = new Set<number>();
  readonly #ready = new Set<number>();
  readonly #resets: TokenBucket;
  readonly #control: TokenBucket;
  #events: Http2Event[] = [];
  #controlOut: Buffer[] = [];
  #state: ConnectionState = { kind: 'open' };
  #settingsReceived = false;
  #pendingBlock: PendingBlock | undefined;
  #nextStreamId: number;
  #lastPeerStreamId = 0;
  #sendWindow = DEFAULT_WINDOW;
  #recvWindow = DEFAULT_WINDOW;
  #connectionCredit = 0;
  readonly #connectionWindow: number;
  #activePeerStreams = 0;
  #activeLocalStreams = 0;
  #shutdownPing: Buffer | undefined;
  #unackedSettings = 0;

  /** @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT when a setting is out of its legal range */
  constructor(options: Http2ConnectionOptions) {
    this.role = options.role;
    const defaults = options.role === 'client' ? ZTUNNEL_CLIENT_SETTINGS : ZTUNNEL_SERVER_SETTINGS;
    this.#local = { ...defaults, ...options.settings };
    checkLocalSettings(this.#local);
    this.#connectionWindow = options.connectionWindow ?? ZTUNNEL_CONNECTION_WINDOW;
    if (this.#connectionWindow < DEFAULT_WINDOW || this.#connectionWindow > MAX_WINDOW) {
      throw new HboneError('HBONE_ERR_INVALID_ARGUMENT', 'connection window must be 65535..2^31-1');
    }
    this.#limits = {
      ...DEFAULT_LIMITS,
      maxHeaderBlockBytes: Math.max(2 * Math.min(this.#local.maxHeaderListSize, 1 << 24), 16_384),
      ...options.limits,
    };
    const now = options.now ?? Date.now;
    this.#resets = new TokenBucket(this.#limits.resetBurst, this.#limits.resetsPerSecond, now);
    this.#control = new TokenBucket(this.#limits.controlBurst, this.#limits.controlPerSecond, now);
    this.#decoder = new FrameDecoder({
      maxFrameSize: this.#local.maxFrameSize,
      expectPreface: this.role === 'server',
    });
    this.#hpackIn = new HpackDecoder({
      maxTableSize: this.#local.headerTableSize,
      maxHeaderListSize: this.#local.maxHeaderListSize,
    });
    this.#hpackOut = new HpackEncoder();
    this.#nextStreamId = this.role === 'client' ? 1 : 2;
    // RFC 9113 §3.4: the preface (client) then SETTINGS, both sides.
    if (this.role === 'client') this.#controlOut.push(CONNECTION_PREFACE);
    this.#controlOut.push(encodeSettings(settingsToWire(this.#local, this.role)));
    this.#unackedSettings++;
    if (this.#connectionWindow > DEFAULT_WINDOW) {
      this.#controlOut.push(encodeWindowUpdate(0, this.#connectionWindow - DEFAULT_WINDOW));
      this.#recvWindow = this.#connectionWindow;
    }
  }

  /** Connection state (open, draining after GOAWAY, closed). */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Our advertised settings. */
  get localSettings(): Http2Settings {
    return this.#local;
  }

  /** The peer's settings as last received (protocol defaults before that). */
  get remoteSettings(): Http2Settings {
    return this.#remote;
  }

  /** Streams currently open (not closed), both directions. */
  get activeStreams(): number {
    return this.#activeLocalStreams + this.#activePeerStreams;
  }

  /** Our SETTINGS frames the peer has not acknowledged yet (RFC 9113 §6.5.3). */
  get pendingSettingsAcks(): number {
    return this.#unackedSettings;
  }

  /** Streams we opened that are still open. */
  get activeLocalStreams(): number {
    return this.#activeLocalStreams;
  }

  /** The connection send window (what we may still send on the whole connection). */
  get sendWindow(): number {
    return this.#sendWindow;
  }

  /** True when we may open another stream now (state open, under the peer's MAX_CONCURRENT_STREAMS). */
  get canOpenStream(): boolean {
    return (
      this.#state.kind === 'open' &&
      this.#activeLocalStreams < this.#remote.maxConcurrentStreams &&
      this.#nextStreamId <= MAX_WINDOW
    );
  }

  /** True when a GOAWAY was exchanged and no stream is left: the transport may close. */
  get isDrained(): boolean {
    return this.#state.kind === 'closed' || (this.#state.kind === 'draining' && this.activeStreams === 0);
  }

  /** State of one stream; undefined when idle or forgotten after close. */
  streamState(streamId: number): StreamState | undefined {
    return this.#streams.get(streamId)?.state;
  }

  /** Outbound bytes queued on a stream and not yet sent (flow control or transport). */
  queuedBytes(streamId: number): number {
    return this.#streams.get(streamId)?.outBytes ?? 0;
  }

  /** The stream's send window (what the peer lets us send on it now). */
  streamSendWindow(streamId: number): number {
    return this.#streams.get(streamId)?.sendWindow ?? 0;
  }

  /** Returns and clears the events produced since the last call. */
  takeEvents(): Http2Event[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  /**
   * Feeds bytes from the transport. Protocol errors never throw: they become
   * a RST_STREAM or GOAWAY in {@link flush} and an event in {@link takeEvents}.
   */
  receive(chunk: Buffer): void {
    if (this.#state.kind === 'closed') return;
    try {
      for (const frame of this.#decoder.push(chunk)) {
        this.#onFrame(frame);
        if ((this.#state as ConnectionState).kind === 'closed') return;
        // A peer that makes us answer but never reads would grow this queue forever (RFC 9113 §10.5).
        if (this.#controlOut.length > this.#limits.maxPendingControlFrames) {
          throw connectionError(ENHANCE_YOUR_CALM, 'too many control frames queued: the peer does not read');
        }
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Opens a stream with a request header block (client role).
   * @returns the new stream id
   * @throws {HboneError} HBONE_ERR_REFUSED_STREAM when no stream may be opened now; HBONE_ERR_INVALID_ARGUMENT for a malformed header list
   */
  request(headers: readonly HeaderField[], options: { endStream?: boolean } = {}): number {
    if (!this.canOpenStream) {
      throw new HboneError(
        'HBONE_ERR_REFUSED_STREAM',
        `cannot open a stream now (state ${this.#state.kind})`,
      );
    }
    if (this.role !== 'client')
      throw new HboneError('HBONE_ERR_INVALID_ARGUMENT', 'only a client opens streams');
    checkOutgoing(headers, 'request');
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = this.#newStream(id);
    this.#activeLocalStreams++;
    this.#sendHeaderBlock(stream, headers, options.endStream ?? false);
    return id;
  }

  /**
   * Sends response headers (final or 1xx) on a peer's stream (server role).
   * @throws {HboneError} HBONE_ERR_STREAM_CLOSED when the stream cannot send; HBONE_ERR_INVALID_ARGUMENT for a malformed list
   */
  respond(streamId: number, headers: readonly HeaderField[], options: { endStream?: boolean } = {}): void {
    const status = headerValue(headers, ':status') ?? '';
    checkOutgoing(headers, status.startsWith('1') ? 'informational' : 'response');
    this.#sendHeaderBlock(this.#sendable(streamId), headers, options.endStream ?? false);
  }

  /**
   * Sends trailers, ending the stream.
   * @throws {HboneError} HBONE_ERR_STREAM_CLOSED or HBONE_ERR_INVALID_ARGUMENT
   */
  sendTrailers(streamId: number, headers: readonly HeaderField[]): void {
    checkOutgoing(headers, 'trailers');
    const stream = this.#sendable(streamId);
    // Trailers go after queued DATA: flush them through the data queue's end marker.
    stream.endQueued = true;
    this.#ready.add(streamId);
    stream.trailers = headers;
  }

  /**
   * Queues stream payload; sent as windows allow. The buffer is referenced,
   * not copied: do not modify it afterwards.
   * @returns false when the stream's queue is past its limit: wait for `stream-writable`
   * @throws {HboneError} HBONE_ERR_STREAM_CLOSED when the stream cannot send
   */
  write(streamId: number, data: Buffer): boolean {
    const stream = this.#sendable(streamId);
    if (data.length > 0) {
      stream.out.push(data);
      stream.outBytes += data.length;
      this.#ready.add(streamId);
    }
    const ok = stream.outBytes < this.#limits.streamWriteBuffer;
    if (!ok) stream.wantsWritable = true;
    return ok;
  }

  /**
   * Ends our side of the stream after queued data (END_STREAM).
   * @throws {HboneError} HBONE_ERR_STREAM_CLOSED when already ended
   */
  end(streamId: number): void {
    const stream = this.#sendable(streamId);
    stream.endQueued = true;
    this.#ready.add(streamId);
  }

  /** Resets a stream (RST_STREAM); no-op when it is already closed. */
  reset(streamId: number, errorCode: number = CANCEL): void {
    const stream = this.#streams.get(streamId);
    if (!stream || this.#state.kind === 'closed') return;
    this.#queueControl(encodeRstStream(streamId, errorCode));
    this.#closeStream(stream, true);
    this.#events.push({ type: 'stream-reset', streamId, errorCode, remote: false, retryable: false });
  }

  /**
   * Marks `bytes` of received DATA as handed on, reopening flow-control
   * windows. WINDOW_UPDATEs are coalesced: sent once half a window is owed.
   */
  consume(streamId: number, bytes: number): void {
    if (bytes <= 0 || this.#state.kind === 'closed') return;
    this.#creditConnection(bytes);
    const stream = this.#streams.get(streamId);
    if (!stream || stream.state === 'half-closed-remote' || stream.state === 'closed') return;
    stream.credit += bytes;
    if (stream.credit >= this.#local.initialWindowSize / 2) {
      this.#queueControl(encodeWindowUpdate(streamId, stream.credit));
      stream.recvWindow += stream.credit;
      stream.credit = 0;
    }
  }

  /**
   * Sends a PING (RFC 9113 §6.7); the ACK comes back as a `ping-ack` event.
   * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT unless `opaque` is 8 bytes
   */
  ping(opaque: Buffer): void {
    if (this.#state.kind === 'closed') return;
    this.#queueControl(encodePing(opaque));
  }

  /**
   * Starts a graceful shutdown (RFC 9113 §6.8): a GOAWAY with the largest
   * stream id and a PING; when the PING returns, the final GOAWAY names the
   * last stream processed. Streams below it finish normally.
   */
  shutdown(): void {
    if (this.#state.kind !== 'open') return;
    this.#queueControl(encodeGoaway(MAX_WINDOW, NO_ERROR));
    this.#shutdownPing = Buffer.from('amesh-gw', 'latin1');
    this.#queueControl(encodePing(this.#shutdownPing));
    this.#state = { kind: 'draining', sentLastStreamId: MAX_WINDOW, receivedLastStreamId: undefined };
  }

  /** Sends GOAWAY now with the last processed stream id; with an error code, closes the connection. */
  goaway(errorCode: number = NO_ERROR, debug = ''): void {
    if (this.#state.kind === 'closed') return;
    this.#sendFinalGoaway(errorCode, debug);
    if (errorCode !== NO_ERROR) this.#close(undefined);
  }

  /** True when {@link flush} has something to return. */
  get wantsFlush(): boolean {
    if (this.#controlOut.length > 0) return true;
    for (const id of this.#ready) {
      const s = this.#streams.get(id);
      if (!s) continue;
      if (s.outBytes === 0 || (this.#sendWindow > 0 && s.sendWindow > 0)) return true;
    }
    return false;
  }

  /**
   * Returns the bytes to write to the transport, in order: control frames,
   * then DATA frames round-robin across streams, within the flow-control
   * windows and at most about `budget` DATA bytes (so the transport's own
   * buffer stays bounded; call again on its drain).
   */
  flush(budget = 1024 * 1024): Buffer[] {
    const out = this.#controlOut;
    this.#controlOut = [];
    let left = budget;
    let progress = true;
    while (progress && left > 0 && this.#ready.size > 0) {
      progress = false;
      for (const id of [...this.#ready]) {
        const stream = this.#streams.get(id);
        if (!stream) {
          this.#ready.delete(id);
          continue;
        }
        const n = Math.min(
          stream.outBytes,
          this.#sendWindow,
          stream.sendWindow,
          this.#remote.maxFrameSize,
          left,
        );
        if (n === 0 && stream.outBytes > 0) continue; // blocked by a window: others go on
        const last = n === stream.outBytes && stream.endQueued;
        const trailers = stream.trailers;
        if (n > 0 || (last && trailers === undefined)) {
          this.#takeData(stream, n, out, last && trailers === undefined);
          left -= n;
          progress = true;
        }
        if (stream.outBytes === 0) {
          this.#ready.delete(id);
          if (last && trailers !== undefined) {
            out.push(...this.#encodeBlock(id, trailers, true));
            this.#endLocal(stream);
            progress = true;
          }
        }
        if (stream.wantsWritable && stream.outBytes < this.#limits.streamWriteBuffer) {
          stream.wantsWritable = false;
          this.#events.push({ type: 'stream-writable', streamId: id });
        }
        if (left <= 0) break;
      }
    }
    if (this.#controlOut.length > 0) out.push(...this.#controlOut.splice(0));
    return out;
  }

  #takeData(stream: StreamRecord, n: number, out: Buffer[], endStream: boolean): void {
    this.#sendWindow -= n;
    stream.sendWindow -= n;
    stream.outBytes -= n;
    const first = stream.out[0];
    if (n > 0 && first !== undefined && first.length >= n) {
      out.push(...encodeData(stream.id, first.subarray(0, n), endStream));
      if (first.length === n) stream.out.shift();
      else stream.out[0] = first.subarray(n);
    } else {
      // The frame spans several queued buffers: header, then each piece (still no copy).
      out.push(encodeFrameHeader(n, FrameType.DATA, endStream ? FrameFlag.END_STREAM : 0, stream.id));
      let left = n;
      while (left > 0) {
        const b = stream.out[0]!;
        if (b.length <= left) {
          out.push(b);
          left -= b.length;
          stream.out.shift();
        } else {
          out.push(b.subarray(0, left));
          stream.out[0] = b.subarray(left);
          left = 0;
        }
      }
    }
    if (endStream) this.#endLocal(stream);
  }

  #sendable(streamId: number): StreamRecord {
    const stream = this.#streams.get(streamId);
    if (!stream || stream.state === 'closed' || stream.state === 'half-closed-local' || stream.endQueued) {
      throw new HboneError('HBONE_ERR_STREAM_CLOSED', `stream ${streamId} cannot send`);
    }
    if (this.#state.kind === 'closed')
      throw new HboneError('HBONE_ERR_CONNECTION_CLOSED', 'connection closed');
    return stream;
  }

  #newStream(id: number): StreamRecord {
    const stream: StreamRecord = {
      id,
      state: 'open',
      sendWindow: this.#remote.initialWindowSize,
      recvWindow: this.#local.initialWindowSize,
      credit: 0,
      out: [],
      outBytes: 0,
      endQueued: false,
      wantsWritable: false,
      blocksReceived: 0,
      finalResponseSeen: false,
      expectedLength: undefined,
      receivedLength: 0,
      trailers: undefined,
    };
    this.#streams.set(id, stream);
    return stream;
  }

  #encodeBlock(streamId: number, headers: readonly HeaderField[], endStream: boolean): Buffer[] {
    const block = this.#hpackOut.encode(headers);
    return encodeHeaders(streamId, block, { endStream, maxFrameSize: this.#remote.maxFrameSize });
  }

  #sendHeaderBlock(stream: StreamRecord, headers: readonly HeaderField[], endStream: boolean): void {
    // Header blocks must not interleave with other frames of the connection (RFC 9113 §4.3); they go as one unit.
    this.#controlOut.push(...this.#encodeBlock(stream.id, headers, endStream));
    if (endStream) {
      stream.endQueued = true;
      this.#endLocal(stream);
    }
  }

  #endLocal(stream: StreamRecord): void {
    this.#events.push({ type: 'stream-end-sent', streamId: stream.id });
    if (stream.state === 'open') stream.state = 'half-closed-local';
    else if (stream.state === 'half-closed-remote') this.#finishStream(stream);
  }

  #endRemote(stream: StreamRecord): void {
    if (stream.expectedLength !== undefined && stream.expectedLength !== stream.receivedLength) {
      throw streamError(
        PROTOCOL_ERROR,
        stream.id,
        'content-length does not match the DATA received (RFC 9113 §8.1.1)',
      );
    }
    if (stream.state === 'open') stream.state = 'half-closed-remote';
    else if (stream.state === 'half-closed-local') this.#finishStream(stream);
  }

  #finishStream(stream: StreamRecord): void {
    this.#closeStream(stream, false);
    this.#events.push({ type: 'stream-closed', streamId: stream.id });
  }

  #closeStream(stream: StreamRecord, resetByUs: boolean): void {
    if (stream.state === 'closed') return;
    stream.state = 'closed';
    this.#streams.delete(stream.id);
    this.#ready.delete(stream.id);
    if (this.#isLocalId(stream.id)) this.#activeLocalStreams--;
    else this.#activePeerStreams--;
    // Give back what the application never consumed, so the connection window does not leak.
    if (resetByUs) {
      this.#recentlyReset.add(stream.id);
      if (this.#recentlyReset.size > RECENTLY_RESET_MEMORY) {
        this.#recentlyReset.delete(this.#recentlyReset.values().next().value as number);
      }
    }
  }

  #isLocalId(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'client');
  }

  #creditConnection(bytes: number): void {
    this.#connectionCredit += bytes;
    if (this.#connectionCredit >= this.#connectionWindow / 4) {
      this.#queueControl(encodeWindowUpdate(0, this.#connectionCredit));
      this.#recvWindow += this.#connectionCredit;
      this.#connectionCredit = 0;
    }
  }

  #queueControl(frame: Buffer): void {
    this.#controlOut.push(frame);
  }

  #fail(error: unknown): void {
    const h2 =
      error instanceof Http2Error
        ? error
        : connectionError(
            Http2ErrorCode.INTERNAL_ERROR,
            `internal error: ${(error as Error)?.message ?? error}`,
          );
    if (h2.scope === 'stream' && h2.streamId !== 0) {
      this.#streamFail(h2);
      return;
    }
    this.#controlOut.push(
      encodeGoaway(this.#lastPeerStreamId, h2.http2Code, Buffer.from(h2.message.slice(0, 256))),
    );
    this.#close(h2);
  }

  #close(error: Http2Error | undefined): void {
    for (const stream of [...this.#streams.values()]) {
      this.#closeStream(stream, false);
      this.#events.push({
        type: 'stream-reset',
        streamId: stream.id,
        errorCode: error?.http2Code ?? CANCEL,
        remote: false,
        retryable: false,
      });
    }
    this.#state = { kind: 'closed', error };
    if (error) this.#events.push({ type: 'connection-error', error });
  }

  #streamFail(error: Http2Error): void {
    const stream = this.#streams.get(error.streamId);
    this.#queueControl(encodeRstStream(error.streamId, error.http2Code));
    if (stream) {
      this.#closeStream(stream, true);
      this.#events.push({
        type: 'stream-reset',
        streamId: error.streamId,
        errorCode: error.http2Code,
        remote: false,
        retryable: error.http2Code === REFUSED_STREAM,
      });
    } else {
      this.#recentlyReset.add(error.streamId);
    }
  }

  #onFrame(frame: Frame): void {
    if (this.#pendingBlock && frame.type !== 'continuation') {
      throw connectionError(PROTOCOL_ERROR, 'header block interrupted by another frame (RFC 9113 §6.10)');
    }
    if (!this.#settingsReceived && !(frame.type === 'settings' && !frame.ack)) {
      throw connectionError(PROTOCOL_ERROR, 'first frame from the peer must be SETTINGS (RFC 9113 §3.4)');
    }
    try {
      switch (frame.type) {
        case 'data':
          this.#onData(frame);
          break;
        case 'headers':
          this.#onHeaders(frame);
          break;
        case 'continuation':
          this.#onContinuation(frame);
          break;
        case 'priority':
          break; // RFC 9113 §5.3.2: priority signals are accepted and ignored.
        case 'rst-stream':
          this.#onRstStream(frame.streamId, frame.errorCode);
          break;
        case 'settings':
          this.#onSettings(frame.ack, frame.settings);
          break;
        case 'push-promise':
          // We advertise ENABLE_PUSH=0 (client) and servers never receive it (RFC 9113 §8.4).
          throw connectionError(PROTOCOL_ERROR, 'PUSH_PROMISE received with push disabled (RFC 9113 §8.4)');
        case 'ping':
          this.#onPing(frame.ack, frame.opaque);
          break;
        case 'goaway':
          this.#onGoaway(frame.lastStreamId, frame.errorCode, frame.debugData);
          break;
        case 'window-update':
          this.#onWindowUpdate(frame.streamId, frame.increment);
          break;
        case 'unknown':
          break; // RFC 9113 §5.5: unknown frame types are ignored.
      }
    } catch (error) {
      if (error instanceof Http2Error && error.scope === 'stream') {
        this.#streamFail(error);
        return;
      }
      throw error;
    }
  }

  #isIdle(id: number): boolean {
    return this.#isLocalId(id) ? id >= this.#nextStreamId : id > this.#lastPeerStreamId;
  }

  #onData(frame: Extract<Frame, { type: 'data' }>): void {
    const { streamId, flowLength } = frame;
    if (flowLength > this.#recvWindow) {
      throw connectionError(FLOW_CONTROL_ERROR, 'DATA exceeds the connection window (RFC 9113 §6.9.1)');
    }
    this.#recvWindow -= flowLength;
    const stream = this.#streams.get(streamId);
    if (!stream) {
      if (this.#isIdle(streamId))
        throw connectionError(PROTOCOL_ERROR, `DATA on idle stream ${streamId} (RFC 9113 §5.1)`);
      // Closed stream: return the bytes to the connection window (RFC 9113 §6.9).
      this.#creditConnection(flowLength);
      if (this.#recentlyReset.has(streamId)) return;
      throw streamError(STREAM_CLOSED, streamId, `DATA on closed stream ${streamId} (RFC 9113 §5.1)`);
    }
    if (stream.state === 'half-closed-remote') {
      this.#creditConnection(flowLength);
      throw streamError(STREAM_CLOSED, streamId, 'DATA after END_STREAM (RFC 9113 §5.1)');
    }
    if (stream.blocksReceived === 0 || (this.role === 'client' && !stream.finalResponseSeen)) {
      this.#creditConnection(flowLength);
      throw streamError(PROTOCOL_ERROR, streamId, 'DATA before the header block (RFC 9113 §8.1)');
    }
    if (flowLength > stream.recvWindow) {
      this.#creditConnection(flowLength);
      throw streamError(FLOW_CONTROL_ERROR, streamId, 'DATA exceeds the stream window (RFC 9113 §6.9.1)');
    }
    stream.recvWindow -= flowLength;
    const padding = flowLength - frame.data.length;
    if (padding > 0) this.consume(streamId, padding);
    stream.receivedLength += frame.data.length;
    if (stream.expectedLength !== undefined && stream.receivedLength > stream.expectedLength) {
      throw streamError(PROTOCOL_ERROR, streamId, 'more DATA than content-length (RFC 9113 §8.1.1)');
    }
    if (frame.data.length > 0 || frame.endStream) {
      this.#events.push({ type: 'data', streamId, data: frame.data, endStream: frame.endStream });
    }
    if (frame.endStream) this.#endRemote(stream);
  }

  #onHeaders(frame: Extract<Frame, { type: 'headers' }>): void {
    const block: PendingBlock = {
      streamId: frame.streamId,
      endStream: frame.endStream,
      fragments: [frame.fragment],
      bytes: frame.fragment.length,
      frames: 1,
    };
    if (block.bytes > this.#limits.maxHeaderBlockBytes) {
      throw connectionError(ENHANCE_YOUR_CALM, 'header block larger than the limit');
    }
    if (frame.endHeaders) this.#onHeaderBlock(block);
    else this.#pendingBlock = block;
  }

  #onContinuation(frame: Extract<Frame, { type: 'continuation' }>): void {
    const block = this.#pendingBlock;
    if (!block || block.streamId !== frame.streamId) {
      throw connectionError(
        PROTOCOL_ERROR,
        'CONTINUATION without a header block in progress (RFC 9113 §6.10)',
      );
    }
    block.fragments.push(frame.fragment);
    block.bytes += frame.fragment.length;
    block.frames++;
    // CONTINUATION flood (CVE-2024-27316): bound both the bytes and the number of frames.
    if (
      block.bytes > this.#limits.maxHeaderBlockBytes ||
      block.frames > this.#limits.maxContinuationFrames + 1
    ) {
      throw connectionError(ENHANCE_YOUR_CALM, 'header block too large or too many CONTINUATION frames');
    }
    if (frame.endHeaders) {
      this.#pendingBlock = undefined;
      this.#onHeaderBlock(block);
    }
  }

  #onHeaderBlock(block: PendingBlock): void {
    const raw = block.fragments.length === 1 ? block.fragments[0]! : Buffer.concat(block.fragments);
    // Always decode, even for a stream we will refuse, to keep HPACK state in sync (RFC 9113 §4.3).
    const decoded = this.#hpackIn.decode(raw);
    const id = block.streamId;
    let stream = this.#streams.get(id);
    if (!stream) {
      if (!this.#isIdle(id)) {
        if (this.#recentlyReset.has(id)) return;
        throw connectionError(STREAM_CLOSED, `HEADERS on closed stream ${id} (RFC 9113 §5.1)`);
      }
      if (this.#isLocalId(id) || this.role === 'client') {
        throw connectionError(
          PROTOCOL_ERROR,
          `peer opened stream ${id} with the wrong parity (RFC 9113 §5.1.1)`,
        );
      }
      this.#lastPeerStreamId = id;
      const sent = this.#state.kind === 'draining' ? this.#state.sentLastStreamId : undefined;
      if (sent !== undefined && sent !== MAX_WINDOW && id > sent) {
        // After our final GOAWAY new streams are ignored (RFC 9113 §6.8).
        return;
      }
      if (this.#activePeerStreams >= this.#local.maxConcurrentStreams) {
        this.#recentlyReset.add(id);
        this.#countReset();
        this.#queueControl(encodeRstStream(id, REFUSED_STREAM));
        return;
      }
      stream = this.#newStream(id);
      this.#activePeerStreams++;
    }
    if (stream.state === 'half-closed-remote' || stream.state === 'closed') {
      throw streamError(STREAM_CLOSED, id, 'HEADERS after END_STREAM (RFC 9113 §5.1)');
    }
    if (decoded.oversize) {
      // RFC 9113 §10.5.1: a server may answer 431; a client just drops the stream.
      if (this.role === 'server' && stream.blocksReceived === 0) {
        this.#sendHeaderBlock(stream, [[':status', '431']], true);
        throw streamError(NO_ERROR, id, 'request header list larger than SETTINGS_MAX_HEADER_LIST_SIZE');
      }
      throw streamError(PROTOCOL_ERROR, id, 'header list larger than SETTINGS_MAX_HEADER_LIST_SIZE');
    }
    const kind = this.#blockKind(stream, decoded.headers);
    if (kind === 'trailers' && !block.endStream) {
      throw streamError(PROTOCOL_ERROR, id, 'trailers without END_STREAM (RFC 9113 §8.1)');
    }
    const problem = validateHeaderList(decoded.headers, kind);
    if (problem) throw streamError(PROTOCOL_ERROR, id, problem);
    if (kind === 'informational' && block.endStream) {
      throw streamError(PROTOCOL_ERROR, id, 'interim response with END_STREAM (RFC 9113 §8.1)');
    }
    stream.blocksReceived++;
    if (kind === 'response') stream.finalResponseSeen = true;
    if (kind === 'request' || kind === 'response') {
      const length = headerValue(decoded.headers, 'content-length');
      if (length !== undefined) {
        if (!/^[0-9]{1,15}$/.test(length)) throw streamError(PROTOCOL_ERROR, id, 'invalid content-length');
        stream.expectedLength = Number(length);
      }
    }
    this.#events.push({
      type: 'headers',
      streamId: id,
      kind,
      headers: decoded.headers,
      endStream: block.endStream,
    });
    if (block.endStream) this.#endRemote(stream);
  }

  #blockKind(stream: StreamRecord, headers: readonly HeaderField[]): HeaderBlockKind {
    if (this.role === 'server') return stream.blocksReceived === 0 ? 'request' : 'trailers';
    if (stream.finalResponseSeen) return 'trailers';
    const status = headerValue(headers, ':status');
    // 101 is not allowed in HTTP/2 (RFC 9113 §8.6): classed as final, it fails validation there.
    return status?.startsWith('1') && status !== '101' ? 'informational' : 'response';
  }

  #countReset(): void {
    // Rapid reset (CVE-2023-44487): streams the peer opens and cancels cost us work; bound the rate.
    if (!this.#resets.take()) {
      throw connectionError(ENHANCE_YOUR_CALM, 'too many stream resets (rapid reset)');
    }
  }

  #onRstStream(streamId: number, errorCode: number): void {
    const stream = this.#streams.get(streamId);
    if (!stream) {
      if (this.#isIdle(streamId))
        throw connectionError(PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
      return;
    }
    if (!this.#isLocalId(streamId)) this.#countReset();
    this.#closeStream(stream, false);
    this.#events.push({
      type: 'stream-reset',
      streamId,
      errorCode,
      remote: true,
      retryable: errorCode === REFUSED_STREAM,
    });
  }

  #onSettings(ack: boolean, entries: readonly SettingEntry[]): void {
    if (ack) {
      if (this.#unackedSettings === 0)
        throw connectionError(PROTOCOL_ERROR, 'SETTINGS ACK without pending SETTINGS');
      this.#unackedSettings--;
      return;
    }
    if (this.#settingsReceived && !this.#control.take()) {
      throw connectionError(ENHANCE_YOUR_CALM, 'SETTINGS flood');
    }
    this.#settingsReceived = true;
    let next = { ...this.#remote };
    for (const { id, value } of entries) {
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          next = { ...next, headerTableSize: value };
          break;
        case SettingId.ENABLE_PUSH:
          if (value > 1) throw connectionError(PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH must be 0 or 1');
          if (value === 1 && this.role === 'client') {
            throw connectionError(PROTOCOL_ERROR, 'server sent SETTINGS_ENABLE_PUSH=1 (RFC 9113 §6.5.2)');
          }
          next = { ...next, enablePush: value === 1 };
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          next = { ...next, maxConcurrentStreams: value };
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW)
            throw connectionError(FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
          next = { ...next, initialWindowSize: value };
          break;
        case SettingId.MAX_FRAME_SIZE:
          if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
            throw connectionError(PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE outside 16384..16777215');
          }
          next = { ...next, maxFrameSize: value };
          break;
        case SettingId.MAX_HEADER_LIST_SIZE:
          next = { ...next, maxHeaderListSize: value };
          break;
        default:
          break; // RFC 9113 §6.5.2: unknown settings are ignored.
      }
    }
    const delta = next.initialWindowSize - this.#remote.initialWindowSize;
    if (delta !== 0) {
      for (const stream of this.#streams.values()) {
        stream.sendWindow += delta;
        if (stream.sendWindow > MAX_WINDOW) {
          throw connectionError(
            FLOW_CONTROL_ERROR,
            'SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window (RFC 9113 §6.9.2)',
          );
        }
      }
    }
    if (next.headerTableSize !== this.#remote.headerTableSize)
      this.#hpackOut.setPeerMaxTableSize(next.headerTableSize);
    this.#remote = next;
    this.#queueControl(encodeSettings([], true));
    this.#events.push({ type: 'remote-settings', settings: next });
  }

  #onPing(ack: boolean, opaque: Buffer): void {
    if (ack) {
      if (this.#shutdownPing?.equals(opaque)) {
        this.#shutdownPing = undefined;
        this.#sendFinalGoaway(NO_ERROR, '');
      }
      this.#events.push({ type: 'ping-ack', opaque: Buffer.from(opaque) });
      return;
    }
    if (!this.#control.take()) throw connectionError(ENHANCE_YOUR_CALM, 'PING flood');
    this.#queueControl(encodePing(Buffer.from(opaque), true));
  }

  #sendFinalGoaway(errorCode: number, debug: string): void {
    const last = this.#lastPeerStreamId;
    this.#controlOut.push(encodeGoaway(last, errorCode, Buffer.from(debug)));
    const received = this.#state.kind === 'draining' ? this.#state.receivedLastStreamId : undefined;
    this.#state = { kind: 'draining', sentLastStreamId: last, receivedLastStreamId: received };
  }

  #onGoaway(lastStreamId: number, errorCode: number, debugData: Buffer): void {
    const sent = this.#state.kind === 'draining' ? this.#state.sentLastStreamId : undefined;
    this.#state = { kind: 'draining', sentLastStreamId: sent, receivedLastStreamId: lastStreamId };
    this.#events.push({ type: 'goaway', lastStreamId, errorCode, debugData: Buffer.from(debugData) });
    for (const stream of [...this.#streams.values()]) {
      if (this.#isLocalId(stream.id) && stream.id > lastStreamId) {
        // Never processed by the peer: safe to retry elsewhere (RFC 9113 §6.8).
        this.#closeStream(stream, false);
        this.#events.push({
          type: 'stream-reset',
          streamId: stream.id,
          errorCode: REFUSED_STREAM,
          remote: true,
          retryable: true,
        });
      }
    }
    if (errorCode !== NO_ERROR) {
      this.#close(
        connectionError(errorCode, `peer sent GOAWAY: ${debugData.toString('latin1').slice(0, 200)}`),
      );
    }
  }

  #onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      if (increment === 0)
        throw connectionError(PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection (RFC 9113 §6.9)');
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) {
        throw connectionError(FLOW_CONTROL_ERROR, 'connection window above 2^31-1 (RFC 9113 §6.9.1)');
      }
      return;
    }
    const stream = this.#streams.get(streamId);
    if (!stream) {
      if (this.#isIdle(streamId))
        throw connectionError(PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (increment === 0) throw streamError(PROTOCOL_ERROR, streamId, 'WINDOW_UPDATE of 0 (RFC 9113 §6.9)');
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      throw streamError(FLOW_CONTROL_ERROR, streamId, 'stream window above 2^31-1 (RFC 9113 §6.9.1)');
    }
  }
}

function settingsToWire(s: Http2Settings, role: 'client' | 'server'): SettingEntry[] {
  const out: SettingEntry[] = [];
  if (s.headerTableSize !== 4096) out.push({ id: SettingId.HEADER_TABLE_SIZE, value: s.headerTableSize });
  if (role === 'client') out.push({ id: SettingId.ENABLE_PUSH, value: s.enablePush ? 1 : 0 });
  if (Number.isFinite(s.maxConcurrentStreams)) {
    out.push({ id: SettingId.MAX_CONCURRENT_STREAMS, value: s.maxConcurrentStreams });
  }
  out.push({ id: SettingId.INITIAL_WINDOW_SIZE, value: s.initialWindowSize });
  out.push({ id: SettingId.MAX_FRAME_SIZE, value: s.maxFrameSize });
  if (Number.isFinite(s.maxHeaderListSize)) {
    out.push({ id: SettingId.MAX_HEADER_LIST_SIZE, value: s.maxHeaderListSize });
  }
  return out;
}

function checkLocalSettings(s: Http2Settings): void {
  const bad = (m: string): HboneError => new HboneError('HBONE_ERR_INVALID_ARGUMENT', m);
  if (s.initialWindowSize < 0 || s.initialWindowSize > MAX_WINDOW)
    throw bad('initialWindowSize must be 0..2^31-1');
  if (s.maxFrameSize < MIN_MAX_FRAME_SIZE || s.maxFrameSize > MAX_MAX_FRAME_SIZE) {
    throw bad('maxFrameSize must be 16384..16777215');
  }
  if (s.headerTableSize < 0 || s.headerTableSize > 0xffffffff) throw bad('headerTableSize out of range');
}

function checkOutgoing(headers: readonly HeaderField[], kind: HeaderBlockKind): void {
  const problem = validateHeaderList(headers, kind);
  if (problem) throw new HboneError('HBONE_ERR_INVALID_ARGUMENT', problem);
}
