/** Frame type codes (RFC 9113 §6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6). */
export const FrameFlag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS identifiers (RFC 9113 §6.5.2). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** The client connection preface (RFC 9113 §3.4). */
export const CONNECTION_PREFACE: Buffer = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Size of every frame header (RFC 9113 §4.1). */
export const FRAME_HEADER_LENGTH = 9;
/** Largest legal flow-control window (RFC 9113 §6.9.1). */
export const MAX_WINDOW = 0x7fffffff;
/** Smallest value of SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2). */
export const MIN_MAX_FRAME_SIZE = 16_384;
/** Largest value of SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2). */
export const MAX_MAX_FRAME_SIZE = 16_777_215;
/** Default window of a new stream or connection (RFC 9113 §6.9.2). */
export const DEFAULT_WINDOW = 65_535;

/** Stream priority information carried by HEADERS or PRIORITY; parsed and ignored (RFC 9113 §5.3.2). */
export interface PriorityInfo {
  readonly exclusive: boolean;
  readonly dependency: number;
  readonly weight: number;
}

/** One setting as carried on the wire. */
export interface SettingEntry {
  readonly id: number;
  readonly value: number;
}

/**
 * A decoded HTTP/2 frame, as a tagged union on `type`. Buffers may be views
 * into the decoder's input (no copy): the caller owns them once returned.
 */
export type Frame =
  | {
      readonly type: 'data';
      readonly streamId: number;
      readonly data: Buffer;
      readonly endStream: boolean;
      /** Payload length including padding: what flow control counts (RFC 9113 §6.9.1). */
      readonly flowLength: number;
    }
  | {
      readonly type: 'headers';
      readonly streamId: number;
      readonly fragment: Buffer;
      readonly endStream: boolean;
      readonly endHeaders: boolean;
      readonly priority: PriorityInfo | undefined;
    }
  | { readonly type: 'priority'; readonly streamId: number; readonly priority: PriorityInfo }
  | { readonly type: 'rst-stream'; readonly streamId: number; readonly errorCode: number }
  | { readonly type: 'settings'; readonly ack: boolean; readonly settings: readonly SettingEntry[] }
  | {
      readonly type: 'push-promise';
      readonly streamId: number;
      readonly promisedStreamId: number;
      readonly fragment: Buffer;
      readonly endHeaders: boolean;
    }
  | { readonly type: 'ping'; readonly ack: boolean; readonly opaque: Buffer }
  | {
      readonly type: 'goaway';
      readonly lastStreamId: number;
      readonly errorCode: number;
      readonly debugData: Buffer;
    }
  | { readonly type: 'window-update'; readonly streamId: number; readonly increment: number }
  | {
      readonly type: 'continuation';
      readonly streamId: number;
      readonly fragment: Buffer;
      readonly endHeaders: boolean;
    }
  | {
      /** A frame of an unknown type: must be ignored (RFC 9113 §4.1, §5.5). */
      readonly type: 'unknown';
      readonly frameType: number;
      readonly flags: number;
      readonly streamId: number;
      readonly payload: Buffer;
    };
