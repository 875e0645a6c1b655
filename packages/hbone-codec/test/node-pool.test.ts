import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HboneClientConnection,
  HboneConnectRefusedError,
  HbonePool,
  type HbonePoolKey,
  tlsDialer,
} from '../src/node/index.js';
import { FrameDecoder, Http2ErrorCode } from '../src/index.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { CLIENT_ID, eventually, SERVER_ID, startHboneTls } from './helpers/hbone-tls.js';
import { echoServer, listen, readAll } from './helpers/net.js';

let pki: TestPki;
let echo: { port: number; close(): Promise<void> };
beforeAll(async () => {
  pki = makePki();
  echo = await echoServer();
});
afterAll(() => echo.close());

const keyFor = (port: number): HbonePoolKey => ({
  sourceIdentity: CLIENT_ID,
  destinationIdentities: [SERVER_ID],
  nextHop: `127.0.0.1:${port}`,
  sourceIp: '127.0.0.1',
});

function dialer() {
  let calls = 0;
  const dial = tlsDialer({ ca: pki.ca, credentials: (id) => pki.leaf(id) });
  return {
    connect: (key: HbonePoolKey) => {
      calls++;
      return dial(key);
    },
    calls: () => calls,
  };
}

async function roundTrip(pool: HbonePool, key: HbonePoolKey, size = 10_000): Promise<boolean> {
  const tunnel = await pool.open(key, { authority: `127.0.0.1:${echo.port}` });
  const payload = randomBytes(size);
  const answer = readAll(tunnel);
  tunnel.end(payload);
  return (await answer).equals(payload);
}

describe('HbonePool (ztunnel connection pool policy)', () => {
  it('dials one connection for many concurrent tunnels with the same key', async () => {
    const s = await startHboneTls(pki);
    const d = dialer();
    const pool = new HbonePool({ connect: d.connect });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => roundTrip(pool, keyFor(s.port))));
      expect(results.every(Boolean)).toBe(true);
      expect(d.calls()).toBe(1);
      expect(s.sockets()).toBe(1);
    } finally {
      await pool.close();
      await s.close();
    }
  });

  it('opens another connection once one carries maxStreamsPerConnection tunnels', async () => {
    const s = await startHboneTls(pki);
    const d = dialer();
    const pool = new HbonePool({ connect: d.connect, maxStreamsPerConnection: 3 });
    try {
      const tunnels = [];
      for (let i = 0; i < 7; i++)
        tunnels.push(await pool.open(keyFor(s.port), { authority: `127.0.0.1:${echo.port}` }));
      expect(d.calls()).toBe(3);
      expect(pool.connectionCount(keyFor(s.port))).toBe(3);
      for (const t of tunnels) t.destroy();
    } finally {
      await pool.close();
      await s.close();
    }
  });

  it('keeps separate connections for different keys (source identity differs)', async () => {
    const s = await startHboneTls(pki);
    const d = dialer();
    const pool = new HbonePool({ connect: d.connect });
    try {
      expect(await roundTrip(pool, keyFor(s.port))).toBe(true);
      const other = { ...keyFor(s.port), sourceIdentity: 'spiffe://cluster.local/ns/x/sa/y' };
      expect(await roundTrip(pool, other)).toBe(true);
      expect(d.calls()).toBe(2);
    } finally {
      await pool.close();
      await s.close();
    }
  });

  it('closes a connection left idle past idleTimeoutMs', async () => {
    const s = await startHboneTls(pki);
    const pool = new HbonePool({ connect: dialer().connect, idleTimeoutMs: 30 });
    try {
      expect(await roundTrip(pool, keyFor(s.port))).toBe(true);
      await eventually(() => pool.connectionCount(keyFor(s.port)) === 0);
      // The server sees the client's GOAWAY and the transport close.
      await eventually(() => s.hbone.connections === 0);
    } finally {
      await pool.close();
      await s.close();
    }
  });

  it('drains on GOAWAY: the open tunnel completes, new tunnels use a new connection', async () => {
    const s = await startHboneTls(pki);
    const d = dialer();
    const pool = new HbonePool({ connect: d.connect });
    try {
      const tunnel = await pool.open(keyFor(s.port), { authority: `127.0.0.1:${echo.port}` });
      const closing = s.hbone.close();
      await eventually(() => pool.connectionCount(keyFor(s.port)) === 1 && d.calls() === 1);
      const payload = randomBytes(100_000);
      const answer = readAll(tunnel);
      tunnel.end(payload);
      expect((await answer).equals(payload)).toBe(true);
      await closing;
      expect(await roundTrip(pool, keyFor(s.port))).toBe(true);
      expect(d.calls()).toBe(2);
    } finally {
      await pool.close();
      await s.close();
    }
  });

  it('returns a refusal (401) to the caller without retrying', async () => {
    const s = await startHboneTls(pki, (t) => t.reject(401));
    const d = dialer();
    const pool = new HbonePool({ connect: d.connect });
    try {
      const error = await pool
        .open(keyFor(s.port), { authority: `127.0.0.1:${echo.port}` })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HboneConnectRefusedError);
      expect((error as HboneConnectRefusedError).status).toBe(401);
      expect(d.calls()).toBe(1);
    } finally {
      await pool.close();
      await s.close();
    }
  });

  it('refuses a server whose URI SAN is not an expected destination identity', async () => {
    const s = await startHboneTls(pki);
    const pool = new HbonePool({ connect: dialer().connect });
    try {
      const key = { ...keyFor(s.port), destinationIdentities: ['spiffe://cluster.local/ns/x/sa/other'] };
      await expect(pool.open(key, { authority: `127.0.0.1:${echo.port}` })).rejects.toThrow(
        /server identity/,
      );
    } finally {
      await pool.close();
      await s.close();
    }
  });
});

describe('keepalive', () => {
  it('closes with HBONE_ERR_PING_TIMEOUT when PINGs go unanswered', async () => {
    const silent = await listen(net.createServer((s) => s.resume()));
    try {
      const socket = net.connect(silent.port, '127.0.0.1');
      const client = new HboneClientConnection(socket, {
        keepAlive: { intervalMs: 20, timeoutMs: 60 },
        settingsTimeoutMs: 60_000,
      });
      const error = await new Promise<Error | undefined>((resolve) => client.onClose(resolve));
      expect(error).toMatchObject({ code: 'HBONE_ERR_PING_TIMEOUT' });
    } finally {
      await silent.close();
    }
  });

  it('closes with SETTINGS_TIMEOUT when the peer never acknowledges our SETTINGS (RFC 9113 §6.5.3)', async () => {
    const received: Buffer[] = [];
    const silent = await listen(net.createServer((s) => s.on('data', (d: Buffer) => received.push(d))));
    try {
      const socket = net.connect(silent.port, '127.0.0.1');
      const client = new HboneClientConnection(socket, { settingsTimeoutMs: 50 });
      const error = await new Promise<Error | undefined>((resolve) => client.onClose(resolve));
      expect(error).toMatchObject({ code: 'HBONE_ERR_SETTINGS_TIMEOUT' });
      // The GOAWAY(SETTINGS_TIMEOUT) went out before the socket closed.
      const goaway = (): boolean =>
        new FrameDecoder({ expectPreface: true, maxFrameSize: 1 << 24 })
          .push(Buffer.concat(received))
          .some((f) => f.type === 'goaway' && f.errorCode === Http2ErrorCode.SETTINGS_TIMEOUT);
      await eventually(goaway);
    } finally {
      await silent.close();
    }
  });
});
