import { AmeshError, type AmeshErrorOptions } from '@amesh/errors';

/**
 * Every stable code an `@amesh/mtls-identity` error carries. Match on these,
 * never on messages.
 */
export type IdentityErrorCode =
  /** A SPIFFE ID broke a rule of the SPIFFE ID spec or the Istio `ns/<ns>/sa/<sa>` shape. */
  | 'IDENTITY_ERR_SPIFFE_ID_INVALID'
  /** Input was not a well-formed PEM block of the expected label. */
  | 'IDENTITY_ERR_PEM_INVALID'
  /** DER did not decode to the expected ASN.1 structure. */
  | 'IDENTITY_ERR_DER_INVALID'
  /** Input exceeded the configured size limit. */
  | 'IDENTITY_ERR_INPUT_TOO_LARGE'
  /** A key was malformed or does not match its certificate. */
  | 'IDENTITY_ERR_KEY_INVALID'
  /** A key or signature used anything but ECDSA P-256 with SHA-256. */
  | 'IDENTITY_ERR_UNSUPPORTED_ALGORITHM'
  /** A CSR broke a rule (SAN count, SAN kind, version, attributes). */
  | 'IDENTITY_ERR_CSR_INVALID'
  /** A CSR's signature did not verify with its own key (no proof of possession). */
  | 'IDENTITY_ERR_CSR_SIGNATURE'
  /** A certificate was malformed, not a valid X.509-SVID, or its chain failed to verify. */
  | 'IDENTITY_ERR_CERT_INVALID'
  /** A requested lifetime was over the CA's maximum (or not positive). */
  | 'IDENTITY_ERR_TTL_EXCEEDED'
  /** A CA was configured with an unusable key or chain. */
  | 'IDENTITY_ERR_CA_CONFIG'
  /** The caller of the CA could not be authenticated. */
  | 'IDENTITY_ERR_UNAUTHENTICATED'
  /** The caller is authenticated but not allowed this identity (e.g. impersonation). */
  | 'IDENTITY_ERR_PERMISSION_DENIED'
  /** The CA could not be reached or answered with an error. */
  | 'IDENTITY_ERR_CA_UNAVAILABLE'
  /** A TLS peer presented no, or the wrong, SPIFFE identity. */
  | 'IDENTITY_ERR_PEER_IDENTITY'
  /** The certificate manager was closed. */
  | 'IDENTITY_ERR_CLOSED';

/**
 * The error every function of this package throws or rejects with.
 *
 * @example
 * ```ts
 * try { parseSpiffeId('spiffe://Cluster.local/ns/a/sa/b'); }
 * catch (e) { if (e instanceof IdentityError) console.log(e.code, e.rule); }
 * ```
 */
export class IdentityError<Code extends IdentityErrorCode = IdentityErrorCode> extends AmeshError<Code> {
  /** For rule violations: a short, stable name of the rule that was broken (`trust-domain-chars`, ...). */
  readonly rule: string | undefined;

  /**
   * @param code - the stable code
   * @param message - what failed, naming the rule
   * @param options - `rule` for rule violations, `cause` for wrapped errors
   */
  constructor(code: Code, message: string, options: AmeshErrorOptions & { readonly rule?: string } = {}) {
    super(code, message, 'cause' in options ? { cause: options.cause } : {});
    this.rule = options.rule;
  }
}

/** A size limit for untrusted inputs (PEM text or DER bytes). */
export const DEFAULT_MAX_INPUT_BYTES = 64 * 1024;

/** @internal */
export function checkSize(length: number, maxBytes: number, what: string): void {
  if (length > maxBytes) {
    throw new IdentityError(
      'IDENTITY_ERR_INPUT_TOO_LARGE',
      `${what} is ${length} bytes, over the limit of ${maxBytes}`,
      { rule: 'max-size' },
    );
  }
}
