import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { HboneError } from '../errors.js';
import { parseAuthority } from '../hbone/authority.js';
import type { HbonePoolKey } from './hbone-pool.js';

/** Options of {@link tlsDialer}. */
export interface TlsDialerOptions {
  /** Our certificate chain and key for the key's source identity (PEM). */
  readonly credentials: (sourceIdentity: string) => { cert: string | Buffer; key: string | Buffer };
  /** Trust anchors (PEM). */
  readonly ca: string | Buffer | Array<string | Buffer>;
  /** Milliseconds before the dial fails; default 10 s. */
  readonly timeoutMs?: number;
}

/** The URI SANs of a peer certificate's subjectaltname string. */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/**
 * A default `connect` for {@link HbonePool} over `node:tls`: TLS 1.3 only,
 * ALPN h2, no SNI, our certificate for the source identity, and the server's
 * URI SAN checked against the key's destination identities (not a DNS name).
 * @throws {HboneError} HBONE_ERR_INADEQUATE_SECURITY when ALPN or the peer identity do not match
 */
export function tlsDialer(options: TlsDialerOptions): (key: HbonePoolKey) => Promise<Duplex> {
  return (key) =>
    new Promise((resolve, reject) => {
      const { host, port } = parseAuthority(key.nextHop);
      const { cert, key: privateKey } = options.credentials(key.sourceIdentity);
      const socket = tls.connect({
        host,
        port,
        ...(key.sourceIp ? { localAddress: key.sourceIp } : {}),
        cert,
        key: privateKey,
        ca: options.ca,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['h2'],
        // Istio HBONE: the client sends no SNI; identity is checked by URI SAN below.
        servername: '',
        checkServerIdentity: (_host, peer) => {
          const sans = uriSans(peer.subjectaltname);
          if (!sans.some((s) => key.destinationIdentities.includes(s))) {
            return new HboneError(
              'HBONE_ERR_INADEQUATE_SECURITY',
              `server identity ${sans.join(',') || '(none)'} is not one of ${key.destinationIdentities.join(',')}`,
            );
          }
          return undefined;
        },
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new HboneError('HBONE_ERR_CONNECTION_CLOSED', `TLS dial to ${key.nextHop} timed out`));
      }, options.timeoutMs ?? 10_000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          reject(new HboneError('HBONE_ERR_INADEQUATE_SECURITY', 'server did not select ALPN h2'));
          return;
        }
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
}
