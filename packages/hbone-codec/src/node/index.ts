/**
 * Node transports for HBONE: a server over established TLS sockets (or any
 * Duplex), a client connection that opens tunnels as Duplex streams, a
 * connection pool with ztunnel's policy, and a default TLS dialer.
 * @packageDocumentation
 */
export { HboneClientConnection, type HboneClientOptions, HboneConnectRefusedError } from './hbone-client.js';
export { HbonePool, type HbonePoolKey, type HbonePoolOptions, poolKeyString } from './hbone-pool.js';
export {
  type HboneConnectionMetadata,
  HboneServer,
  type HboneServerOptions,
  type IncomingTunnel,
} from './hbone-server.js';
export { HboneTunnel, type KeepAliveOptions, ZTUNNEL_KEEPALIVE } from './session.js';
export { type TlsDialerOptions, tlsDialer, uriSans } from './tls-dialer.js';
