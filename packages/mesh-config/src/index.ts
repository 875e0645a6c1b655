/**
 * The amesh control plane's config model: typed Kubernetes / Istio /
 * Gateway API resources, validation with field paths, a YAML directory
 * core, incremental translation to ztunnel xDS state (`Address`,
 * `Authorization`), analysis, and the CA's node-locator query. Node glue
 * (watched directory, Kubernetes informers) is in `@amesh/mesh-config/node`.
 * @packageDocumentation
 */
export { MeshConfigError } from './errors.js';
export type { MeshConfigErrorCode } from './errors.js';
export { formatIssue } from './issues.js';
export type { ConfigIssue, ConfigOrigin } from './issues.js';
export { RESOURCE_KINDS, parseResourceKey, resourceKey, resourceRef } from './resources.js';
export type {
  AuthorizationPolicyResource,
  AuthorizationPolicySpec,
  ConfigChange,
  ContainerPort,
  DestinationRuleResource,
  GatewayApiVersion,
  GatewayListener,
  GatewayResource,
  HttpBackendRef,
  HttpRouteMatch,
  HttpRouteResource,
  IstioNetworkingVersion,
  IstioSecurityVersion,
  JwtRule,
  LabelSelector,
  MeshResource,
  MtlsMode,
  NamespaceResource,
  ObjectMeta,
  ParentRef,
  PeerAuthenticationResource,
  PodResource,
  PodSpec,
  PodStatus,
  PolicyOperation,
  PolicyRule,
  PolicySource,
  RequestAuthenticationResource,
  ResourceKind,
  ResourceRef,
  ServiceAccountResource,
  ServiceEntryPort,
  ServiceEntryResource,
  ServicePort,
  ServiceResource,
  TargetRef,
  WorkloadEntryResource,
  WorkloadEntrySpec,
} from './resources.js';
export { assertValidResource, validateResource } from './validate.js';
export type { ValidationResult } from './validate.js';
export { parseYamlResources } from './parse-yaml.js';
export type { ParsedYaml } from './parse-yaml.js';
export { DirectoryState } from './directory-state.js';
export type { FilesUpdate } from './directory-state.js';
export type { ConfigSource, ConfigSourceEvent, ConfigSourceListener } from './source.js';
export { matchLabels, matchSelector } from './labels.js';
export type { Labels } from './labels.js';
export { parseIp } from './ip.js';
export {
  HBONE_PORT,
  MeshLabels,
  MeshTranslator,
  WAYPOINT_GATEWAY_CLASS,
  isAmbientEnrolled,
  peerAuthenticationScope,
  policyScope,
  translate,
  waypointReference,
  waypointServes,
} from './translator.js';
export type {
  AuthorizationConverter,
  ConversionContext,
  ConversionWarning,
  PeerAuthenticationConverter,
  PolicyScope,
  TranslationDelta,
  TranslatorOptions,
} from './translator.js';
export type { ResourceDelta } from './output-table.js';
export { analyze } from './analyze.js';
export type { AnalysisCode, AnalysisWarning, AnalyzeOptions } from './analyze.js';
export type {
  Address,
  AppProtocol,
  AuthorizationAddress,
  AuthorizationMatch,
  GatewayAddress,
  LoadBalancing,
  NamespacedHostname,
  NetworkAddress,
  Port,
  PortList,
  Service,
  ServiceAccountMatch,
  StringMatch,
  TunnelProtocol,
  WireAuthorization,
  Workload,
  WorkloadStatus,
  WorkloadType,
} from './xds-types.js';
