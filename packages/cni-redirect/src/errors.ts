import { AmeshError } from '@amesh/errors';

/**
 * Every stable code a `@amesh/cni-redirect` error can carry. Match on the
 * code, never on the message.
 */
export type CniRedirectErrorCode =
  /** The native addon is not built, or this is not Linux. */
  | 'CNI_ERR_ADDON_UNAVAILABLE'
  /** The `nft` (or `nsenter`) executable is missing. */
  | 'CNI_ERR_NFT_UNAVAILABLE'
  /** The operation needs CAP_NET_ADMIN / CAP_SYS_ADMIN (root). */
  | 'CNI_ERR_PERMISSION'
  /** The network namespace path does not exist or is not a netns. */
  | 'CNI_ERR_NETNS_NOT_FOUND'
  /** `nft` rejected the ruleset or failed otherwise. */
  | 'CNI_ERR_NFT_FAILED'
  /** Rule rendering options are invalid (port, mark, address). */
  | 'CNI_ERR_INVALID_RULE_OPTIONS'
  /** A socket operation in the native addon failed. */
  | 'CNI_ERR_SOCKET'
  /** The node agent could not be reached over its unix socket. */
  | 'CNI_ERR_AGENT_UNREACHABLE'
  /** The node agent or ztunnel did not answer in time. */
  | 'CNI_ERR_TIMEOUT'
  /** Capturing a pod failed (rules or the ztunnel hand-off). */
  | 'CNI_ERR_CAPTURE_FAILED'
  /** A malformed message on the agent ↔ ztunnel or plugin ↔ agent channel. */
  | 'CNI_ERR_PROTOCOL'
  /** The connection closed while a request was outstanding. */
  | 'CNI_ERR_CONNECTION_CLOSED';

/**
 * The error class of `@amesh/cni-redirect`.
 *
 * @example
 * ```ts
 * try { await applyPodRules('/var/run/netns/pod1', renderPodRules()); }
 * catch (e) { if (isAmeshError(e, 'CNI_ERR_PERMISSION')) console.error('run as root'); }
 * ```
 */
export class CniRedirectError extends AmeshError<CniRedirectErrorCode> {}
