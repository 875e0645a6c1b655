import net from 'node:net';
import type tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildCsr,
  CertificateAuthority,
  createTestCa,
  exportPrivateKeyPem,
  generateKey,
  IdentityError,
  parseCertificate,
  type SpiffeId,
} from '../src/index.js';
import {
  type AcceptedHboneTls,
  acceptHboneTls,
  connectHboneTls,
  peerIdentity,
  type TlsCertificate,
} from '../src/node/index.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

interface Accepted {
  readonly results: Promise<AcceptedHboneTls | Error>[];
  readonly port: number;
  next(): Promise<AcceptedHboneTls | Error>;
}

/** An HBONE-style TLS terminator on loopback that echoes bytes. */
async function listen(
  host: string,
  trustDomain: string,
  select: (address: string) => TlsCertificate | undefined,
): Promise<Accepted> {
  const results: Promise<AcceptedHboneTls | Error>[] = [];
  const waiters: ((value: Promise<AcceptedHboneTls | Error>) => void)[] = [];
  const server = net.createServer((socket) => {
    const result = acceptHboneTls(socket, {
      trustDomain,
      selectCertificate: (address) => select(address),
    }).then(
      (accepted) => {
        accepted.socket.on('error', () => {});
        accepted.socket.pipe(accepted.socket);
        return accepted;
      },
      (error: Error) => error,
    );
    const waiter = waiters.shift();
    if (waiter) waiter(result);
    else results.push(result);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    results,
    port: (server.address() as net.AddressInfo).port,
    next: () => {
      const ready = results.shift();
      return ready ?? new Promise((resolve) => waiters.push((p) => resolve(p)));
    },
  };
}

async function echo(socket: tls.TLSSocket, text: string): Promise<string> {
  socket.write(text);
  return new Promise((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
}

async function connect(
  port: number,
  certificate: TlsCertificate,
  expected: readonly (SpiffeId | string)[],
  host = '127.0.0.1',
): Promise<tls.TLSSocket> {
  const socket = await connectHboneTls({ host, port, certificate, expectedIdentities: expected });
  closers.push(() => socket.destroy());
  return socket;
}

/** Resolves when the peer closed the connection without sending data. */
function closedByPeer(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    socket.resume();
    socket.write('x');
  });
}

describe('HBONE TLS (protocol-facts: TLS 1.3, ALPN h2, client certificate, SPIFFE checks)', () => {
  const td = createTestCa();
  const server = td.issue('default/server');
  const client = td.issue('default/client');

  it('handshakes TLS 1.3 with ALPN h2 and no SNI; both sides see the peer SPIFFE ID', async () => {
    const listener = await listen('127.0.0.1', 'cluster.local', () => server);
    const socket = await connect(listener.port, client, [server.identity]);
    const accepted = await listener.next();
    if (accepted instanceof Error) throw accepted;
    expect(socket.getProtocol()).toBe('TLSv1.3');
    expect(socket.alpnProtocol).toBe('h2');
    expect(accepted.socket.getProtocol()).toBe('TLSv1.3');
    expect((accepted.socket as tls.TLSSocket & { servername?: string | false }).servername).toBeFalsy();
    expect(accepted.peer.uri).toBe(client.identity.uri);
    expect(peerIdentity(socket).uri).toBe(server.identity.uri);
    expect(peerIdentity(accepted.socket).uri).toBe(client.identity.uri);
    expect(await echo(socket, 'ping')).toBe('ping');
  });

  it('upgrades an already connected socket (as HBONE pools do) without sending SNI', async () => {
    const listener = await listen('127.0.0.1', 'cluster.local', () => server);
    const raw = net.connect(listener.port, '127.0.0.1');
    closers.push(() => raw.destroy());
    await new Promise((resolve) => raw.once('connect', resolve));
    const socket = await connectHboneTls({
      socket: raw,
      certificate: client,
      expectedIdentities: [server.identity],
    });
    closers.push(() => socket.destroy());
    const accepted = await listener.next();
    if (accepted instanceof Error) throw accepted;
    expect((accepted.socket as tls.TLSSocket & { servername?: string | false }).servername).toBeFalsy();
    expect(await echo(socket, 'over the upgraded socket')).toBe('over the upgraded socket');
  });

  it('client refuses a server whose identity is not expected', async () => {
    const listener = await listen('127.0.0.1', 'cluster.local', () => server);
    const error = await connect(listener.port, client, [
      'spiffe://cluster.local/ns/default/sa/someone-else',
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityError);
    expect((error as IdentityError).code).toBe('IDENTITY_ERR_PEER_IDENTITY');
    expect((error as IdentityError).rule).toBe('unexpected-identity');
  });

  it('server refuses a client of another trust domain, even one it can verify', async () => {
    const other = createTestCa({ trustDomain: 'other.td' });
    const bundle = [...td.roots, ...other.roots];
    const serverWithBundle = { ...server, roots: bundle };
    const foreign = { ...other.issue('default/client'), roots: bundle };
    const listener = await listen('127.0.0.1', 'cluster.local', () => serverWithBundle);
    const socket = await connect(listener.port, foreign, [server.identity]);
    const accepted = await listener.next();
    expect(accepted).toBeInstanceOf(IdentityError);
    expect((accepted as IdentityError).rule).toBe('trust-domain');
    await closedByPeer(socket);
  });

  it('server refuses a client without a certificate chaining to its roots (unknown root)', async () => {
    const stranger = createTestCa().issue('default/client');
    const listener = await listen('127.0.0.1', 'cluster.local', () => server);
    const socket = await connectHboneTls({
      host: '127.0.0.1',
      port: listener.port,
      certificate: { ...stranger, roots: td.roots },
      expectedIdentities: [server.identity],
    }).catch((e: Error) => e);
    const accepted = await listener.next();
    expect(accepted).toBeInstanceOf(IdentityError);
    expect((accepted as IdentityError).rule).toBe('unverified');
    expect((accepted as IdentityError).message).toMatch(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/,
    );
    if (!(socket instanceof Error)) await closedByPeer(socket);
  });

  it('client refuses a server from an unknown root', async () => {
    const strangerServer = createTestCa().issue('default/server');
    const listener = await listen('127.0.0.1', 'cluster.local', () => ({
      ...strangerServer,
      roots: td.roots,
    }));
    const error = await connect(listener.port, client, [server.identity]).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: string }).code).toMatch(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/,
    );
  });

  describe('validity', () => {
    const root = td.ca;
    const at = (offsetMs: number) =>
      CertificateAuthority.fromKeyAndChain({
        trustDomain: 'cluster.local',
        key: root.signingKey,
        certChain: [root.rootPem],
        now: () => Date.now() + offsetMs,
        backdateSeconds: 0,
      });
    /** A certificate from the same root, issued by a CA whose clock is shifted. */
    const mint = (ca: CertificateAuthority, name: string): TlsCertificate => {
      const key = generateKey();
      const csr = buildCsr({ identity: `spiffe://cluster.local/ns/default/sa/${name}`, key });
      const chain = ca.issue({ csr: csr.pem, ttlSeconds: 3600 }).chain;
      return { privateKeyPem: exportPrivateKeyPem(key), chain, roots: td.roots };
    };

    it('client refuses an expired server certificate; server refuses an expired client certificate', async () => {
      const expired = at(-2 * 3600_000);
      const listener = await listen('127.0.0.1', 'cluster.local', () => mint(expired, 'server'));
      const error = await connect(listener.port, client, [server.identity]).catch((e: Error) => e);
      expect((error as { code?: string }).code).toBe('CERT_HAS_EXPIRED');

      const listener2 = await listen('127.0.0.1', 'cluster.local', () => server);
      const socket = await connectHboneTls({
        host: '127.0.0.1',
        port: listener2.port,
        certificate: mint(expired, 'client'),
        expectedIdentities: [server.identity],
      }).catch((e: Error) => e);
      const accepted = await listener2.next();
      expect(accepted).toBeInstanceOf(IdentityError);
      expect((accepted as IdentityError).message).toMatch(/CERT_HAS_EXPIRED/);
      if (!(socket instanceof Error)) await closedByPeer(socket);
    });

    it('client refuses a server certificate that is not yet valid', async () => {
      const future = at(2 * 3600_000);
      const listener = await listen('127.0.0.1', 'cluster.local', () => mint(future, 'server'));
      const error = await connect(listener.port, client, [server.identity]).catch((e: Error) => e);
      expect((error as { code?: string }).code).toBe('CERT_NOT_YET_VALID');
    });
  });

  it('picks the server certificate by the local (destination) address', async () => {
    const second = td.issue('other/second');
    const select = (address: string) =>
      address === '127.0.0.2' ? second : address === '127.0.0.1' ? server : undefined;
    const one = await listen('127.0.0.1', 'cluster.local', select);
    const two = await listen('127.0.0.2', 'cluster.local', select);
    const a = await connect(one.port, client, [server.identity], '127.0.0.1');
    const b = await connect(two.port, client, [second.identity], '127.0.0.2');
    expect(peerIdentity(a).uri).toBe(server.identity.uri);
    expect(peerIdentity(b).uri).toBe(second.identity.uri);
  });

  it('a rotated certificate serves new connections while open ones keep working', async () => {
    let current: TlsCertificate = server;
    const listener = await listen('127.0.0.1', 'cluster.local', () => current);
    const before = await connect(listener.port, client, [server.identity]);
    const rotated = td.issue('default/server');
    current = rotated;
    const after = await connect(listener.port, client, [server.identity]);
    const serialOf = (s: tls.TLSSocket) =>
      parseCertificate(new Uint8Array(s.getPeerCertificate().raw)).serialNumber;
    expect(serialOf(before)).toBe(server.leaf.serialNumber);
    expect(serialOf(after)).toBe(rotated.leaf.serialNumber);
    expect(await echo(before, 'still open')).toBe('still open');
    expect(await echo(after, 'new')).toBe('new');
  });
});
