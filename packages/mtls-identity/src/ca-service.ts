import type { CertificateAuthority } from './ca.js';
import {
  IMPERSONATED_IDENTITY_KEY,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from './ca-proto.js';
import { parseCertificate } from './certificate.js';
import { checkSize, DEFAULT_MAX_INPUT_BYTES, IdentityError, type IdentityErrorCode } from './errors.js';
import { parseSpiffeId, type SpiffeId, toSpiffeId } from './spiffe-id.js';

/** What the transport knows about a call. */
export interface CallContext {
  /** Request metadata: lowercase keys, string values (binary metadata left out). */
  readonly metadata: { readonly [key: string]: readonly string[] | undefined };
  /** The client's certificate chain (DER, leaf first), only when TLS verified it against the trust bundle. */
  readonly peerCertificates?: readonly Uint8Array[];
}

/** An authenticated caller of the CA. */
export interface Caller {
  readonly identity: SpiffeId;
  /** The node the caller runs on (node agents); needed for impersonation. */
  readonly node?: string;
}

/**
 * Authenticates a CA caller. Returns `undefined` when its kind of credential
 * is absent (the next authenticator is tried); throws
 * `IDENTITY_ERR_UNAUTHENTICATED` when a credential is present but bad.
 */
export interface CallerAuthenticator {
  readonly name: string;
  authenticate(context: CallContext): Caller | undefined | Promise<Caller | undefined>;
}

/**
 * Answers whether a live (not failed) pod with `identity` runs on `node`.
 * The control plane implements it from its pod view.
 */
export interface NodeLocator {
  hasLivePod(node: string, identity: SpiffeId): boolean | Promise<boolean>;
}

/** Options of {@link mtlsAuthenticator}. */
export interface MtlsAuthenticatorOptions {
  /** Only identities of this trust domain are accepted. */
  readonly trustDomain: string;
  /** The node of a caller identity, when known (enables impersonation by mTLS node agents). */
  readonly nodeOf?: (identity: SpiffeId) => string | undefined;
}

/**
 * Authenticates callers by the SPIFFE ID of their TLS client certificate
 * (already verified by the TLS layer against the trust bundle).
 */
export function mtlsAuthenticator(options: MtlsAuthenticatorOptions): CallerAuthenticator {
  return {
    name: 'mtls',
    authenticate(context) {
      const leaf = context.peerCertificates?.[0];
      if (!leaf) return undefined;
      const info = parseCertificate(leaf);
      const identity = info.identity;
      if (!identity || info.uris.length !== 1) {
        throw new IdentityError(
          'IDENTITY_ERR_UNAUTHENTICATED',
          'client certificate has no single SPIFFE ID',
          {
            rule: 'client-svid',
          },
        );
      }
      if (identity.trustDomain !== options.trustDomain) {
        throw new IdentityError(
          'IDENTITY_ERR_UNAUTHENTICATED',
          `client identity ${identity.uri} is not in trust domain ${options.trustDomain}`,
          { rule: 'trust-domain' },
        );
      }
      const node = options.nodeOf?.(identity);
      return node === undefined ? { identity } : { identity, node };
    },
  };
}

/** Options of {@link bearerTokenAuthenticator}. */
export interface BearerTokenAuthenticatorOptions {
  /** Maps a token to its caller, or `undefined` when the token is not valid. */
  readonly verify: (token: string) => Caller | undefined | Promise<Caller | undefined>;
}

/**
 * Authenticates callers by `authorization: Bearer <token>` (Istio's node
 * agents send a service account token). In local mode, map static tokens to
 * a node agent identity and its node.
 */
export function bearerTokenAuthenticator(options: BearerTokenAuthenticatorOptions): CallerAuthenticator {
  return {
    name: 'bearer-token',
    async authenticate(context) {
      const values = context.metadata.authorization;
      if (!values || values.length === 0) return undefined;
      const match = values.length === 1 ? /^Bearer ([\x21-\x7e]+)$/i.exec(values[0]!) : null;
      if (!match) {
        throw new IdentityError('IDENTITY_ERR_UNAUTHENTICATED', 'authorization is not one "Bearer <token>"', {
          rule: 'bearer-format',
        });
      }
      const caller = await options.verify(match[1]!);
      if (!caller) {
        throw new IdentityError('IDENTITY_ERR_UNAUTHENTICATED', 'bearer token is not valid', {
          rule: 'token',
        });
      }
      return caller;
    },
  };
}

/** Options of {@link CaService}. */
export interface CaServiceOptions {
  readonly ca: CertificateAuthority;
  /** Tried in order; the first that returns a caller wins. */
  readonly authenticators: readonly CallerAuthenticator[];
  /** Needed for impersonation; without it every impersonation is refused. */
  readonly nodeLocator?: NodeLocator;
  /** Identities allowed to impersonate. Default: `spiffe://<td>/ns/istio-system/sa/ztunnel`. */
  readonly trustedNodeAgents?: readonly (SpiffeId | string)[];
  /** Largest CSR accepted. Default 64 KiB. */
  readonly maxCsrBytes?: number;
}

/**
 * The transport-free core of Istio's `IstioCertificateService`: authenticates
 * the caller, authorises the requested identity (its own, or an impersonated
 * one for trusted node agents with a live pod of that identity on their node),
 * then issues with the CA, which rewrites the SAN to the approved identity.
 */
export class CaService {
  readonly #options: CaServiceOptions;
  readonly #trustedAgents: ReadonlySet<string>;

  constructor(options: CaServiceOptions) {
    this.#options = options;
    const agents = options.trustedNodeAgents ?? [
      `spiffe://${options.ca.trustDomain}/ns/istio-system/sa/ztunnel`,
    ];
    this.#trustedAgents = new Set(agents.map((a) => toSpiffeId(a).uri));
  }

  /**
   * Handles one `CreateCertificate` call.
   * @throws {IdentityError} `IDENTITY_ERR_UNAUTHENTICATED`, `IDENTITY_ERR_PERMISSION_DENIED`, and the CA's issuance errors; map with {@link grpcStatusOf}
   */
  async createCertificate(
    request: IstioCertificateRequest,
    context: CallContext,
  ): Promise<IstioCertificateResponse> {
    const caller = await this.#authenticate(context);
    checkSize(request.csr.length, this.#options.maxCsrBytes ?? DEFAULT_MAX_INPUT_BYTES, 'CSR');
    let identity = caller.identity;
    const impersonated = request.metadata[IMPERSONATED_IDENTITY_KEY];
    if (impersonated !== undefined) {
      if (typeof impersonated !== 'string') {
        throw new IdentityError(
          'IDENTITY_ERR_PERMISSION_DENIED',
          `${IMPERSONATED_IDENTITY_KEY} must be a string`,
          {
            rule: 'impersonation-format',
          },
        );
      }
      identity = await this.#authorizeImpersonation(caller, parseSpiffeId(impersonated));
    }
    const ttl = request.validityDuration;
    const issued = this.#options.ca.issue({
      csr: request.csr,
      identity,
      ...(ttl === 0 ? {} : { ttlSeconds: ttl }),
    });
    return { certChain: issued.chain };
  }

  async #authenticate(context: CallContext): Promise<Caller> {
    for (const authenticator of this.#options.authenticators) {
      let caller: Caller | undefined;
      try {
        caller = await authenticator.authenticate(context);
      } catch (cause) {
        if (cause instanceof IdentityError) throw cause;
        throw new IdentityError(
          'IDENTITY_ERR_UNAUTHENTICATED',
          `authenticator ${authenticator.name} failed`,
          {
            cause,
          },
        );
      }
      if (caller) return caller;
    }
    throw new IdentityError(
      'IDENTITY_ERR_UNAUTHENTICATED',
      'no credential: send a client certificate or a bearer token',
      {
        rule: 'no-credential',
      },
    );
  }

  async #authorizeImpersonation(caller: Caller, requested: SpiffeId): Promise<SpiffeId> {
    if (requested.uri === caller.identity.uri) return requested;
    const deny = (message: string, rule: string): never => {
      throw new IdentityError(
        'IDENTITY_ERR_PERMISSION_DENIED',
        `impersonation of ${requested.uri} refused: ${message}`,
        {
          rule,
        },
      );
    };
    if (!this.#trustedAgents.has(caller.identity.uri)) {
      deny(`caller ${caller.identity.uri} is not a trusted node agent`, 'not-node-agent');
    }
    if (caller.node === undefined) deny('the caller has no known node', 'no-node');
    if (!this.#options.nodeLocator) deny('no node locator is configured', 'no-node-locator');
    const live = await this.#options.nodeLocator!.hasLivePod(caller.node!, requested);
    if (!live) deny(`no live pod with that identity runs on node ${caller.node}`, 'no-live-pod');
    return requested;
  }
}

/** gRPC status codes used by the CA API. */
export const GrpcStatus = {
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC status a CA error maps to (Istio answers the same classes). */
export function grpcStatusOf(error: unknown): number {
  if (!(error instanceof IdentityError)) return GrpcStatus.INTERNAL;
  const code = error.code as IdentityErrorCode;
  switch (code) {
    case 'IDENTITY_ERR_UNAUTHENTICATED':
      return GrpcStatus.UNAUTHENTICATED;
    case 'IDENTITY_ERR_PERMISSION_DENIED':
      return GrpcStatus.PERMISSION_DENIED;
    case 'IDENTITY_ERR_CA_CONFIG':
    case 'IDENTITY_ERR_CLOSED':
      return GrpcStatus.INTERNAL;
    case 'IDENTITY_ERR_CA_UNAVAILABLE':
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.INVALID_ARGUMENT;
  }
}
