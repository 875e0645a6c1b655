import protobuf from 'protobufjs';
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
  removedResources: readonly string[];
}

// Field numbers from envoy/service/discovery/v3/discovery.proto.
const LEN = 2;
const tag = (field: number): number => (field << 3) | LEN;

/** Encodes a {@link PreparedDiscoveryResponse} as a `DiscoveryResponse`. */
export function encodePreparedDiscoveryResponse(response: PreparedDiscoveryResponse): Uint8Array {
  const writer = protobuf.Writer.create();
  if (response.versionInfo) writer.uint32(tag(1)).string(response.versionInfo);
  for (const any of response.resources) writer.uint32(tag(2)).bytes(any);
  writer.uint32(tag(4)).string(response.typeUrl);
  writer.uint32(tag(5)).string(response.nonce);
  return writer.finish();
}

/** Encodes a {@link PreparedDeltaDiscoveryResponse} as a `DeltaDiscoveryResponse`. */
export function encodePreparedDeltaDiscoveryResponse(response: PreparedDeltaDiscoveryResponse): Uint8Array {
  const writer = protobuf.Writer.create();
  if (response.systemVersionInfo) writer.uint32(tag(1)).string(response.systemVersionInfo);
  for (const resource of response.resources) writer.uint32(tag(2)).bytes(resource);
  writer.uint32(tag(4)).string(response.typeUrl);
  writer.uint32(tag(5)).string(response.nonce);
  for (const name of response.removedResources) writer.uint32(tag(6)).string(name);
  return writer.finish();
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
