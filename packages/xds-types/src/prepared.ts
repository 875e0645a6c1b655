import { encodeMessage } from './codec.js';

/**
 * A SotW response whose resources are already encoded `google.protobuf.Any`
 * messages, so a server encodes each resource once, not once per client.
 */
export interface PreparedDiscoveryResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** Encoded `google.protobuf.Any` per resource. */
  resources: readonly Uint8Array[];
}

/** A Delta response whose resources are already encoded `envoy.service.discovery.v3.Resource` messages. */
export interface PreparedDeltaDiscoveryResponse {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  /** Encoded `envoy.service.discovery.v3.Resource` per resource. */
  resources: readonly Uint8Array[];
  /**
   * Resources already encoded as `resources` fields (tag and length
   * included, from {@link encodeDeltaResourceFields}), written before
   * `resources`: a server builds the full state once and shares it with
   * every client that needs all of it.
   */
  encodedResources?: Uint8Array;
  removedResources: readonly string[];
}

// Field numbers from envoy/service/discovery/v3/discovery.proto.
const LEN = 2;
const tag = (field: number): number => (field << 3) | LEN;

/** Encodes a {@link PreparedDiscoveryResponse} as a `DiscoveryResponse`. */
export function encodePreparedDiscoveryResponse(response: PreparedDiscoveryResponse): Uint8Array {
  const out = new FieldWriter();
  if (response.versionInfo) out.string(1, response.versionInfo);
  out.bytesFields(2, response.resources);
  out.string(4, response.typeUrl);
  out.string(5, response.nonce);
  return out.finish();
}

/** Encodes a {@link PreparedDeltaDiscoveryResponse} as a `DeltaDiscoveryResponse`. */
export function encodePreparedDeltaDiscoveryResponse(response: PreparedDeltaDiscoveryResponse): Uint8Array {
  const out = new FieldWriter();
  if (response.systemVersionInfo) out.string(1, response.systemVersionInfo);
  if (response.encodedResources !== undefined) out.raw(response.encodedResources);
  out.bytesFields(2, response.resources);
  out.string(4, response.typeUrl);
  out.string(5, response.nonce);
  for (const name of response.removedResources) out.string(6, name);
  return out.finish();
}

/**
 * Encodes `envoy.service.discovery.v3.Resource` messages (from
 * {@link encodeDeltaResource}) as the `resources` fields of a Delta
 * response, for {@link PreparedDeltaDiscoveryResponse.encodedResources}.
 */
export function encodeDeltaResourceFields(resources: readonly Uint8Array[]): Uint8Array {
  const out = new FieldWriter();
  out.bytesFields(2, resources);
  return out.finish();
}

/**
 * Length-delimited fields written straight into one exactly sized Buffer:
 * a full response is thousands of pre-encoded resources, and copying each
 * once beats protobufjs' per-field operation list.
 */
class FieldWriter {
  readonly #parts: Array<Uint8Array | string> = [];
  /** Field number per part; 0 for bytes written as they are (already tagged). */
  readonly #fields: number[] = [];
  #size = 0;

  raw(bytes: Uint8Array): void {
    this.#parts.push(bytes);
    this.#fields.push(0);
    this.#size += bytes.length;
  }

  string(field: number, value: string): void {
    this.#push(field, value, Buffer.byteLength(value, 'utf8'));
  }

  bytesFields(field: number, values: readonly Uint8Array[]): void {
    for (const value of values) this.#push(field, value, value.length);
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.#size);
    let pos = 0;
    const parts = this.#parts;
    const fields = this.#fields;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const length = typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length;
      if (fields[i] === 0) {
        out.set(part as Uint8Array, pos);
        pos += length;
        continue;
      }
      pos = writeVarint(out, pos, tag(fields[i]!));
      pos = writeVarint(out, pos, length);
      if (typeof part === 'string') pos += out.write(part, pos, 'utf8');
      else {
        out.set(part, pos);
        pos += length;
      }
    }
    return out;
  }

  #push(field: number, part: Uint8Array | string, length: number): void {
    this.#parts.push(part);
    this.#fields.push(field);
    this.#size += varintSize(tag(field)) + varintSize(length) + length;
  }
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

function writeVarint(out: Buffer, at: number, value: number): number {
  let pos = at;
  let rest = value >>> 0;
  while (rest >= 0x80) {
    out[pos++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[pos++] = rest;
  return pos;
}

/** Encodes one `envoy.service.discovery.v3.Resource` (name, version, Any) for a prepared Delta response. */
export function encodeDeltaResource(
  name: string,
  version: string,
  typeUrl: string,
  value: Uint8Array,
): Uint8Array {
  return encodeMessage('envoy.service.discovery.v3.Resource', {
    name,
    version,
    resource: { typeUrl, value },
  });
}
