/*
 * Discovery messages in the same decoded shape as the Istio types
 * (camelCase, defaults filled, enums as strings, longs as numbers, bytes as
 * Uint8Array). `google.protobuf.Struct` stays in its protobuf form.
 */

/** `google.protobuf.Any`. */
export interface Any {
  typeUrl: string;
  value: Uint8Array;
}

/** `google.protobuf.Value` in protobuf form (oneof `kind`). */
export interface StructValue {
  kind?: 'nullValue' | 'numberValue' | 'stringValue' | 'boolValue' | 'structValue' | 'listValue';
  nullValue?: 'NULL_VALUE';
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: Struct;
  listValue?: { values: StructValue[] };
}

/** `google.protobuf.Struct` in protobuf form. */
export interface Struct {
  fields: Record<string, StructValue>;
}

/** `google.rpc.Status`: the error detail of a NACK. */
export interface RpcStatus {
  code: number;
  message: string;
  details: Any[];
}

/** `envoy.config.core.v3.Locality`. */
export interface EnvoyLocality {
  region: string;
  zone: string;
  subZone: string;
}

/** `envoy.config.core.v3.Node` (the fields amesh uses). */
export interface XdsNode {
  id: string;
  cluster: string;
  metadata: Struct | null;
  locality: EnvoyLocality | null;
  userAgentName: string;
  userAgentVersion?: string;
  clientFeatures: string[];
}

/** `envoy.service.discovery.v3.DiscoveryRequest` (SotW). */
export interface DiscoveryRequest {
  versionInfo: string;
  node: XdsNode | null;
  resourceNames: string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail: RpcStatus | null;
}

/** `envoy.service.discovery.v3.DiscoveryResponse` (SotW). */
export interface DiscoveryResponse {
  versionInfo: string;
  resources: Any[];
  canary: boolean;
  typeUrl: string;
  nonce: string;
}

/** `envoy.service.discovery.v3.DeltaDiscoveryRequest`. */
export interface DeltaDiscoveryRequest {
  node: XdsNode | null;
  typeUrl: string;
  resourceNamesSubscribe: string[];
  resourceNamesUnsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  errorDetail: RpcStatus | null;
}

/** `envoy.service.discovery.v3.Resource` (one resource of a Delta response). */
export interface DeltaResource {
  name: string;
  aliases: string[];
  version: string;
  resource: Any | null;
}

/** `envoy.service.discovery.v3.DeltaDiscoveryResponse`. */
export interface DeltaDiscoveryResponse {
  systemVersionInfo: string;
  resources: DeltaResource[];
  typeUrl: string;
  removedResources: string[];
  nonce: string;
}
