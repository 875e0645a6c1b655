/**
 * HBONE: a sans-IO HTTP/2 codec (RFC 9113 frames, RFC 7541 HPACK, connection
 * and flow control) and the HBONE CONNECT rules of Istio ambient mode.
 * Node transports are in the `@amesh/hbone-codec/node` subpath.
 * @packageDocumentation
 */
export {
  codeForHttp2Error,
  connectionError,
  HboneError,
  type HboneErrorCode,
  Http2Error,
  Http2ErrorCode,
  streamError,
} from './errors.js';
export { FrameDecoder, type FrameDecoderOptions } from './frame/frame-decoder.js';
export {
  type EncodeHeadersOptions,
  encodeData,
  encodeFrameHeader,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodePriority,
  encodePushPromise,
  encodeRawFrame,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
} from './frame/frame-encoder.js';
export {
  CONNECTION_PREFACE,
  DEFAULT_WINDOW,
  FRAME_HEADER_LENGTH,
  type Frame,
  FrameFlag,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  type PriorityInfo,
  type SettingEntry,
  SettingId,
} from './frame/frame-types.js';
export {
  type DecodedHeaderBlock,
  type HeaderField,
  HpackDecoder,
  type HpackDecoderOptions,
} from './hpack/hpack-decoder.js';
export { HpackEncoder, type HpackEncoderOptions } from './hpack/hpack-encoder.js';
export { HpackError } from './hpack/hpack-error.js';
export { huffmanDecode, huffmanEncodedLength, huffmanEncodeInto } from './hpack/huffman.js';
export { type HeaderBlockKind, headerValue, validateHeaderList } from './connection/header-rules.js';
export {
  type ConnectionState,
  Http2Connection,
  type Http2ConnectionOptions,
  type Http2Event,
  type Http2Limits,
  type StreamState,
} from './connection/http2-connection.js';
export {
  type Http2Settings,
  PROTOCOL_DEFAULT_SETTINGS,
  ZTUNNEL_CLIENT_SETTINGS,
  ZTUNNEL_CONNECTION_WINDOW,
  ZTUNNEL_SERVER_SETTINGS,
} from './connection/settings.js';
export { formatAuthority, type HboneAuthority, parseAuthority } from './hbone/authority.js';
export {
  buildBaggage,
  type HboneBaggage,
  hboneBaggageMembers,
  parseBaggage,
  parseHboneBaggage,
} from './hbone/baggage.js';
export {
  buildConnectRequest,
  buildConnectResponse,
  type ConnectOutcome,
  type ConnectRequest,
  type ConnectRequestInit,
  type ConnectRequestResult,
  connectResponseStatus,
  type ParseConnectOptions,
  parseConnectRequest,
} from './hbone/connect-request.js';
export { buildForwarded, type ForwardedElement, forwardedNode, parseForwarded } from './hbone/forwarded.js';
export { buildTraceParent, parseTraceParent, type TraceParent } from './hbone/traceparent.js';
