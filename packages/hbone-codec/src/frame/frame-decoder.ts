import { connectionError, Http2ErrorCode } from '../errors.js';
import {
  CONNECTION_PREFACE,
  FRAME_HEADER_LENGTH,
  type Frame,
  FrameFlag,
  FrameType,
  MIN_MAX_FRAME_SIZE,
  type PriorityInfo,
  type SettingEntry,
} from './frame-types.js';

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest payload accepted (our SETTINGS_MAX_FRAME_SIZE); larger is FRAME_SIZE_ERROR (RFC 9113 §4.2). */
  readonly maxFrameSize?: number;
  /** Expect the 24-byte client preface before the first frame (server side, RFC 9113 §3.4). */
  readonly expectPreface?: boolean;
  /**
   * Unpadded DATA frames larger than this many bytes are emitted in parts as
   * their bytes arrive (each part a view of the input, never a copy); only
   * the last part carries END_STREAM. Default 16 384; `Infinity` turns it off.
   */
  readonly streamDataAbove?: number;
}

const { PROTOCOL_ERROR, FRAME_SIZE_ERROR } = Http2ErrorCode;
const EMPTY = Buffer.alloc(0);

/**
 * An incremental HTTP/2 frame decoder (RFC 9113 §4, §6): push bytes in any
 * split, get whole frames out. It checks each frame's own layout (lengths,
 * stream 0 rules, padding); stream state is the connection's job.
 *
 * Payload buffers are views into the pushed chunks when a frame lies inside
 * one chunk (no copy). An error is terminal: after a throw the decoder throws
 * again on every push.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
 * for (const frame of decoder.push(chunk)) console.log(frame.type);
 * ```
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #maxFrameSize: number;
  #prefaceLeft: number;
  #failed: Error | undefined;
  readonly #streamDataAbove: number;
  /** The DATA frame being streamed in parts: bytes still to come. */
  #dataLeft = 0;
  #dataStreamId = 0;
  #dataEndStream = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameSize = options.maxFrameSize ?? MIN_MAX_FRAME_SIZE;
    this.#prefaceLeft = options.expectPreface ? CONNECTION_PREFACE.length : 0;
    this.#streamDataAbove = options.streamDataAbove ?? MIN_MAX_FRAME_SIZE;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Changes the largest accepted payload (after our SETTINGS change). */
  setMaxFrameSize(size: number): void {
    this.#maxFrameSize = size;
  }

  /**
   * Feeds bytes; returns every frame now complete, in order.
   * @throws {Http2Error} a connection error (PROTOCOL_ERROR or FRAME_SIZE_ERROR) on a malformed frame or preface
   */
  push(chunk: Buffer): Frame[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (error) {
      this.#failed = error as Error;
      this.#chunks = [];
      this.#buffered = 0;
      throw error;
    }
  }

  #push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    if (this.#prefaceLeft > 0) {
      const offset = CONNECTION_PREFACE.length - this.#prefaceLeft;
      const n = Math.min(this.#prefaceLeft, this.#buffered);
      const got = this.#take(n);
      if (!got.equals(CONNECTION_PREFACE.subarray(offset, offset + n))) {
        throw connectionError(PROTOCOL_ERROR, 'invalid connection preface (RFC 9113 §3.4)');
      }
      this.#prefaceLeft -= n;
      if (this.#prefaceLeft > 0) return frames;
    }
    for (;;) {
      if (this.#dataLeft > 0) {
        if (this.#buffered === 0) break;
        // Part of a large DATA frame: hand on what arrived, as a view of the first chunk.
        const data = this.#take(Math.min(this.#dataLeft, this.#chunks[0]!.length));
        this.#dataLeft -= data.length;
        const endStream = this.#dataLeft === 0 && this.#dataEndStream;
        frames.push({ type: 'data', streamId: this.#dataStreamId, data, endStream, flowLength: data.length });
        continue;
      }
      if (this.#buffered < FRAME_HEADER_LENGTH) break;
      const header = this.#peekHeader();
      const length = (header[0]! << 16) | (header[1]! << 8) | header[2]!;
      if (length > this.#maxFrameSize) {
        throw connectionError(
          FRAME_SIZE_ERROR,
          `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.#maxFrameSize}`,
        );
      }
      if (this.#buffered < FRAME_HEADER_LENGTH + length) {
        const flags = header[4]!;
        if (
          header[3] === FrameType.DATA &&
          (flags & FrameFlag.PADDED) === 0 &&
          length > this.#streamDataAbove
        ) {
          const streamId = header.readUInt32BE(5) & 0x7fffffff;
          requireStream(streamId, 'DATA');
          this.#take(FRAME_HEADER_LENGTH);
          this.#dataLeft = length;
          this.#dataStreamId = streamId;
          this.#dataEndStream = (flags & FrameFlag.END_STREAM) !== 0;
          continue;
        }
        break;
      }
      this.#take(FRAME_HEADER_LENGTH);
      const payload = length === 0 ? EMPTY : this.#take(length);
      frames.push(parseFrame(header[3]!, header[4]!, header.readUInt32BE(5) & 0x7fffffff, payload));
    }
    return frames;
  }

  #peekHeader(): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= FRAME_HEADER_LENGTH) return first.subarray(0, FRAME_HEADER_LENGTH);
    const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
    let filled = 0;
    for (const c of this.#chunks) {
      filled += c.copy(out, filled, 0, Math.min(c.length, FRAME_HEADER_LENGTH - filled));
      if (filled === FRAME_HEADER_LENGTH) break;
    }
    return out;
  }

  /** Removes and returns n buffered bytes: a view when they lie in one chunk. */
  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.#chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.#chunks[0] = c.subarray(want);
        filled = n;
      }
    }
    return out;
  }
}

