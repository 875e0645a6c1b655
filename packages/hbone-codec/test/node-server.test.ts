import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HboneClientConnection,
  HboneConnectRefusedError,
  type IncomingTunnel,
  uriSans,
} from '../src/node/index.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { CLIENT_ID, SERVER_ID, startHboneTls } from './helpers/hbone-tls.js';
import { echoServer, readAll, splice } from './helpers/net.js';

let pki: TestPki;
let echo: { port: number; close(): Promise<void> };
beforeAll(async () => {
  pki = makePki();
  echo = await echoServer();
});
afterAll(() => echo.close());

function connect(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...pki.leaf(CLIENT_ID),
      ca: pki.ca,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
      checkServerIdentity: (_h, c) =>
        uriSans(c.subjectaltname).includes(SERVER_ID) ? undefined : new Error('id'),
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('HboneServer handler contract', () => {
  it('passes the connection metadata and the parsed forwarded, baggage and traceparent; sends baggage with the 200', async () => {
    const seen: IncomingTunnel[] = [];
    const s = await startHboneTls(
      pki,
      (t) => {
        seen.push(t);
        const upstream = net.connect(echo.port, '127.0.0.1');
        upstream.once('connect', () => splice(t.accept({ baggage: 'k8s.namespace.name=bar' }), upstream));
      },
      {},
    );
    const client = new HboneClientConnection(await connect(s.port));
    try {
      const tunnel = await client.open({
        authority: `127.0.0.1:${echo.port}`,
        forwarded: 'for="10.0.0.1:4000";host=b.ns.svc.cluster.local',
        baggage: 'k8s.namespace.name=foo,service.name=a',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
      });
      expect(tunnel.headers).toEqual([
        [':status', '200'],
        ['baggage', 'k8s.namespace.name=bar'],
      ]);
      const answer = readAll(tunnel);
      tunnel.end('ping');
      expect((await answer).toString()).toBe('ping');
      const t = seen[0]!;
      expect(t.metadata.peerIdentity).toBe(CLIENT_ID);
      expect(t.request.forwarded).toEqual([{ for: '10.0.0.1:4000', host: 'b.ns.svc.cluster.local' }]);
      expect(t.request.baggage?.get('service.name')).toBe('a');
      expect(t.request.traceparent?.parentId).toBe('00f067aa0ba902b7');
    } finally {
      client.destroy();
      await s.close();
    }
  });

  it('answers 401 on reject(401), 503 when the handler throws, and keeps serving other tunnels', async () => {
    const s = await startHboneTls(pki, (t) => {
      if (t.request.authority.port === 1) t.reject(401);
      else if (t.request.authority.port === 2) throw new Error('handler bug');
      else {
        const upstream = net.connect(echo.port, '127.0.0.1');
        upstream.once('connect', () => splice(t.accept(), upstream));
      }
    });
    const client = new HboneClientConnection(await connect(s.port));
    try {
      const status = (authority: string) =>
        client.open({ authority }).then(
          (t) => {
            t.destroy();
            return 200;
          },
          (e: unknown) => (e instanceof HboneConnectRefusedError ? e.status : -1),
        );
      expect(await status('127.0.0.1:1')).toBe(401);
      expect(await status('127.0.0.1:2')).toBe(503);
      expect(await status(`127.0.0.1:${echo.port}`)).toBe(200);
      expect(client.closed).toBe(false);
    } finally {
      client.destroy();
      await s.close();
    }
  });

  it('uses identify(socket) when handle() gets no metadata', async () => {
    const identities: Array<string | undefined> = [];
    const { HboneServer } = await import('../src/node/index.js');
    const hbone = new HboneServer({
      identify: (socket) => ({
        peerIdentity: uriSans((socket as tls.TLSSocket).getPeerCertificate().subjectaltname)[0] ?? '',
      }),
      handler: (t) => {
        identities.push(t.metadata.peerIdentity);
        t.reject(401);
      },
    });
    const server = tls.createServer(
      { ...pki.leaf(SERVER_ID), ca: pki.ca, requestCert: true, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] },
      (socket) => hbone.handle(socket),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = new HboneClientConnection(await connect((server.address() as net.AddressInfo).port));
    try {
      await expect(client.open({ authority: '127.0.0.1:9' })).rejects.toBeInstanceOf(
        HboneConnectRefusedError,
      );
      expect(identities).toEqual([CLIENT_ID]);
    } finally {
      client.destroy();
      hbone.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
