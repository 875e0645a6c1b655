/**
 * The workload and service state a ztunnel (or waypoint) holds from xDS, and
 * the outbound routing decision made from it. Pure: no I/O.
 * @packageDocumentation
 */
export { DEFAULT_TRUST_DOMAIN, workloadIdentity } from './identity.js';
export { formatIp, ipKey, parseIp } from './ip.js';
export { WorkloadStore } from './store.js';
export type { OutboundRoute, StateChange, WorkloadStoreOptions } from './store.js';
