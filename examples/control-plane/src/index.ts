/**
 * The amesh control plane as a function (`startControlPlane`) for the demo and
 * tests; `main.ts` is the command line (`serve`, `analyze`).
 * @packageDocumentation
 */
export {
  authorizationConverter,
  peerAuthenticationConverter,
  startControlPlane,
} from './run-control-plane.js';
export type { ControlPlaneConfig, RunningControlPlane } from './run-control-plane.js';
export { analyzeDirectory } from './analyze-directory.js';
