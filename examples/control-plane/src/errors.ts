import { AmeshError, type AmeshErrorOptions } from '@amesh/errors';
import type { CaDirectoryProblem } from '@amesh/mtls-identity';

/**
 * Stable codes of the control plane's own errors. Match on these, never on
 * messages.
 */
export type ControlPlaneErrorCode =
  /** The CA directory (`--ca-dir`) holds an unusable key or certificate set. */
  | 'CONTROL_PLANE_ERR_CA_DIR'
  /** The state directory (`--state-dir`) could not be read or written. */
  | 'CONTROL_PLANE_ERR_STATE'
  /** The command line or config names something unusable (a kube config that does not load, ...). */
  | 'CONTROL_PLANE_ERR_CONFIG';

/**
 * Every error the control plane throws for bad configuration or state.
 *
 * @example
 * ```ts
 * try { await startControlPlane(config); }
 * catch (e) { if (e instanceof ControlPlaneError && e.code === 'CONTROL_PLANE_ERR_CA_DIR') console.error(e.reason, e.message); }
 * ```
 */
export class ControlPlaneError extends AmeshError<ControlPlaneErrorCode> {
  /** For `CONTROL_PLANE_ERR_CA_DIR`: which rule the directory broke (see `CaDirectoryProblem` in `@amesh/mtls-identity`). */
  readonly reason: CaDirectoryProblem | undefined;

  /**
   * @param code - the stable code
   * @param message - what failed, naming the file and the rule
   * @param options - `reason` for CA directory problems, `cause` for wrapped errors
   */
  constructor(
    code: ControlPlaneErrorCode,
    message: string,
    options: AmeshErrorOptions & { readonly reason?: CaDirectoryProblem } = {},
  ) {
    super(code, message, 'cause' in options ? { cause: options.cause } : {});
    this.reason = options.reason;
  }
}
