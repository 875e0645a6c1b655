import { HboneError } from '../errors.js';
import {
  FRAME_HEADER_LENGTH,
  FrameFlag,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  type PriorityInfo,
  type SettingEntry,
} from './frame-types.js';

function invalid(message: string): HboneError {
  return new HboneError('HBONE_ERR_INVALID_ARGUMENT', message);
}

function checkStreamId(streamId: number): void {
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > MAX_WINDOW) {
    throw invalid(`stream id must be a 31-bit integer, got ${streamId}`);
  }
}

/**
 * Encodes the 9-byte frame header (RFC 9113 §4.1). DATA is written as this
 * header followed by the caller's payload buffer, so payload is never copied.
 * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT when a field is out of range
 */
export function encodeFrameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_MAX_FRAME_SIZE) {
    throw invalid(`frame length must fit 24 bits, got ${length}`);
  }
  checkStreamId(streamId);
  const header = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  header[0] = length >>> 16;
  header[1] = (length >>> 8) & 0xff;
  header[2] = length & 0xff;
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return header;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length);
  encodeFrameHeader(payload.length, type, flags, streamId).copy(out, 0);
  payload.copy(out, FRAME_HEADER_LENGTH);
  return out;
}

function padded(body: Buffer, padLength: number): { payload: Buffer; flag: number } {
  if (padLength === 0) return { payload: body, flag: 0 };
  if (!Number.isInteger(padLength) || padLength < 0 || padLength > 255) {
    throw invalid(`pad length must be 0..255, got ${padLength}`);
  }
  const payload = Buffer.alloc(1 + body.length + padLength);
  payload[0] = padLength;
  body.copy(payload, 1);
  return { payload, flag: FrameFlag.PADDED };
}

/**
 * Encodes a DATA frame (RFC 9113 §6.1) as buffers to write in order: the
 * header and the payload itself (a view, not a copy) when unpadded.
 * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT for stream 0 or bad padding
 */
export function encodeData(streamId: number, data: Buffer, endStream: boolean, padLength = 0): Buffer[] {
  if (streamId === 0) throw invalid('DATA must not be sent on stream 0');
  const flags = endStream ? FrameFlag.END_STREAM : 0;
  if (padLength === 0) {
    const header = encodeFrameHeader(data.length, FrameType.DATA, flags, streamId);
    return data.length === 0 ? [header] : [header, data];
  }
  const { payload, flag } = padded(data, padLength);
  return [frame(FrameType.DATA, flags | flag, streamId, payload)];
}

/** Options of {@link encodeHeaders}. */
export interface EncodeHeadersOptions {
  readonly endStream: boolean;
  /** Largest frame payload the peer accepts; the block is split into CONTINUATION frames past it. */
  readonly maxFrameSize: number;
  readonly padLength?: number;
  readonly priority?: PriorityInfo;
}

function priorityBytes(p: PriorityInfo): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(((p.exclusive ? 0x80000000 : 0) | p.dependency) >>> 0, 0);
  b[4] = p.weight - 1;
  return b;
}

/**
 * Encodes a header block as HEADERS plus as many CONTINUATION frames as the
 * peer's max frame size needs (RFC 9113 §6.2, §6.10).
 * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT for stream 0 or bad options
 */
export function encodeHeaders(streamId: number, block: Buffer, options: EncodeHeadersOptions): Buffer[] {
  if (streamId === 0) throw invalid('HEADERS must not be sent on stream 0');
  const max = options.maxFrameSize;
  const prefix = options.priority ? priorityBytes(options.priority) : Buffer.alloc(0);
  const padLength = options.padLength ?? 0;
  const overhead = prefix.length + (padLength > 0 ? 1 + padLength : 0);
  if (overhead >= max) throw invalid('padding and priority leave no room for the header block');
  const firstLength = Math.min(block.length, max - overhead);
  const first = Buffer.concat([prefix, block.subarray(0, firstLength)]);
  const { payload, flag } = padded(first, padLength);
  let flags =
    flag | (options.endStream ? FrameFlag.END_STREAM : 0) | (options.priority ? FrameFlag.PRIORITY : 0);
  if (firstLength === block.length) flags |= FrameFlag.END_HEADERS;
  const frames = [frame(FrameType.HEADERS, flags, streamId, payload)];
  for (let offset = firstLength; offset < block.length; offset += max) {
    const end = Math.min(block.length, offset + max);
    frames.push(
      frame(
        FrameType.CONTINUATION,
        end === block.length ? FrameFlag.END_HEADERS : 0,
        streamId,
        block.subarray(offset, end),
      ),
    );
  }
  return frames;
}

/** Encodes a PRIORITY frame (RFC 9113 §6.3). */
export function encodePriority(streamId: number, priority: PriorityInfo): Buffer {
  if (streamId === 0) throw invalid('PRIORITY must not be sent on stream 0');
  return frame(FrameType.PRIORITY, 0, streamId, priorityBytes(priority));
}

/** Encodes an RST_STREAM frame (RFC 9113 §6.4). */
export function encodeRstStream(streamId: number, errorCode: number): Buffer {
  if (streamId === 0) throw invalid('RST_STREAM must not be sent on stream 0');
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(errorCode >>> 0, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

/** Encodes a SETTINGS frame, or its ACK when `ack` is true (RFC 9113 §6.5). */
export function encodeSettings(settings: readonly SettingEntry[], ack = false): Buffer {
  if (ack && settings.length > 0) throw invalid('a SETTINGS ACK carries no settings');
  const payload = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach((s, i) => {
    payload.writeUInt16BE(s.id, i * 6);
    payload.writeUInt32BE(s.value >>> 0, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, ack ? FrameFlag.ACK : 0, 0, payload);
}

/** Encodes a PUSH_PROMISE frame (RFC 9113 §6.6); amesh never pushes, this exists for tests and peers. */
export function encodePushPromise(streamId: number, promisedStreamId: number, block: Buffer): Buffer {
  const payload = Buffer.allocUnsafe(4 + block.length);
  payload.writeUInt32BE(promisedStreamId, 0);
  block.copy(payload, 4);
  return frame(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, streamId, payload);
}

/**
 * Encodes a PING frame (RFC 9113 §6.7).
 * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT unless `opaque` is 8 bytes
 */
export function encodePing(opaque: Buffer, ack = false): Buffer {
  if (opaque.length !== 8) throw invalid('PING carries exactly 8 opaque bytes');
  return frame(FrameType.PING, ack ? FrameFlag.ACK : 0, 0, opaque);
}

/** Encodes a GOAWAY frame (RFC 9113 §6.8). */
export function encodeGoaway(
  lastStreamId: number,
  errorCode: number,
  debugData: Buffer = Buffer.alloc(0),
): Buffer {
  checkStreamId(lastStreamId);
  const payload = Buffer.allocUnsafe(8 + debugData.length);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(errorCode >>> 0, 4);
  debugData.copy(payload, 8);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}

/**
 * Encodes a WINDOW_UPDATE frame (RFC 9113 §6.9).
 * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT unless 1 ≤ increment ≤ 2^31-1
 */
export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  if (!Number.isInteger(increment) || increment < 1 || increment > MAX_WINDOW) {
    throw invalid(`window increment must be 1..2^31-1, got ${increment}`);
  }
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

/** Encodes a frame of any type from raw parts (used for extension frames and tests). */
export function encodeRawFrame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  return frame(type, flags, streamId, payload);
}
