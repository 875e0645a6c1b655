import { IdentityError } from './errors.js';

/**
 * An Istio workload identity: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
 * Values are always valid: build them with {@link parseSpiffeId} or {@link spiffeId}.
 */
export interface SpiffeId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The canonical URI form. */
  readonly uri: string;
}

const SCHEME = 'spiffe://';
/** SPIFFE ID spec §2.1: trust domain characters. */
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
/** SPIFFE ID spec §2.2: path segment characters. */
const SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;
/** SPIFFE ID spec §2.3: maximum URI length in bytes. */
const MAX_URI_BYTES = 2048;
const MAX_TRUST_DOMAIN = 255;

function fail(rule: string, message: string): never {
  throw new IdentityError('IDENTITY_ERR_SPIFFE_ID_INVALID', `invalid SPIFFE ID: ${message}`, { rule });
}

/**
 * Checks a trust domain name (SPIFFE ID spec §2.1: lowercase letters, digits,
 * `.`, `-`, `_`; at most 255 characters).
 * @throws {IdentityError} `IDENTITY_ERR_SPIFFE_ID_INVALID` naming the rule
 */
export function validateTrustDomain(trustDomain: string): string {
  if (trustDomain.length === 0) fail('trust-domain-empty', 'trust domain is empty');
  if (trustDomain.length > MAX_TRUST_DOMAIN) {
    fail('trust-domain-too-long', `trust domain is longer than ${MAX_TRUST_DOMAIN} characters`);
  }
  if (!TRUST_DOMAIN_CHARS.test(trustDomain)) {
    fail(
      'trust-domain-chars',
      `trust domain ${JSON.stringify(trustDomain)} may only hold lowercase letters, digits, ".", "-" and "_"`,
    );
  }
  return trustDomain;
}

function validateSegment(segment: string, what: string): void {
  if (segment.length === 0) fail('path-empty-segment', `${what} is an empty path segment`);
  if (segment === '.' || segment === '..') fail('path-dot-segment', `${what} is a dot segment`);
  if (!SEGMENT_CHARS.test(segment)) {
    fail(
      'path-chars',
      `${what} ${JSON.stringify(segment)} may only hold letters, digits, ".", "-" and "_" (no percent-encoding)`,
    );
  }
}

/**
 * Parses and strictly validates an Istio SPIFFE ID.
 *
 * Enforces the SPIFFE ID spec (lowercase `spiffe` scheme, trust domain
 * characters, no port, userinfo, query, fragment, percent-encoding, empty or
 * dot segments, trailing slash, at most 2048 bytes) and then Istio's shape:
 * exactly `/ns/<namespace>/sa/<service-account>`.
 *
 * @throws {IdentityError} `IDENTITY_ERR_SPIFFE_ID_INVALID`; `error.rule` names the rule
 * @example
 * ```ts
 * const id = parseSpiffeId('spiffe://cluster.local/ns/default/sa/web');
 * id.namespace; // 'default'
 * ```
 */
export function parseSpiffeId(uri: string): SpiffeId {
  if (typeof uri !== 'string') fail('type', 'not a string');
  if (uri.length === 0) fail('empty', 'empty string');
  if (Buffer.byteLength(uri, 'utf8') > MAX_URI_BYTES) fail('too-long', `longer than ${MAX_URI_BYTES} bytes`);
  if (!uri.startsWith(SCHEME)) {
    fail('scheme', 'must start with "spiffe://" (scheme is lowercase)');
  }
  const rest = uri.slice(SCHEME.length);
  if (rest.includes('?')) fail('query', 'must not have a query');
  if (rest.includes('#')) fail('fragment', 'must not have a fragment');
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  if (authority.includes('@')) fail('userinfo', 'must not have userinfo');
  if (authority.includes(':')) fail('port', 'must not have a port');
  validateTrustDomain(authority);
  if (slash === -1 || slash === rest.length - 1) {
    if (slash === rest.length - 1 && rest.length > 1) fail('trailing-slash', 'must not end with "/"');
    fail('istio-shape', 'path must be /ns/<namespace>/sa/<service-account>');
  }
  const path = rest.slice(slash + 1);
  if (path.endsWith('/')) fail('trailing-slash', 'must not end with "/"');
  const segments = path.split('/');
  segments.forEach((segment, i) => {
    validateSegment(segment, `path segment ${i + 1}`);
  });
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') {
    fail('istio-shape', 'path must be exactly /ns/<namespace>/sa/<service-account>');
  }
  return {
    trustDomain: authority,
    namespace: segments[1]!,
    serviceAccount: segments[3]!,
    uri,
  };
}

/**
 * Builds a SPIFFE ID from its parts, validating each.
 * @throws {IdentityError} `IDENTITY_ERR_SPIFFE_ID_INVALID`
 * @example
 * ```ts
 * spiffeId('cluster.local', 'default', 'web').uri; // 'spiffe://cluster.local/ns/default/sa/web'
 * ```
 */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): SpiffeId {
  validateTrustDomain(trustDomain);
  validateSegment(namespace, 'namespace');
  validateSegment(serviceAccount, 'service account');
  return parseSpiffeId(formatSpiffeId({ trustDomain, namespace, serviceAccount }));
}

/** Formats the parts of a SPIFFE ID as its URI (no validation; see {@link spiffeId}). */
export function formatSpiffeId(id: Pick<SpiffeId, 'trustDomain' | 'namespace' | 'serviceAccount'>): string {
  return `${SCHEME}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** True when `value` parses as an Istio SPIFFE ID. */
export function isSpiffeId(value: string): boolean {
  try {
    parseSpiffeId(value);
    return true;
  } catch {
    return false;
  }
}

/** Accepts a {@link SpiffeId} or its URI and returns the parsed form. @internal */
export function toSpiffeId(id: SpiffeId | string): SpiffeId {
  return typeof id === 'string' ? parseSpiffeId(id) : parseSpiffeId(id.uri);
}
