import type net from 'node:net';
import tls from 'node:tls';
import { constants } from 'node:crypto';
import type { WorkloadCertificate } from '../certificate-manager.js';
import { parseCertificate } from '../certificate.js';
import { IdentityError } from '../errors.js';
import { type SpiffeId, toSpiffeId } from '../spiffe-id.js';

/** The ALPN protocol of HBONE. */
export const HBONE_ALPN = 'h2';
/** TLS 1.3 suites HBONE allows (protocol-facts: AES-128-GCM and AES-256-GCM). */
export const HBONE_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384';

/** The parts of a certificate TLS needs. */
export type TlsCertificate = Pick<WorkloadCertificate, 'privateKeyPem' | 'chain' | 'roots'>;

const BASE_OPTIONS = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphersuites: HBONE_CIPHERSUITES,
  // No session resumption (protocol-facts: HBONE).
  secureOptions: constants.SSL_OP_NO_TICKET,
} as const;

/**
 * `tls.SecureContextOptions` for a workload certificate: TLS 1.3 only,
 * AES-GCM suites, no tickets; the chain without its root; the roots as `ca`.
 */
export function hboneSecureContextOptions(certificate: TlsCertificate): tls.SecureContextOptions {
  const chain = certificate.chain.length > 1 ? certificate.chain.slice(0, -1) : certificate.chain;
  return {
    ...BASE_OPTIONS,
    key: certificate.privateKeyPem,
    cert: chain.join(''),
    ca: [...certificate.roots],
  };
}

const contexts = new WeakMap<object, tls.SecureContext>();

/**
 * The `tls.SecureContext` of a certificate, built once per certificate
 * object. After a rotation the manager hands out a new object, so new
 * connections use the new certificate while open ones keep theirs.
 */
export function secureContextFor(certificate: TlsCertificate): tls.SecureContext {
  let context = contexts.get(certificate);
  if (!context) {
    context = tls.createSecureContext(hboneSecureContextOptions(certificate));
    contexts.set(certificate, context);
  }
  return context;
}

function peerFail(message: string, rule: string): IdentityError<'IDENTITY_ERR_PEER_IDENTITY'> {
  return new IdentityError('IDENTITY_ERR_PEER_IDENTITY', message, { rule });
}

function identityOfDer(der: Uint8Array | undefined, who: string): SpiffeId {
  if (!der || der.length === 0) throw peerFail(`${who} presented no certificate`, 'no-certificate');
  const info = parseCertificate(der);
  if (!info.identity || info.uris.length !== 1) {
    throw peerFail(`${who} certificate has no single SPIFFE ID URI SAN`, 'no-spiffe-id');
  }
  return info.identity;
}

/**
 * The SPIFFE ID of the peer of an established TLS socket (from its verified
 * certificate's URI SAN).
 * @throws {IdentityError} `IDENTITY_ERR_PEER_IDENTITY` when the peer has no verified SVID
 */
export function peerIdentity(socket: tls.TLSSocket): SpiffeId {
  if (!socket.authorized) {
    throw peerFail(
      `peer certificate is not verified: ${String(socket.authorizationError ?? 'no certificate')}`,
      'unverified',
    );
  }
  const raw = (socket.getPeerCertificate() as Partial<tls.PeerCertificate> | null)?.raw;
  return identityOfDer(raw ? new Uint8Array(raw) : undefined, 'peer');
}

/**
 * A `checkServerIdentity` for `tls.connect` that accepts a server only when
 * its URI SAN is one of `expected` (never a DNS name check).
 */
export function spiffeServerIdentityCheck(
  expected: readonly (SpiffeId | string)[],
): (host: string, certificate: tls.PeerCertificate) => Error | undefined {
  const allowed = new Set(expected.map((id) => toSpiffeId(id).uri));
  return (_host, certificate) => {
    try {
      const identity = identityOfDer(certificate.raw ? new Uint8Array(certificate.raw) : undefined, 'server');
      if (!allowed.has(identity.uri)) {
        return peerFail(
          `server identity ${identity.uri} is not one of ${[...allowed].join(', ')}`,
          'unexpected-identity',
        );
      }
      return undefined;
    } catch (error) {
      return error instanceof Error ? error : peerFail('server certificate check failed', 'no-spiffe-id');
    }
  };
}

/**
 * `tls.connect` options for an HBONE client: TLS 1.3, ALPN `h2`, no SNI,
 * the workload certificate as client certificate, and a server check that
 * its SPIFFE ID is one of `expectedIdentities`.
 */
export function hboneClientOptions(
  certificate: TlsCertificate,
  expectedIdentities: readonly (SpiffeId | string)[],
): tls.ConnectionOptions {
  if (expectedIdentities.length === 0) throw new RangeError('expectedIdentities must not be empty');
  return {
    ...BASE_OPTIONS,
    secureContext: secureContextFor(certificate),
    ALPNProtocols: [HBONE_ALPN],
    rejectUnauthorized: true,
    checkServerIdentity: spiffeServerIdentityCheck(expectedIdentities),
  };
}

/** Options of {@link connectHboneTls}. */
export interface ConnectHboneTlsOptions {
  readonly certificate: TlsCertificate;
  readonly expectedIdentities: readonly (SpiffeId | string)[];
  /** An already connected socket, or `host`/`port` to dial. */
  readonly socket?: net.Socket;
  readonly host?: string;
  readonly port?: number;
}

