import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HboneClientConnection, HboneConnectRefusedError, HboneServer, uriSans } from '../src/node/index.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { echoServer, listen, readAll, splice } from './helpers/net.js';

const SERVER_ID = 'spiffe://cluster.local/ns/x/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/x/sa/client';

let pki: TestPki;
let echo: { port: number; close(): Promise<void> };

beforeAll(async () => {
  pki = makePki();
  echo = await echoServer();
});
afterAll(async () => {
  await echo.close();
});

function tlsClient(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...pki.leaf(CLIENT_ID),
      ca: pki.ca,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      checkServerIdentity: (_h, cert) =>
        uriSans(cert.subjectaltname).includes(SERVER_ID) ? undefined : new Error('bad id'),
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('our HBONE client with a node:http2 CONNECT server (TLS 1.3, ALPN h2)', () => {
  it('tunnels bytes both ways through CONNECT and sees 200 only after the upstream connected', async () => {
    const server = http2.createSecureServer({
      ...pki.leaf(SERVER_ID),
      ca: pki.ca,
      requestCert: true,
      minVersion: 'TLSv1.3',
    });
    const seen: Array<Record<string, unknown>> = [];
    server.on('session', (session) => session.on('error', () => {}));
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      seen.push({ ...headers });
      const [host, port] = String(headers[':authority']).split(':');
      const upstream = net.connect(Number(port), host, () => {
        stream.respond({ ':status': 200 });
        splice(stream as unknown as net.Socket, upstream);
      });
      upstream.on('error', () => stream.respond({ ':status': 503 }, { endStream: true }));
    });
    const listening = await listen(server);
    try {
      const client = new HboneClientConnection(await tlsClient(listening.port));
      const payload = randomBytes(3 * 1024 * 1024 + 17);
      const tunnel = await client.open({
        authority: `127.0.0.1:${echo.port}`,
        forwarded: 'for="10.0.0.1:5555"',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00',
      });
      expect(tunnel.headers).toContainEqual([':status', '200']);
      const answer = readAll(tunnel);
      tunnel.end(payload);
      const got = await answer;
      expect(createHash('sha256').update(got).digest('hex')).toBe(
        createHash('sha256').update(payload).digest('hex'),
      );
      expect(seen[0]?.[':method']).toBe('CONNECT');
      expect(seen[0]?.[':scheme']).toBeUndefined();
      expect(seen[0]?.forwarded).toBe('for="10.0.0.1:5555"');
      await client.close();
    } finally {
      await listening.close();
    }
  });

  it('reports a 503 from the server as HboneConnectRefusedError', async () => {
    const server = http2.createSecureServer({ ...pki.leaf(SERVER_ID), minVersion: 'TLSv1.3' });
    server.on('stream', (stream) => stream.respond({ ':status': 503 }, { endStream: true }));
    const listening = await listen(server);
    try {
      const client = new HboneClientConnection(await tlsClient(listening.port));
      const error = await client.open({ authority: '127.0.0.1:1' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HboneConnectRefusedError);
      expect((error as HboneConnectRefusedError).status).toBe(503);
      client.destroy();
    } finally {
      await listening.close();
    }
  });
});

describe('a node:http2 client with our HBONE server', () => {
  async function startServer(): Promise<{
    port: number;
    close(): Promise<void>;
    hbone: HboneServer;
    identities: string[];
  }> {
    const identities: string[] = [];
    const hbone = new HboneServer({
      handler: (incoming) => {
        identities.push(incoming.metadata.peerIdentity ?? '');
        const { host, port } = incoming.request.authority;
        const upstream = net.connect({ host, port, allowHalfOpen: true });
        upstream.once('connect', () => splice(incoming.accept(), upstream));
        upstream.once('error', () => incoming.reject(503));
      },
    });
    const tlsServer = tls.createServer(
      {
        ...pki.leaf(SERVER_ID),
        ca: pki.ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['h2'],
      },
      (socket) => {
        const peer = socket.getPeerCertificate();
        hbone.handle(socket, {
          ...(uriSans(peer.subjectaltname)[0] ? { peerIdentity: uriSans(peer.subjectaltname)[0]! } : {}),
          localAddress: socket.localAddress ?? '',
          remoteAddress: socket.remoteAddress ?? '',
        });
      },
    );
    const l = await listen(tlsServer);
    return { ...l, hbone, identities };
  }

  function h2client(port: number): http2.ClientHttp2Session {
    const session = http2.connect(`https://127.0.0.1:${port}`, {
      ...pki.leaf(CLIENT_ID),
      ca: pki.ca,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    session.on('error', () => {});
    return session;
  }

  it('accepts a CONNECT, hands the peer identity to the handler, and echoes 1 MiB', async () => {
    const s = await startServer();
    const session = h2client(s.port);
    try {
      const req = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${echo.port}` });
      const status = await new Promise<number>((resolve) =>
        req.once('response', (h) => resolve(Number(h[':status']))),
      );
      expect(status).toBe(200);
      const payload = randomBytes(1024 * 1024);
      const answer = readAll(req as unknown as net.Socket);
      req.end(payload);
      const got = await answer;
      expect(got.length).toBe(payload.length);
      expect(got.equals(payload)).toBe(true);
      expect(s.identities).toEqual([CLIENT_ID]);
    } finally {
      session.close();
      await s.close();
    }
  });

  it('answers 400 to a GET, to an authority IP other than the destination, and 503 when upstream is down', async () => {
    const s = await startServer();
    const session = h2client(s.port);
    const statusOf = (headers: http2.OutgoingHttpHeaders): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = session.request(headers, { endStream: headers[':method'] !== 'CONNECT' });
        req.once('response', (h) => resolve(Number(h[':status'])));
        req.once('error', reject);
        req.resume();
      });
    try {
      expect(await statusOf({ ':method': 'GET', ':path': '/' })).toBe(400);
      expect(await statusOf({ ':method': 'CONNECT', ':authority': `10.9.9.9:${echo.port}` })).toBe(400);
      const closed = await listen(net.createServer());
      await closed.close();
      expect(await statusOf({ ':method': 'CONNECT', ':authority': `127.0.0.1:${closed.port}` })).toBe(503);
    } finally {
      session.close();
      await s.close();
    }
  });

  it('runs many tunnels at once on one connection', async () => {
    const s = await startServer();
    const session = h2client(s.port);
    try {
      const one = async (i: number): Promise<boolean> => {
        const req = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${echo.port}` });
        const payload = randomBytes(20_000 + i);
        const answer = readAll(req as unknown as net.Socket);
        req.end(payload);
        return (await answer).equals(payload);
      };
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => one(i)));
      expect(results.every(Boolean)).toBe(true);
    } finally {
      session.close();
      await s.close();
    }
  });
});
