import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HboneClientConnection, type HboneTunnel, uriSans } from '../src/node/index.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { CLIENT_ID, SERVER_ID, startHboneTls } from './helpers/hbone-tls.js';
import { echoServer, readAll } from './helpers/net.js';

let pki: TestPki;
let echo: { port: number; close(): Promise<void> };
beforeAll(async () => {
  pki = makePki();
  echo = await echoServer();
});
afterAll(() => echo.close());

function secure(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      ...pki.leaf(CLIENT_ID),
      ca: pki.ca,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      checkServerIdentity: (_h, c) =>
        uriSans(c.subjectaltname).includes(SERVER_ID) ? undefined : new Error('identity'),
      ...options,
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('double HBONE (cross-network): a TLS session and CONNECT inside a CONNECT tunnel', () => {
  it('carries bytes through an outer tunnel to a gateway and an inner tunnel to the workload', async () => {
    // The workload's HBONE server (inner) and the east-west gateway's (outer), both on loopback.
    const inner = await startHboneTls(pki);
    const outer = await startHboneTls(pki, undefined, { checkAuthorityIp: false });
    try {
      const outerClient = new HboneClientConnection(await secure({ host: '127.0.0.1', port: outer.port }));
      // The outer CONNECT names the inner HBONE endpoint (hostname:port in Istio; here loopback).
      const outerTunnel: HboneTunnel = await outerClient.open({ authority: `127.0.0.1:${inner.port}` });
      // A fresh TLS session end to end with the workload, inside the outer stream.
      const innerSocket = await secure({ socket: outerTunnel });
      const innerClient = new HboneClientConnection(innerSocket);
      const tunnel = await innerClient.open({ authority: `127.0.0.1:${echo.port}` });
      const payload = randomBytes(512 * 1024);
      const answer = readAll(tunnel);
      tunnel.end(payload);
      expect((await answer).equals(payload)).toBe(true);
      innerClient.destroy();
      outerClient.destroy();
    } finally {
      await inner.close();
      await outer.close();
    }
  });
});
