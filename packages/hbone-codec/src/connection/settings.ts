import { DEFAULT_WINDOW, MIN_MAX_FRAME_SIZE } from '../frame/frame-types.js';

/** HTTP/2 settings in readable form (RFC 9113 §6.5.2). */
export interface Http2Settings {
  readonly headerTableSize: number;
  readonly enablePush: boolean;
  readonly maxConcurrentStreams: number;
  readonly initialWindowSize: number;
  readonly maxFrameSize: number;
  readonly maxHeaderListSize: number;
}

/** What a peer is assumed to use until its SETTINGS arrive (RFC 9113 §6.5.2). */
export const PROTOCOL_DEFAULT_SETTINGS: Http2Settings = {
  headerTableSize: 4096,
  enablePush: true,
  maxConcurrentStreams: Number.POSITIVE_INFINITY,
  initialWindowSize: DEFAULT_WINDOW,
  maxFrameSize: MIN_MAX_FRAME_SIZE,
  maxHeaderListSize: Number.POSITIVE_INFINITY,
};

const MIB = 1024 * 1024;

/** ztunnel's client settings: 4 MiB stream window, 1 MiB frames, 16 KiB header list, no push. */
export const ZTUNNEL_CLIENT_SETTINGS: Http2Settings = {
  headerTableSize: 4096,
  enablePush: false,
  maxConcurrentStreams: Number.POSITIVE_INFINITY,
  initialWindowSize: 4 * MIB,
  maxFrameSize: MIB,
  maxHeaderListSize: 16 * 1024,
};

/** ztunnel's server settings: 4 MiB stream window, 1 MiB frames, 64 KiB header list, 200 streams. */
export const ZTUNNEL_SERVER_SETTINGS: Http2Settings = {
  headerTableSize: 4096,
  enablePush: false,
  maxConcurrentStreams: 200,
  initialWindowSize: 4 * MIB,
  maxFrameSize: MIB,
  maxHeaderListSize: 64 * 1024,
};

/** ztunnel's connection-level receive window: 16 MiB (unequal to the stream window to avoid a deadlock). */
export const ZTUNNEL_CONNECTION_WINDOW: number = 16 * MIB;
