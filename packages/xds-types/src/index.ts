/**
 * Protobuf definitions and TypeScript shapes for xDS: Envoy v3 discovery and
 * the config subset amesh uses, and Istio's ambient `istio.workload.Address`
 * and `istio.security.Authorization`.
 * @packageDocumentation
 */
export {
  DECODE_OPTIONS,
  decodeAddress,
  decodeAuthorization,
  decodeDeltaDiscoveryRequest,
  decodeDeltaDiscoveryResponse,
  decodeDiscoveryRequest,
  decodeDiscoveryResponse,
  decodeMessage,
  encodeAddress,
  encodeAny,
  encodeAuthorization,
  encodeDeltaDiscoveryRequest,
  encodeDeltaDiscoveryResponse,
  encodeDiscoveryRequest,
  encodeDiscoveryResponse,
  encodeMessage,
  isKnownTypeUrl,
  scanDeltaDiscoveryResponse,
} from './codec.js';
export type { DeltaDiscoveryResponseScan, DeltaResourceRef } from './discovery-decode.js';
export type {
  Any,
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DeltaResource,
  DiscoveryRequest,
  DiscoveryResponse,
  EnvoyLocality,
  RpcStatus,
  Struct,
  StructValue,
  XdsNode,
} from './discovery-types.js';
export { XdsCodecError } from './errors.js';
export type { XdsCodecErrorCode } from './errors.js';
export type {
  Address,
  AppProtocol,
  ApplicationTunnel,
  Authorization,
  AuthorizationAction,
  AuthorizationAddress,
  AuthorizationClause,
  AuthorizationMatch,
  AuthorizationRule,
  AuthorizationScope,
  DeepPartial,
  GatewayAddress,
  IpFamilies,
  LoadBalancing,
  Locality,
  NamespacedHostname,
  NetworkAddress,
  NetworkMode,
  Port,
  PortList,
  Service,
  ServiceAccountMatch,
  StringMatch,
  TunnelProtocol,
  Workload,
  WorkloadStatus,
  WorkloadType,
} from './istio-types.js';
export { messageType, xdsRoot } from './root.js';
export { structFromJson, structToJson } from './struct.js';
export type { JsonValue } from './struct.js';
export { messageNameOf, TYPE_URL_PREFIX, TypeUrl } from './type-urls.js';
export {
  encodeDeltaResource,
  encodeDeltaResourceFields,
  encodePreparedDeltaDiscoveryResponse,
  encodePreparedDiscoveryResponse,
} from './prepared.js';
export type { PreparedDeltaDiscoveryResponse, PreparedDiscoveryResponse } from './prepared.js';
