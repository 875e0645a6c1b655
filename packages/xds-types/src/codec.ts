import protobuf from 'protobufjs';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from './discovery-types.js';
import {
  type DeltaDiscoveryResponseScan,
  readDeltaDiscoveryResponse,
  readDiscoveryResponse,
  scanDeltaDiscoveryResponse as scanDelta,
} from './discovery-decode.js';
import { XdsCodecError } from './errors.js';
import { readAddress, readAuthorization } from './istio-decode.js';
import type { Address, Authorization, DeepPartial } from './istio-types.js';
import { messageType } from './root.js';
import { messageNameOf } from './type-urls.js';

/** The `toObject` options every decode in amesh uses (see the README). */
export const DECODE_OPTIONS: protobuf.IConversionOptions = {
  enums: String,
  longs: Number,
  defaults: true,
  oneofs: true,
  arrays: true,
  objects: true,
};

/**
 * Encodes a plain object (camelCase, the decoded shape or any part of it) as
 * the protobuf message `fullName`.
 * @throws {XdsCodecError} `XDS_ERR_UNKNOWN_TYPE` for an unknown message, `XDS_ERR_ENCODE` when the object does not fit
 */
export function encodeMessage(fullName: string, value: object): Uint8Array {
  const type = lookup(fullName);
  try {
    return type.encode(type.fromObject(value)).finish();
  } catch (cause) {
    throw new XdsCodecError('XDS_ERR_ENCODE', `cannot encode ${fullName}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Decodes bytes as the protobuf message `fullName` into the plain decoded
 * shape ({@link DECODE_OPTIONS}).
 * @throws {XdsCodecError} `XDS_ERR_UNKNOWN_TYPE` for an unknown message, `XDS_ERR_DECODE` for bytes that are not that message
 */
export function decodeMessage<T = Record<string, unknown>>(fullName: string, bytes: Uint8Array): T {
  const fast = FAST_DECODERS.get(fullName);
  if (fast !== undefined) return fastDecode(fullName, fast, bytes) as T;
  const type = lookup(fullName);
  try {
    return type.toObject(type.decode(strictReader(bytes)), DECODE_OPTIONS) as T;
  } catch (cause) {
    throw new XdsCodecError('XDS_ERR_DECODE', `cannot decode ${fullName}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Messages decoded by hand straight into the documented shape (the
 * per-resource hot path); the result is the same as protobufjs `decode` +
 * `toObject` with {@link DECODE_OPTIONS}.
 */
const FAST_DECODERS = new Map<string, (bytes: Uint8Array) => unknown>([
  ['istio.workload.Address', readAddress],
  ['istio.security.Authorization', readAuthorization],
]);

function fastDecode<T>(
  fullName: string,
  decode: (bytes: Uint8Array, start: number, end: number) => T,
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): T {
  try {
    return decode(bytes, start, end);
  } catch (cause) {
    throw decodeError(fullName, cause);
  }
}

function decodeError(fullName: string, cause: unknown): XdsCodecError {
  return new XdsCodecError('XDS_ERR_DECODE', `cannot decode ${fullName}: ${(cause as Error).message}`, {
    cause,
  });
}

/** True when this package can encode and decode the message a type URL names. */
export function isKnownTypeUrl(typeUrl: string): boolean {
  try {
    messageType(messageNameOf(typeUrl));
    return true;
  } catch {
    return false;
  }
}

/**
 * protobufjs's Buffer reader silently truncates a string that runs past the
 * end of the message; this one refuses it ("index out of range"), like the
 * plain reader, while keeping Node's fast UTF-8 decoding.
 */
class StrictBufferReader extends protobuf.BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    if (start + length > this.len)
      throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    this.pos = start + length;
    return (this.buf as Buffer).toString('utf8', start, start + length);
  }
}

function strictReader(bytes: Uint8Array): protobuf.Reader {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new StrictBufferReader(buffer);
}

const types = new Map<string, protobuf.Type>();

function lookup(fullName: string): protobuf.Type {
  const cached = types.get(fullName);
  if (cached !== undefined) return cached;
  try {
    const type = messageType(fullName);
    types.set(fullName, type);
    return type;
  } catch (cause) {
    throw new XdsCodecError('XDS_ERR_UNKNOWN_TYPE', `unknown protobuf message ${fullName}`, { cause });
  }
}

/**
 * Encodes an `istio.workload.Address` from the documented shape.
 * @example
 * ```ts
 * const bytes = encodeAddress({ type: 'workload', workload: { uid: 'w1', name: 'a', addresses: [new Uint8Array([10, 0, 0, 1])] } });
 * ```
 * @throws {XdsCodecError} `XDS_ERR_ENCODE` when the object does not fit the schema
 */
export function encodeAddress(address: DeepPartial<Address>): Uint8Array {
  return encodeMessage('istio.workload.Address', address);
}

/**
 * Decodes an `istio.workload.Address` into the documented shape: all of
 * `bytes`, or `bytes[start, end)` (the same value as decoding
 * `bytes.subarray(start, end)`, without that view: a client decodes each
 * resource of a response in place).
 * @throws {XdsCodecError} `XDS_ERR_DECODE` for bytes that are not an Address
 * @throws {RangeError} for a range that is not within `bytes`
 */
export function decodeAddress(bytes: Uint8Array, start = 0, end: number = bytes.length): Address {
  checkRange(bytes, start, end);
  return fastDecode('istio.workload.Address', readAddress, bytes, start, end);
}

/**
 * Encodes an `istio.security.Authorization` from the documented shape.
 * @throws {XdsCodecError} `XDS_ERR_ENCODE` when the object does not fit the schema
 */
export function encodeAuthorization(policy: DeepPartial<Authorization>): Uint8Array {
  return encodeMessage('istio.security.Authorization', policy);
}

/**
 * Decodes an `istio.security.Authorization` into the documented shape: all
 * of `bytes`, or `bytes[start, end)` (as {@link decodeAddress}).
 * @throws {XdsCodecError} `XDS_ERR_DECODE` for bytes that are not an Authorization
 * @throws {RangeError} for a range that is not within `bytes`
 */
export function decodeAuthorization(bytes: Uint8Array, start = 0, end: number = bytes.length): Authorization {
  checkRange(bytes, start, end);
  return fastDecode('istio.security.Authorization', readAuthorization, bytes, start, end);
}

function checkRange(bytes: Uint8Array, start: number, end: number): void {
  if (
    !(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= bytes.length)
  ) {
    throw new RangeError(`range [${start}, ${end}) is not within ${bytes.length} bytes`);
  }
}

/** Encodes a SotW request. @throws {XdsCodecError} */
export function encodeDiscoveryRequest(message: DeepPartial<DiscoveryRequest>): Uint8Array {
  return encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', message);
}
/** Decodes a SotW request. @throws {XdsCodecError} */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  return decodeMessage<DiscoveryRequest>('envoy.service.discovery.v3.DiscoveryRequest', bytes);
}
/** Encodes a SotW response. @throws {XdsCodecError} */
export function encodeDiscoveryResponse(message: DeepPartial<DiscoveryResponse>): Uint8Array {
  return encodeMessage('envoy.service.discovery.v3.DiscoveryResponse', message);
}
/** Decodes a SotW response (plain objects, resource bodies as views into `bytes`, no copy). @throws {XdsCodecError} */
export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResponse {
  return fastDecode('envoy.service.discovery.v3.DiscoveryResponse', readDiscoveryResponse, bytes);
}
/** Encodes a Delta request. @throws {XdsCodecError} */
export function encodeDeltaDiscoveryRequest(message: DeepPartial<DeltaDiscoveryRequest>): Uint8Array {
  return encodeMessage('envoy.service.discovery.v3.DeltaDiscoveryRequest', message);
}
/** Decodes a Delta request. @throws {XdsCodecError} */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  return decodeMessage<DeltaDiscoveryRequest>('envoy.service.discovery.v3.DeltaDiscoveryRequest', bytes);
}
/** Encodes a Delta response. @throws {XdsCodecError} */
export function encodeDeltaDiscoveryResponse(message: DeepPartial<DeltaDiscoveryResponse>): Uint8Array {
  return encodeMessage('envoy.service.discovery.v3.DeltaDiscoveryResponse', message);
}
/** Decodes a Delta response (plain objects, resource bodies as views into `bytes`, no copy). @throws {XdsCodecError} */
export function decodeDeltaDiscoveryResponse(bytes: Uint8Array): DeltaDiscoveryResponse {
  return fastDecode('envoy.service.discovery.v3.DeltaDiscoveryResponse', readDeltaDiscoveryResponse, bytes);
}

/**
 * Validates a Delta response as strictly as {@link decodeDeltaDiscoveryResponse}
 * (it refuses exactly the same bytes) and returns its header with a visitor
 * over its resources, which builds no object per resource: the client's full
 * sync path, where 10 000 decoded envelopes kept alive until the last
 * resource is handled would only be garbage for the collector to copy.
 * @throws {XdsCodecError} `XDS_ERR_DECODE` for bytes that are not a DeltaDiscoveryResponse
 */
export function scanDeltaDiscoveryResponse(bytes: Uint8Array): DeltaDiscoveryResponseScan {
  return fastDecode('envoy.service.discovery.v3.DeltaDiscoveryResponse', scanDelta, bytes);
}

/**
 * Wraps message bytes in a `google.protobuf.Any` and encodes it: the form a
 * SotW response carries. Used by servers to pre-encode resources once.
 */
export function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return encodeMessage('google.protobuf.Any', { typeUrl, value });
}
