import { namespaceKey } from './namespace-key.js';
import { AuthzError } from './errors.js';
import { type IpAddress, tryParseIpAddress } from './ip-address.js';
import type { AuthzRequest } from './request.js';

/**
 * Per-evaluation view of a request: addresses parsed once, the peer identity
 * split lazily, so a policy that never looks at an attribute costs nothing.
 */
export class EvalContext {
  readonly request: AuthzRequest;
  readonly sourceIp: IpAddress;
  readonly destinationIp: IpAddress;
  readonly port: number;
  private identityParsed = false;
  private namespaceValue: string | undefined;
  private serviceAccountValue: string | undefined;
  private principalValue: string | undefined;
  private remoteIpValue: IpAddress | undefined | null = null;
  private keyValue: string | undefined | null = null;

  constructor(request: AuthzRequest) {
    this.request = request;
    this.sourceIp = toIp(request.sourceIp, 'sourceIp');
    this.destinationIp = toIp(request.destinationIp, 'destinationIp');
    const port = request.destinationPort;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new AuthzError('AUTHZ_ERR_INVALID_REQUEST', `destinationPort ${port} is not a port number`);
    }
    this.port = port;
    const principal = request.sourcePrincipal;
    this.principalValue =
      principal === undefined || principal === ''
        ? undefined
        : principal.startsWith('spiffe://')
          ? principal.slice(9)
          : principal;
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
    const namespace = principal.slice(ns + 4, sa);
    const account = principal.slice(sa + 4);
    if (namespace === '' || account === '' || namespace.includes('/') || account.includes('/')) return;
    this.namespaceValue = namespace;
    this.serviceAccountValue = account;
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