/**
 * Opens (or upgrades `socket` to) an HBONE mTLS connection. Resolves once
 * the handshake finished and the server's identity and ALPN were checked.
 * @throws {IdentityError} `IDENTITY_ERR_PEER_IDENTITY` for a wrong, unverifiable or missing server identity; other TLS errors as is
 */
export function connectHboneTls(options: ConnectHboneTlsOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const connectOptions: tls.ConnectionOptions = {
      ...hboneClientOptions(options.certificate, options.expectedIdentities),
      ...(options.socket ? { socket: options.socket } : {}),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
    };
    const socket = tls.connect(connectOptions);
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      if (socket.alpnProtocol !== HBONE_ALPN) {
        socket.destroy();
        reject(peerFail(`server did not select ALPN ${HBONE_ALPN}`, 'alpn'));
        return;
      }
      resolve(socket);
    });
  });
}

/** Chooses the server certificate for an accepted connection by its local (destination) address. */
export type CertificateSelector = (
  localAddress: string,
  localPort: number,
) => TlsCertificate | undefined | Promise<TlsCertificate | undefined>;

/** Options of {@link acceptHboneTls}. */
export interface AcceptHboneTlsOptions {
  /** Only clients of this trust domain are accepted (authorization decides later which ones may connect). */
  readonly trustDomain: string;
  readonly selectCertificate: CertificateSelector;
  /** Destroy the socket if the handshake has not finished by then. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** An accepted, verified HBONE TLS connection. */
export interface AcceptedHboneTls {
  readonly socket: tls.TLSSocket;
  /** The client's SPIFFE ID. */
  readonly peer: SpiffeId;
}

interface PendingAccept {
  resolve(socket: tls.TLSSocket): void;
  reject(error: Error): void;
}

/**
 * One TLS server (never listening) per certificate object: accepted TCP
 * sockets are injected with `emit('connection')` (documented for `tls.Server`)
 * so OpenSSL verifies the client chain and Node reports the result.
 */
const servers = new WeakMap<object, { server: tls.Server; pending: Map<string, PendingAccept> }>();

function tupleOf(socket: {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
}): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

function serverFor(certificate: TlsCertificate): { server: tls.Server; pending: Map<string, PendingAccept> } {
  let entry = servers.get(certificate);
  if (!entry) {
    const pending = new Map<string, PendingAccept>();
    const server = tls.createServer({
      ...hboneSecureContextOptions(certificate),
      requestCert: true,
      // Verified below so the reason reaches the caller; unverified clients are destroyed.
      rejectUnauthorized: false,
      ALPNProtocols: [HBONE_ALPN],
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const key = tupleOf(socket);
      const waiter = pending.get(key);
      pending.delete(key);
      if (waiter) waiter.resolve(socket);
      else socket.destroy();
    });
    server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      const key = tupleOf(socket);
      const waiter = pending.get(key);
      pending.delete(key);
      waiter?.reject(error);
    });
    entry = { server, pending };
    servers.set(certificate, entry);
  }
  return entry;
}

/**
 * Terminates HBONE mTLS on an accepted TCP socket: picks the certificate by
 * the socket's local address, requires a client certificate that OpenSSL
 * verifies against the roots (validity, chain), checks the client's trust
 * domain and ALPN `h2`. The socket is destroyed on any failure (fail closed).
 * @throws {IdentityError} `IDENTITY_ERR_PEER_IDENTITY` naming the rule (`unverified` carries OpenSSL's reason); TLS errors as is
 * @example
 * ```ts
 * net.createServer(async (tcp) => {
 *   const { socket, peer } = await acceptHboneTls(tcp, { trustDomain: 'cluster.local', selectCertificate: () => manager.get(id) });
 * });
 * ```
 */
export async function acceptHboneTls(
  socket: net.Socket,
  options: AcceptHboneTlsOptions,
): Promise<AcceptedHboneTls> {
  let certificate: TlsCertificate | undefined;
  try {
    certificate = await options.selectCertificate(socket.localAddress ?? '', socket.localPort ?? 0);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  if (!certificate) {
    socket.destroy();
    throw peerFail(
      `no certificate for local address ${socket.localAddress}:${socket.localPort}`,
      'no-local-certificate',
    );
  }
  if (socket.destroyed) throw peerFail('connection closed before the TLS handshake', 'closed');
  const { server, pending } = serverFor(certificate);
  const key = tupleOf(socket);
  const tlsSocket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('close', onClose);
      pending.delete(key);
    };
    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onClose = (): void => fail(peerFail('connection closed during the TLS handshake', 'closed'));
    const timer = setTimeout(
      () => fail(peerFail('TLS handshake timed out', 'handshake-timeout')),
      options.handshakeTimeoutMs ?? 10_000,
    );
    socket.once('close', onClose);
    pending.set(key, {
      resolve: (secured) => {
        cleanup();
        resolve(secured);
      },
      reject: fail,
    });
    server.emit('connection', socket);
  });
  try {
    if (tlsSocket.alpnProtocol !== HBONE_ALPN)
      throw peerFail(`client did not offer ALPN ${HBONE_ALPN}`, 'alpn');
    const peer = peerIdentity(tlsSocket);
    if (peer.trustDomain !== options.trustDomain) {
      throw peerFail(`client ${peer.uri} is not in trust domain ${options.trustDomain}`, 'trust-domain');
    }
    return { socket: tlsSocket, peer };
  } catch (error) {
    tlsSocket.destroy();
    throw error;
  }
}
