/**
 * Node glue of `@amesh/xds-server`: the server core bound to `@grpc/grpc-js`.
 * @packageDocumentation
 */
export { XdsServer } from './xds-server.js';