function stripPadding(flags: number, payload: Buffer, type: string): Buffer {
  if ((flags & FrameFlag.PADDED) === 0) return payload;
  if (payload.length < 1) throw connectionError(FRAME_SIZE_ERROR, `padded ${type} frame has no pad length`);
  const padLength = payload[0]!;
  if (padLength >= payload.length) {
    // RFC 9113 §6.1, §6.2: padding that is not shorter than the payload is a PROTOCOL_ERROR.
    throw connectionError(PROTOCOL_ERROR, `${type} padding of ${padLength} exceeds the payload`);
  }
  return payload.subarray(1, payload.length - padLength);
}

function parsePriority(b: Buffer): PriorityInfo {
  const word = b.readUInt32BE(0);
  return { exclusive: (word & 0x80000000) !== 0, dependency: word & 0x7fffffff, weight: b[4]! + 1 };
}

function requireStream(streamId: number, type: string): void {
  if (streamId === 0) throw connectionError(PROTOCOL_ERROR, `${type} frame on stream 0`);
}

function requireConnection(streamId: number, type: string): void {
  if (streamId !== 0) throw connectionError(PROTOCOL_ERROR, `${type} frame on stream ${streamId}, must be 0`);
}

function parseFrame(type: number, flags: number, streamId: number, payload: Buffer): Frame {
  switch (type) {
    case FrameType.DATA: {
      requireStream(streamId, 'DATA');
      const data = stripPadding(flags, payload, 'DATA');
      return {
        type: 'data',
        streamId,
        data,
        endStream: (flags & FrameFlag.END_STREAM) !== 0,
        flowLength: payload.length,
      };
    }
    case FrameType.HEADERS: {
      requireStream(streamId, 'HEADERS');
      let body = stripPadding(flags, payload, 'HEADERS');
      let priority: PriorityInfo | undefined;
      if (flags & FrameFlag.PRIORITY) {
        if (body.length < 5)
          throw connectionError(FRAME_SIZE_ERROR, 'HEADERS too short for its priority fields');
        priority = parsePriority(body);
        body = body.subarray(5);
      }
      return {
        type: 'headers',
        streamId,
        fragment: body,
        endStream: (flags & FrameFlag.END_STREAM) !== 0,
        endHeaders: (flags & FrameFlag.END_HEADERS) !== 0,
        priority,
      };
    }
    case FrameType.PRIORITY:
      requireStream(streamId, 'PRIORITY');
      if (payload.length !== 5) throw connectionError(FRAME_SIZE_ERROR, 'PRIORITY payload must be 5 bytes');
      return { type: 'priority', streamId, priority: parsePriority(payload) };
    case FrameType.RST_STREAM:
      requireStream(streamId, 'RST_STREAM');
      if (payload.length !== 4) throw connectionError(FRAME_SIZE_ERROR, 'RST_STREAM payload must be 4 bytes');
      return { type: 'rst-stream', streamId, errorCode: payload.readUInt32BE(0) };
    case FrameType.SETTINGS: {
      requireConnection(streamId, 'SETTINGS');
      const ack = (flags & FrameFlag.ACK) !== 0;
      if (ack && payload.length !== 0) throw connectionError(FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      if (payload.length % 6 !== 0)
        throw connectionError(FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
      const settings: SettingEntry[] = [];
      for (let i = 0; i < payload.length; i += 6) {
        settings.push({ id: payload.readUInt16BE(i), value: payload.readUInt32BE(i + 2) });
      }
      return { type: 'settings', ack, settings };
    }
    case FrameType.PUSH_PROMISE: {
      requireStream(streamId, 'PUSH_PROMISE');
      const body = stripPadding(flags, payload, 'PUSH_PROMISE');
      if (body.length < 4) throw connectionError(FRAME_SIZE_ERROR, 'PUSH_PROMISE too short');
      return {
        type: 'push-promise',
        streamId,
        promisedStreamId: body.readUInt32BE(0) & 0x7fffffff,
        fragment: body.subarray(4),
        endHeaders: (flags & FrameFlag.END_HEADERS) !== 0,
      };
    }
    case FrameType.PING:
      requireConnection(streamId, 'PING');
      if (payload.length !== 8) throw connectionError(FRAME_SIZE_ERROR, 'PING payload must be 8 bytes');
      return { type: 'ping', ack: (flags & FrameFlag.ACK) !== 0, opaque: payload };
    case FrameType.GOAWAY:
      requireConnection(streamId, 'GOAWAY');
      if (payload.length < 8) throw connectionError(FRAME_SIZE_ERROR, 'GOAWAY payload shorter than 8 bytes');
      return {
        type: 'goaway',
        lastStreamId: payload.readUInt32BE(0) & 0x7fffffff,
        errorCode: payload.readUInt32BE(4),
        debugData: payload.subarray(8),
      };
    case FrameType.WINDOW_UPDATE:
      if (payload.length !== 4)
        throw connectionError(FRAME_SIZE_ERROR, 'WINDOW_UPDATE payload must be 4 bytes');
      return { type: 'window-update', streamId, increment: payload.readUInt32BE(0) & 0x7fffffff };
    case FrameType.CONTINUATION:
      requireStream(streamId, 'CONTINUATION');
      return {
        type: 'continuation',
        streamId,
        fragment: payload,
        endHeaders: (flags & FrameFlag.END_HEADERS) !== 0,
      };
    default:
      return { type: 'unknown', frameType: type, flags, streamId, payload };
  }
}
