/**
 * Node glue of `@amesh/dns-proxy`: the UDP/TCP DNS proxy server.
 * @packageDocumentation
 */
export { DnsProxy } from './dns-proxy.js';
export type {
  DnsProxyAddresses,
  DnsProxyListenOptions,
  DnsProxyLogEvent,
  DnsQueryEvent,
  DnsProxyMetrics,
  DnsProxyOptions,
  DnsRemote,
} from './dns-proxy.js';
