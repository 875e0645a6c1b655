import { AmeshError } from '@amesh/errors';

/** HTTP/2 error codes (RFC 9113 §7). */
export const Http2ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** Stable amesh codes, one per HTTP/2 error code, plus the HBONE layer's own. */
export type HboneErrorCode =
  | 'HBONE_ERR_PROTOCOL'
  | 'HBONE_ERR_INTERNAL'
  | 'HBONE_ERR_FLOW_CONTROL'
  | 'HBONE_ERR_SETTINGS_TIMEOUT'
  | 'HBONE_ERR_STREAM_CLOSED'
  | 'HBONE_ERR_FRAME_SIZE'
  | 'HBONE_ERR_REFUSED_STREAM'
  | 'HBONE_ERR_CANCEL'
  | 'HBONE_ERR_COMPRESSION'
  | 'HBONE_ERR_CONNECT'
  | 'HBONE_ERR_ENHANCE_YOUR_CALM'
  | 'HBONE_ERR_INADEQUATE_SECURITY'
  | 'HBONE_ERR_HTTP_1_1_REQUIRED'
  | 'HBONE_ERR_UNKNOWN_CODE'
  | 'HBONE_ERR_BAD_REQUEST'
  | 'HBONE_ERR_INVALID_HEADER'
  | 'HBONE_ERR_CONNECT_REFUSED'
  | 'HBONE_ERR_CONNECTION_CLOSED'
  | 'HBONE_ERR_PING_TIMEOUT'
  | 'HBONE_ERR_INVALID_ARGUMENT';

const CODE_BY_NUMBER: readonly HboneErrorCode[] = [
  'HBONE_ERR_PROTOCOL', // NO_ERROR never becomes an exception; a graceful close maps to CONNECTION_CLOSED
  'HBONE_ERR_PROTOCOL',
  'HBONE_ERR_INTERNAL',
  'HBONE_ERR_FLOW_CONTROL',
  'HBONE_ERR_SETTINGS_TIMEOUT',
  'HBONE_ERR_STREAM_CLOSED',
  'HBONE_ERR_FRAME_SIZE',
  'HBONE_ERR_REFUSED_STREAM',
  'HBONE_ERR_CANCEL',
  'HBONE_ERR_COMPRESSION',
  'HBONE_ERR_CONNECT',
  'HBONE_ERR_ENHANCE_YOUR_CALM',
  'HBONE_ERR_INADEQUATE_SECURITY',
  'HBONE_ERR_HTTP_1_1_REQUIRED',
];

/**
 * Maps an HTTP/2 error code (RFC 9113 §7) to its stable amesh code.
 * @example codeForHttp2Error(0x3) // 'HBONE_ERR_FLOW_CONTROL'
 */
export function codeForHttp2Error(http2Code: number): HboneErrorCode {
  if (http2Code === Http2ErrorCode.NO_ERROR) return 'HBONE_ERR_CONNECTION_CLOSED';
  return CODE_BY_NUMBER[http2Code] ?? 'HBONE_ERR_UNKNOWN_CODE';
}

/** Base class of every error this package throws or reports; match on `code`. */
export class HboneError extends AmeshError<HboneErrorCode> {}

/**
 * An HTTP/2 protocol error (RFC 9113 §5.4): `scope` says whether it ends the
 * whole connection (GOAWAY) or one stream (RST_STREAM), `http2Code` is the
 * wire error code sent or received.
 */
export class Http2Error extends HboneError {
  /** RFC 9113 §7 error code. */
  readonly http2Code: number;
  /** A connection error ends the connection; a stream error one stream. */
  readonly scope: 'connection' | 'stream';
  /** The stream, for stream errors (0 for connection errors). */
  readonly streamId: number;

  /**
   * @param http2Code - RFC 9113 §7 error code
   * @param scope - connection or stream
   * @param message - the rule that was broken
   * @param streamId - the stream concerned (0 for the connection)
   */
  constructor(http2Code: number, scope: 'connection' | 'stream', message: string, streamId = 0) {
    super(codeForHttp2Error(http2Code), message);
    this.http2Code = http2Code;
    this.scope = scope;
    this.streamId = streamId;
  }
}

/** Shorthand for a connection error (RFC 9113 §5.4.1). */
export function connectionError(http2Code: number, message: string): Http2Error {
  return new Http2Error(http2Code, 'connection', message);
}

/** Shorthand for a stream error (RFC 9113 §5.4.2). */
export function streamError(http2Code: number, streamId: number, message: string): Http2Error {
  return new Http2Error(http2Code, 'stream', message, streamId);
}
