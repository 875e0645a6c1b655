/**
 * Node glue of `@amesh/xds-client`: the ADS client over `@grpc/grpc-js`.
 * @packageDocumentation
 */
export { XdsClient } from './xds-client.js';
export type {
  ResourceWatcher,
  XdsClientMetrics,
  XdsClientOptions,
  XdsConnectionState,
  XdsLogRecord,
  XdsTimers,
} from './xds-client.js';
