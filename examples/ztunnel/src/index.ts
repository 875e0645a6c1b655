/**
 * The amesh ztunnel, as a function (`startZtunnel`) for the demo and the
 * end-to-end tests; `main.ts` is the command line.
 * @packageDocumentation
 */
export { NetnsPodNetwork, ZTUNNEL_MARK } from './netns-network.js';
export { startZtunnel } from './run-ztunnel.js';
export type { RunningZtunnel, ZtunnelConfig } from './run-ztunnel.js';
