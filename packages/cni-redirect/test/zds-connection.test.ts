import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAmeshError } from '@amesh/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeZdsHello,
  frameZdsMessage,
  type ZdsRequest,
  ZdsFrameDecoder,
  decodeZdsRequest,
  encodeZdsAck,
} from '../src/index.js';
import { ZdsServer, type ZdsSession, ZtunnelAgentConnection } from '../src/node/index.js';

const STREAM = { transport: 'stream' } as const;

/** A session handed over by the server, as a promise. */
function nextSession(): { onConnected: (s: ZdsSession) => void; session: Promise<ZdsSession> } {
  let onConnected!: (s: ZdsSession) => void;
  const session = new Promise<ZdsSession>((resolve) => {
    onConnected = resolve;
  });
  return { onConnected, session };
}

describe('agent ↔ ztunnel over a unix stream socket (zds messages, length-prefixed)', () => {
  let dir: string;
  let socketPath: string;
  const closers: (() => unknown)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'amesh-zds-'));
    socketPath = join(dir, 'ztunnel.sock');
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers each request to ztunnel’s handler in order and resolves on its ack', async () => {
    const { onConnected, session } = nextSession();
    const server = await ZdsServer.listen({
      socketPath,
      transport: 'stream',
      onZtunnelConnected: onConnected,
    });
    closers.push(() => server.close());
    const seen: ZdsRequest[] = [];
    const ztunnel = await ZtunnelAgentConnection.connect(
      socketPath,
      async (request) => {
        await new Promise((r) => setImmediate(r));
        seen.push(request);
      },
      STREAM,
    );
    closers.push(() => ztunnel.close());
    const s = await session;
    await Promise.all([
      s.send({ type: 'add', uid: 'u1', netnsPath: '/proc/1/ns/net' }),
      s.send({ type: 'keep', uid: 'u2' }),
      s.send({ type: 'del', uid: 'u0' }),
      s.send({ type: 'snapshot-sent' }),
    ]);
    expect(seen).toEqual([
      { type: 'add', uid: 'u1', netnsPath: '/proc/1/ns/net' },
      { type: 'keep', uid: 'u2' },
      { type: 'del', uid: 'u0' },
      { type: 'snapshot-sent' },
    ]);
    expect(server.session).toBe(s);
  });

  it('rejects with CNI_ERR_CAPTURE_FAILED carrying ztunnel’s error when the handler throws', async () => {
    const { onConnected, session } = nextSession();
    const server = await ZdsServer.listen({
      socketPath,
      transport: 'stream',
      onZtunnelConnected: onConnected,
    });
    closers.push(() => server.close());
    const ztunnel = await ZtunnelAgentConnection.connect(
      socketPath,
      (request) => {
        if (request.type === 'add') throw new Error('netns vanished');
      },
      STREAM,
    );
    closers.push(() => ztunnel.close());
    const s = await session;
    const error = await s.send({ type: 'add', uid: 'u1', netnsPath: '/x' }).catch((e: unknown) => e);
    expect(isAmeshError(error, 'CNI_ERR_CAPTURE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/netns vanished/);
    await expect(s.send({ type: 'del', uid: 'u1' })).resolves.toBeUndefined();
  });

  it('times out a missing ack with CNI_ERR_TIMEOUT and closes the session (acks can no longer be matched)', async () => {
    const { onConnected, session } = nextSession();
    const server = await ZdsServer.listen({
      socketPath,
      transport: 'stream',
      ackTimeoutMs: 200,
      onZtunnelConnected: onConnected,
    });
    closers.push(() => server.close());
    const ztunnel = await ZtunnelAgentConnection.connect(socketPath, () => new Promise(() => {}), STREAM);
    closers.push(() => ztunnel.close());
    const s = await session;
    const error = await s.send({ type: 'snapshot-sent' }).catch((e: unknown) => e);
    expect(isAmeshError(error, 'CNI_ERR_TIMEOUT')).toBe(true);
    await s.closed;
    expect(s.open).toBe(false);
    expect(server.session).toBeUndefined();
    const after = await s.send({ type: 'snapshot-sent' }).catch((e: unknown) => e);
    expect(isAmeshError(after, 'CNI_ERR_CONNECTION_CLOSED')).toBe(true);
    expect(await ztunnel.closed).toBeUndefined();
  });

  it('ignores a peer that does not say hello, and a new ztunnel replaces the old one', async () => {
    const sessions: ZdsSession[] = [];
    const server = await ZdsServer.listen({
      socketPath,
      transport: 'stream',
      helloTimeoutMs: 10_000,
      onZtunnelConnected: (s) => void sessions.push(s),
    });
    closers.push(() => server.close());
    // A raw client that sends garbage instead of a hello is dropped.
    const raw = net.connect(socketPath);
    await new Promise<void>((resolve) => raw.on('connect', () => resolve()));
    raw.write(frameZdsMessage(Uint8Array.of(0x08, 0x07)));
    await new Promise<void>((resolve) => raw.on('close', () => resolve()));
    expect(sessions).toHaveLength(0);

    const first = await ZtunnelAgentConnection.connect(socketPath, () => {}, STREAM);
    closers.push(() => first.close());
    const second = await ZtunnelAgentConnection.connect(socketPath, () => {}, STREAM);
    closers.push(() => second.close());
    await first.closed;
    await new Promise<void>((resolve) => {
      const check = (): void => (sessions.length === 2 ? resolve() : void setTimeout(check, 10));
      check();
    });
    expect(sessions[0]!.open).toBe(false);
    expect(server.session).toBe(sessions[1]);
  });

  it('ztunnel side: acks each request and closes on a malformed frame', async () => {
    // A hand-written agent: accepts the hello, sends del, reads the ack, then sends garbage.
    const acks: Uint8Array[] = [];
    const done = new Promise<void>((resolve) => {
      const server = net.createServer((socket) => {
        const decoder = new ZdsFrameDecoder();
        let hello = false;
        socket.on('data', (chunk) => {
          for (const body of decoder.push(chunk)) {
            if (!hello) {
              expect(Buffer.from(body)).toEqual(Buffer.from(encodeZdsHello()));
              hello = true;
              socket.write(frameZdsMessage(Uint8Array.from([0x12, 0x04, 0x12, 0x02, 0x75, 0x31])));
            } else {
              acks.push(body);
              socket.write(frameZdsMessage(Uint8Array.of(0xff)));
            }
          }
        });
        socket.on('close', () => resolve());
      });
      server.listen(socketPath);
      closers.push(() => new Promise<void>((r) => server.close(() => r())));
    });
    const handled: ZdsRequest[] = [];
    const ztunnel = await ZtunnelAgentConnection.connect(socketPath, (r) => void handled.push(r), STREAM);
    const ended = await ztunnel.closed;
    await done;
    expect(handled).toEqual([{ type: 'del', uid: 'u1' }]);
    expect(acks.map((a) => Buffer.from(a).toString('hex'))).toEqual([
      Buffer.from(encodeZdsAck()).toString('hex'),
    ]);
    expect(isAmeshError(ended, 'CNI_ERR_PROTOCOL')).toBe(true);
    expect(decodeZdsRequest(Uint8Array.from([0x12, 0x04, 0x12, 0x02, 0x75, 0x31]))).toEqual({
      type: 'del',
      uid: 'u1',
    });
  });

  it('reports CNI_ERR_AGENT_UNREACHABLE when no agent listens', async () => {
    const error = await ZtunnelAgentConnection.connect(join(dir, 'nobody.sock'), () => {}, STREAM).catch(
      (e: unknown) => e,
    );
    expect(isAmeshError(error, 'CNI_ERR_AGENT_UNREACHABLE')).toBe(true);
  });
});
