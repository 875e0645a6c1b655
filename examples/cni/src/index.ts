/**
 * The amesh CNI node agent, as a function (`startNodeAgent`) for the
 * end-to-end tests; `main.ts` is the command line. The CNI plugin itself is
 * `@amesh/cni-redirect`'s `amesh-cni` executable.
 * @packageDocumentation
 */
export { ConfigPodSource } from './config-pod-source.js';
export type { ConfigPodSourceOptions } from './config-pod-source.js';
export { startNodeAgent } from './run-node-agent.js';
export type { NodeAgentConfig, RunningNodeAgent } from './run-node-agent.js';
export { ControlPlaneStatusReporter } from './status-reporter.js';
export type { StatusReporterOptions } from './status-reporter.js';
