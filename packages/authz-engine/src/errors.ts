import { AmeshError } from '@amesh/errors';

/**
 * Stable codes of {@link AuthzError}. Match on these, never on messages.
 *
 * - `AUTHZ_ERR_INVALID_POLICY`: a policy (user-facing or wire form) failed validation; `issues` lists every problem.
 * - `AUTHZ_ERR_INVALID_REQUEST`: a request carries an unparsable address or an out-of-range port.
 * - `AUTHZ_ERR_INVALID_ADDRESS`: an IP address or CIDR text could not be parsed.
 */
export type AuthzErrorCode =
  | 'AUTHZ_ERR_INVALID_POLICY'
  | 'AUTHZ_ERR_INVALID_REQUEST'
  | 'AUTHZ_ERR_INVALID_ADDRESS';

/** One problem found by validation, with the path of the offending field. */
export interface ValidationIssue {
  /** Dotted path into the object, for example `spec.rules[0].from[1].source.ipBlocks[2]`. */
  readonly path: string;
  /** Stable code of the problem, for example `AUTHZ_ERR_INVALID_CIDR`. */
  readonly code: string;
  /** What is wrong, in words a person can act on. */
  readonly message: string;
}

/**
 * The error thrown by this package. `issues` is non-empty for
 * `AUTHZ_ERR_INVALID_POLICY` and lists every problem found, not only the first.
 *
 * @example
 * ```ts
 * try { compileAuthorization(wire); }
 * catch (e) { if (isAmeshError(e, 'AUTHZ_ERR_INVALID_POLICY')) console.log((e as AuthzError).issues); }
 * ```
 */
export class AuthzError extends AmeshError<AuthzErrorCode> {
  /** Every validation problem, with paths (empty for non-validation errors). */
  readonly issues: readonly ValidationIssue[];

  /**
   * @param code - one of {@link AuthzErrorCode}
   * @param message - what failed
   * @param issues - validation problems, when the error comes from validation
   */
  constructor(code: AuthzErrorCode, message: string, issues: readonly ValidationIssue[] = []) {
    super(code, message);
    this.issues = issues;
  }
}

/**
 * Builds the error thrown when validation found problems, naming the policy
 * by `<kind> <namespace>/<name>`. Namespace and name are untrusted input here
 * (that is why validation failed): anything but a string shows as `?`.
 */
export function invalidPolicy(
  kind: string,
  namespace: unknown,
  name: unknown,
  issues: readonly ValidationIssue[],
): AuthzError {
  const text = (value: unknown): string => (typeof value === 'string' ? value : '?');
  const what = `${kind} ${text(namespace)}/${text(name)}`;
  const first = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return new AuthzError('AUTHZ_ERR_INVALID_POLICY', `${what} is invalid: ${first.join('; ')}${more}`, issues);
}
