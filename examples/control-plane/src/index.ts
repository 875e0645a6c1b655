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
export { ControlPlaneError } from './errors.js';
export type { ControlPlaneErrorCode } from './errors.js';
export {
  REDIRECTION_STATE_FILE,
  RedirectionStateFile,
  decodeRedirectionState,
  encodeRedirectionState,
} from './redirection-state-file.js';
export {
  REDIRECTION_ANNOTATION,
  RedirectionOverlay,
  overlayRecorder,
  podAnnotationRecorder,
} from './redirection-status.js';
export type {
  PersistedRedirection,
  PodAnnotationWriter,
  RedirectionOverlayOptions,
  RedirectionRecorder,
  ReportedRedirection,
} from './redirection-status.js';
