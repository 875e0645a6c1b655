/**
 * xDS (ADS) client core, sans-IO: resource types by type URL, the per-session
 * state machine (subscriptions, ACK/NACK, last known good), and backoff.
 * The gRPC client is in `@amesh/xds-client/node`.
 * @packageDocumentation
 */
export { AdsState, WILDCARD } from './ads-state.js';
export type {
  AdsEvent,
  AdsMode,
  AdsStateOptions,
  OutgoingRequest,
  ResourceStatus,
  ResponseOutcome,
} from './ads-state.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export {
  addressName,
  addressResourceType,
  authorizationResourceType,
  builtinResourceTypes,
  clusterLoadAssignmentResourceType,
  clusterResourceType,
  listenerResourceType,
  routeConfigurationResourceType,
} from './builtin-types.js';
export type { EnvoyMessage } from './builtin-types.js';
export { XdsClientError } from './errors.js';
export type { XdsClientErrorCode } from './errors.js';
export { ResourceTypeRegistry } from './resource-type.js';
export type { DecodeResult, XdsResourceType } from './resource-type.js';
