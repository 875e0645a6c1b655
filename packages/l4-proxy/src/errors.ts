import { AmeshError } from '@amesh/errors';

/** Stable codes of {@link ProxyError}. */
export type ProxyErrorCode =
  | 'PROXY_ERR_SOCKS_VERSION'
  | 'PROXY_ERR_SOCKS_METHOD'
  | 'PROXY_ERR_SOCKS_COMMAND'
  | 'PROXY_ERR_SOCKS_ADDRESS'
  | 'PROXY_ERR_SOCKS_TRUNCATED';

/** Error of the L4 proxy core. */
export class ProxyError extends AmeshError<ProxyErrorCode> {}
