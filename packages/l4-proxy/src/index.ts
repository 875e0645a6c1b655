/**
 * The L4 proxy core of the amesh ztunnel.
 * @packageDocumentation
 */
export { ProxyError } from './errors.js';
export type { ProxyErrorCode } from './errors.js';
export {
  encodeMethodSelection,
  encodeReply,
  parseConnectRequest,
  parseGreeting,
  Socks5Reply,
} from './socks5.js';
export type { Parse, Socks5Destination, Socks5ReplyCode } from './socks5.js';
