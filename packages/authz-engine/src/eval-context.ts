import { namespaceKey } from './namespace-key.js';
import { AuthzError } from './errors.js';
import { type IpAddress, tryParseIpAddress } from './ip-address.js';
import type { AuthzRequest } from './request.js';

const NO_ADDRESS: IpAddress = Object.freeze({ family: 4, words: Object.freeze([0]) });
const NO_REQUEST: AuthzRequest = Object.freeze({
  sourceIp: NO_ADDRESS,
  destinationIp: NO_ADDRESS,
  destinationPort: 0,
  destination: Object.freeze({ namespace: '' }),
});

/**
 * Per-evaluation view of a request: addresses parsed once, the peer identity
 * split lazily, so a policy that never looks at an attribute costs nothing.
 */
export class EvalContext {
  request: AuthzRequest = NO_REQUEST;
  sourceIp: IpAddress = NO_ADDRESS;
  destinationIp: IpAddress = NO_ADDRESS;
  port = 0;
  private identityParsed = false;
  private namespaceValue: string | undefined = undefined;
  private serviceAccountValue: string | undefined = undefined;
  /** Where the service account starts in the principal, once parsed; -1 when there is none. */
  private accountStart = -1;
  private principalValue: string | undefined = undefined;
  private remoteIpValue: IpAddress | undefined | null = null;
  private keyValue: string | undefined | null = null;

  /**
   * A view of `request`; without one, an empty context for {@link reset}.
   * @throws {AuthzError} `AUTHZ_ERR_INVALID_REQUEST` for an unparsable address or port
   */
  constructor(request?: AuthzRequest) {
    if (request !== undefined) this.reset(request);
  }

  /**
   * Makes this context a view of another request (contexts are reused from
   * one decision to the next); everything derived from the previous one is dropped.
   * @throws {AuthzError} `AUTHZ_ERR_INVALID_REQUEST` for an unparsable address or port
   */
  reset(request: AuthzRequest): this {
    const sourceIp = toIp(request.sourceIp, 'sourceIp');
    const destinationIp = toIp(request.destinationIp, 'destinationIp');
    const port = request.destinationPort;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new AuthzError('AUTHZ_ERR_INVALID_REQUEST', `destinationPort ${port} is not a port number`);
    }
    this.request = request;
    this.sourceIp = sourceIp;
    this.destinationIp = destinationIp;
    this.port = port;
    this.identityParsed = false;
    this.namespaceValue = undefined;
    this.serviceAccountValue = undefined;
    this.accountStart = -1;
    this.remoteIpValue = null;
    this.keyValue = null;
    const principal = request.sourcePrincipal;
    this.principalValue =
      principal === undefined || principal === ''
        ? undefined
        : principal.charCodeAt(0) === 115 && principal.startsWith('spiffe://') // 's'
          ? principal.slice(9)
          : principal;
    return this;
  }

  /** Drops the references to the last request. */
  clear(): void {
    this.request = NO_REQUEST;
    this.sourceIp = NO_ADDRESS;
    this.destinationIp = NO_ADDRESS;
    this.principalValue = undefined;
    this.namespaceValue = undefined;
    this.serviceAccountValue = undefined;
    this.remoteIpValue = null;
    this.keyValue = null;
  }

  /** Peer identity without `spiffe://`, or undefined for plaintext. */
  principal(): string | undefined {
    return this.principalValue;
  }

  /** The source-namespace index key of the peer identity (see `namespaceKey`), or undefined. */
  namespaceIndexKey(): string | undefined {
    if (this.keyValue === null) {
      this.keyValue = this.principalValue === undefined ? undefined : namespaceKey(this.principalValue);
    }
    return this.keyValue;
  }

  /** Namespace of the peer identity (`…/ns/<ns>/sa/…`), or undefined. */
  sourceNamespace(): string | undefined {
    if (!this.identityParsed) this.parseIdentity();
    return this.namespaceValue;
  }

  /** Service account of the peer identity, or undefined. */
  sourceServiceAccount(): string | undefined {
    if (!this.identityParsed) this.parseIdentity();
    if (this.serviceAccountValue === undefined && this.accountStart >= 0) {
      this.serviceAccountValue = this.principalValue!.slice(this.accountStart);
    }
    return this.serviceAccountValue;
  }

  /** Original client IP: `http.remoteIp`, else the source IP. */
  remoteIp(): IpAddress {
    if (this.remoteIpValue === null) {
      const remote = this.request.http?.remoteIp;
      this.remoteIpValue = remote === undefined ? undefined : toIp(remote, 'http.remoteIp');
    }
    return this.remoteIpValue ?? this.sourceIp;
  }

  private parseIdentity(): void {
    this.identityParsed = true;
    const principal = this.principalValue;
    if (principal === undefined) return;
    // SPIFFE ID path: <trust domain>/ns/<namespace>/sa/<service account>, exactly five parts.
    const ns = principal.indexOf('/ns/');
    if (ns < 0 || (ns > 0 && principal.lastIndexOf('/', ns - 1) >= 0)) return;
    const sa = principal.indexOf('/sa/', ns + 4);
    if (sa < 0) return;
    // Namespace and service account non-empty and without '/', checked without slicing.
    if (sa === ns + 4 || principal.indexOf('/', ns + 4) !== sa) return;
    if (sa + 4 === principal.length || principal.indexOf('/', sa + 4) >= 0) return;
    // The index key is the same segment (first '/ns/' up to the next '/'): slice it once.
    const key = this.keyValue;
    const namespace = typeof key === 'string' ? key : principal.slice(ns + 4, sa);
    this.namespaceValue = namespace;
    this.keyValue = namespace;
    this.accountStart = sa + 4;
  }
}

function toIp(value: string | IpAddress, field: string): IpAddress {
  if (typeof value !== 'string') return value;
  const ip = tryParseIpAddress(value);
  if (ip === undefined) {
    throw new AuthzError(
      'AUTHZ_ERR_INVALID_REQUEST',
      `${field} ${JSON.stringify(value)} is not an IP address`,
    );
  }
  return ip;
}
