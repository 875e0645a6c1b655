/**
 * Embeddable xDS server core, sans-IO: versioned resources per type, SotW and
 * Delta ADS, per-client ACK/NACK tracking, push debounce, introspection.
 * The gRPC binding is in `@amesh/xds-server/node`.
 * @packageDocumentation
 */
export { XdsServerError } from './errors.js';
export type { XdsServerErrorCode } from './errors.js';
export { ResourceStore } from './resource-store.js';
export type { ResourceInput, StoredResource } from './resource-store.js';
export { XdsServerCore } from './xds-server-core.js';
export type {
  ClientInfo,
  ClientTypeInfo,
  ClientTypeStatus,
  XdsServerLogRecord,
  XdsServerOptions,
  XdsServerResponse,
  XdsServerStream,
  XdsStreamMode,
} from './xds-server-core.js';
