import { AmeshError, type AmeshErrorOptions } from '@amesh/errors';
import type { ConfigIssue } from './issues.js';

/**
 * Stable codes of {@link MeshConfigError}. Match on these, never on messages.
 *
 * - `MESHCFG_ERR_INVALID_RESOURCE`: one or more resources failed validation.
 * - `MESHCFG_ERR_YAML_PARSE`: a YAML document could not be parsed.
 * - `MESHCFG_ERR_SOURCE`: a config source could not start or lost its backend.
 */
export type MeshConfigErrorCode =
  | 'MESHCFG_ERR_INVALID_RESOURCE'
  | 'MESHCFG_ERR_YAML_PARSE'
  | 'MESHCFG_ERR_SOURCE';

/**
 * The error thrown by `@amesh/mesh-config` APIs that throw (most return
 * issues as data instead). Carries every {@link ConfigIssue} found.
 *
 * @example
 * ```ts
 * try { assertValidResource(raw); } catch (e) { if (e instanceof MeshConfigError) console.log(e.code, e.issues); }
 * ```
 */
export class MeshConfigError extends AmeshError<MeshConfigErrorCode> {
  /** Every issue found, each with its resource and field path. */
  readonly issues: readonly ConfigIssue[];

  /**
   * @param code - stable error code
   * @param message - what failed
   * @param issues - the issues that caused it (may be empty)
   */
  constructor(
    code: MeshConfigErrorCode,
    message: string,
    issues: readonly ConfigIssue[] = [],
    options: AmeshErrorOptions = {},
  ) {
    super(code, message, options);
    this.issues = issues;
  }
}
