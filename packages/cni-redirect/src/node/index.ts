/**
 * Node glue of `@amesh/cni-redirect`: nftables inside a network namespace,
 * native socket helpers (sockets in a netns, SO_ORIGINAL_DST, SO_MARK), the
 * CNI plugin, the node agent and the ztunnel end of the pod hand-off.
 * @packageDocumentation
 */
export {
  bindDgramInNetns,
  bindUdpInNetns,
  connectSocketInNetns,
  createSocketInNetns,
  getMark,
  isAddonAvailable,
  listenInNetns,
  listenServerInNetns,
  originalDestination,
  setMark,
} from './addon.js';
export type {
  BindUdpInNetnsOptions,
  ConnectSocketInNetnsOptions,
  ListenInNetnsOptions,
  OriginalDestination,
} from './addon.js';
export { applyPodRules, inspectPodRules, removePodRules } from './nft.js';
export type { NftOptions, PodRulesState } from './nft.js';
export { requestNodeAgent, runCniPlugin } from './cni-plugin.js';
export type { CniPluginOutcome } from './cni-plugin.js';
export { NodeAgent } from './node-agent.js';
export type {
  NodeAgentOptions,
  PodCaptureState,
  PodRef,
  PodStatusReporter,
  RedirectionStatus,
} from './node-agent.js';
export { ZdsServer, ZdsSession } from './zds-server.js';
export type { ZdsServerOptions } from './zds-server.js';
export { ZtunnelAgentConnection } from './ztunnel-agent-connection.js';
export { ZtunnelAgentClient } from './ztunnel-agent-client.js';
export type {
  ZtunnelAgentClientEvents,
  ZtunnelAgentClientOptions,
  ZtunnelAgentClientState,
  ZtunnelPod,
  ZtunnelPodEvent,
  ZtunnelPodHandler,
} from './ztunnel-agent-client.js';
export type {
  ZdsRequestContext,
  ZdsRequestHandler,
  ZtunnelAgentConnectionOptions,
} from './ztunnel-agent-connection.js';
export { DEFAULT_ZDS_TRANSPORT } from './zds-channel.js';
export type { ZdsTransport } from './zds-channel.js';
