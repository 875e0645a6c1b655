import { AmeshError, type AmeshErrorOptions } from '@amesh/errors';

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
 * Why a CA directory was refused (`reason` of a `CONTROL_PLANE_ERR_CA_DIR`
 * error): `incomplete` (a file of the pair is missing), `unreadable`,
 * `bad-key` / `bad-cert` (not a P-256 key / ECDSA P-256 certificate in PEM),
 * `key-mismatch`, `not-ca`, `expired`, `not-yet-valid`, `chain` (the chain
 * does not link up), `untrusted-root` (the chain ends at a root not in
 * `root-cert.pem`), `write-failed`.
 */
export type CaDirectoryProblem =
  | 'incomplete'
  | 'unreadable'
  | 'bad-key'
  | 'bad-cert'
  | 'key-mismatch'
  | 'not-ca'
  | 'expired'
  | 'not-yet-valid'
  | 'chain'
  | 'untrusted-root'
  | 'write-failed';

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
  /** For `CONTROL_PLANE_ERR_CA_DIR`: which rule the directory broke. */
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
