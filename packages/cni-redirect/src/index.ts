/**
 * Ambient pod enrolment and traffic redirection, sans-IO part: nftables rule
 * rendering, the enrolment decision, the CNI 1.0 plugin protocol, and the
 * node agent ↔ ztunnel (zds) and plugin ↔ agent message codecs.
 * Node glue (nft in a netns, the native socket helpers, the CNI plugin, the
 * node agent, the ztunnel side of the hand-off) is in `@amesh/cni-redirect/node`.
 * @packageDocumentation
 */
export { CniRedirectError } from './errors.js';
export type { CniRedirectErrorCode } from './errors.js';
export {
  DEFAULT_CAPTURE_PORTS,
  DEFAULT_TABLE,
  PROBE_SOURCE_IPV4,
  PROBE_SOURCE_IPV6,
  RULES_COMMENT,
  ZTUNNEL_MARK,
  ZTUNNEL_MARK_MASK,
  renderPodRules,
  renderPodRulesRemoval,
  resolvePodRuleOptions,
} from './rules.js';
export type { CapturePorts, PodRuleOptions, ResolvedPodRuleOptions } from './rules.js';
export { DATAPLANE_MODE_LABEL, REDIRECTION_ANNOTATION, decideEnrolment, isEnrolled } from './enrolment.js';
export type { EnrolmentDecision, Labels } from './enrolment.js';
export {
  CniErrorCode,
  DEFAULT_AGENT_SOCKET,
  DEFAULT_AGENT_TIMEOUT_MS,
  SUPPORTED_CNI_VERSIONS,
  cniError,
  cniVersionResult,
  parseCniConfig,
  parseCniEnvironment,
  passThroughResult,
  resultAddresses,
} from './cni-spec.js';
export type {
  AmeshCniConfig,
  CniCommand,
  CniEnvironment,
  CniErrorResult,
  CniIpConfig,
  CniParse,
} from './cni-spec.js';
export {
  ZDS_MAX_MESSAGE_SIZE,
  ZDS_VERSION_V1,
  ZdsFrameDecoder,
  decodeZdsAck,
  decodeZdsHello,
  decodeZdsRequest,
  encodeZdsAck,
  encodeZdsHello,
  encodeZdsRequest,
  frameZdsMessage,
} from './zds-protocol.js';
export type {
  ZdsAck,
  ZdsDecodeOptions,
  ZdsEncodeOptions,
  ZdsHello,
  ZdsRequest,
  ZdsWorkloadInfo,
} from './zds-protocol.js';
export { ZdsPodTable, zdsReconnectDelay } from './zds-pod-table.js';
export type { ZdsAddDecision, ZdsBackoffOptions, ZdsPodEntry } from './zds-pod-table.js';
export { InMemoryPodSource } from './pod-source.js';
export type { PodEvent, PodInfo, PodSource } from './pod-source.js';
export {
  CNI_AGENT_MAX_LINE,
  encodeCniAgentMessage,
  parseCniAgentRequest,
  parseCniAgentResponse,
} from './cni-agent-protocol.js';
export type { CniAgentRequest, CniAgentResponse } from './cni-agent-protocol.js';
