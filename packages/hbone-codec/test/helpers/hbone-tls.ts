import net from 'node:net';
import tls from 'node:tls';
import { HboneServer, type HboneServerOptions, type IncomingTunnel, uriSans } from '../../src/node/index.js';
import type { TestPki } from './certs.js';
import { listen, splice } from './net.js';

export const SERVER_ID = 'spiffe://cluster.local/ns/x/sa/server';
export const CLIENT_ID = 'spiffe://cluster.local/ns/x/sa/client';

/** Our HBONE server behind a TLS 1.3 listener that requires a client certificate. */
export async function startHboneTls(
  pki: TestPki,
  handler: (t: IncomingTunnel) => void = dialUpstream,
  options: Partial<HboneServerOptions> = {},
): Promise<{ port: number; hbone: HboneServer; sockets: () => number; close(): Promise<void> }> {
  const hbone = new HboneServer({ handler, ...options });
  let sockets = 0;
  const server = tls.createServer(
    {
      ...pki.leaf(SERVER_ID),
      ca: pki.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      sockets++;
      const id = uriSans(socket.getPeerCertificate().subjectaltname)[0];
      hbone.handle(socket, { ...(id ? { peerIdentity: id } : {}), localAddress: socket.localAddress ?? '' });
    },
  );
  const l = await listen(server);
  return {
    port: l.port,
    hbone,
    sockets: () => sockets,
    close: async () => {
      hbone.destroy();
      await l.close();
    },
  };
}

/** Dials the CONNECT authority, answers 200 once connected (503 on failure), then splices. */
export function dialUpstream(t: IncomingTunnel): void {
  const upstream = net.connect({
    host: t.request.authority.host,
    port: t.request.authority.port,
    allowHalfOpen: true,
  });
  upstream.once('connect', () => splice(t.accept(), upstream));
  upstream.once('error', () => t.reject(503));
}

/** Resolves once `check()` is true, polling on the event loop; fails after `ms`. */
export async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}
