/**
 * Node glue of the L4 proxy core.
 * @packageDocumentation
 */
export { connectViaSocks5 } from './socks5-client.js';
export type { Socks5ConnectOptions } from './socks5-client.js';
export { acceptSocks5 } from './socks5-server.js';
export type { Socks5Request } from './socks5-server.js';
export { LoopbackPodNetwork } from './pod-network.js';
export type { ListenerPurpose, LocalPod, PodNetwork } from './pod-network.js';
export { relay } from './relay.js';
export type { Relay, RelayResult } from './relay.js';
export { Ztunnel } from './ztunnel.js';
export type { TrackedConnection, ZtunnelCertificates, ZtunnelOptions } from './ztunnel.js';
