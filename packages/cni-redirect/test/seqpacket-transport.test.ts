import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAmeshError } from '@amesh/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAddonAvailable } from '../src/node/index.js';
import { type SeqpacketMessage, SeqpacketServer, SeqpacketSocket } from '../src/node/seqpacket.js';

const skipReason =
  process.platform !== 'linux' ? 'needs Linux' : isAddonAvailable() ? undefined : 'needs the native addon';

/** A connected pair: the client socket and the server's accepted one. */
async function pair(path: string, maxMessageSize = 65536) {
  let accepted!: (s: SeqpacketSocket) => void;
  const serverSide = new Promise<SeqpacketSocket>((resolve) => (accepted = resolve));
  const server = await SeqpacketServer.listen(path, (fd) =>
    accepted(new SeqpacketSocket(fd, maxMessageSize)),
  );
  const client = SeqpacketSocket.connect(path, maxMessageSize);
  return { server, client, peer: await serverSide };
}

function collect(socket: SeqpacketSocket, count: number): Promise<SeqpacketMessage[]> {
  const got: SeqpacketMessage[] = [];
  return new Promise((resolve) => {
    socket.onMessage = (m) => {
      got.push({ data: m.data.slice(), fds: m.fds });
      if (got.length === count) resolve(got);
    };
  });
}

describe.skipIf(skipReason !== undefined)(
  `AF_UNIX SOCK_SEQPACKET on Node's event loop (native addon)${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let dir: string;
    const closers: (() => unknown)[] = [];
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'amesh-seqpacket-'));
    });
    afterEach(async () => {
      for (const c of closers.splice(0).reverse()) await c();
      rmSync(dir, { recursive: true, force: true });
    });

    it('keeps message boundaries: each send arrives as one message, in order', async () => {
      const { server, client, peer } = await pair(join(dir, 's.sock'));
      closers.push(
        () => server.close(),
        () => client.close(),
        () => peer.close(),
      );
      const messages = [Uint8Array.of(1), new Uint8Array(3000).fill(7), Uint8Array.of(0x1a, 0x00)];
      const received = collect(peer, 3);
      for (const m of messages) client.send(m);
      expect((await received).map((m) => [...m.data])).toEqual(messages.map((m) => [...m]));
    });

    it('queues on a full socket buffer (EAGAIN) and delivers everything once the peer reads', async () => {
      const { server, client, peer } = await pair(join(dir, 's.sock'));
      closers.push(
        () => server.close(),
        () => client.close(),
        () => peer.close(),
      );
      // Far more than a unix socket buffers: the sender must wait for writability, not drop or block.
      const count = 3000;
      const received = collect(peer, count);
      for (let i = 0; i < count; i++) {
        const m = new Uint8Array(4096);
        new DataView(m.buffer).setUint32(0, i);
        client.send(m);
      }
      const got = await received;
      expect(got.map((m) => new DataView(m.data.buffer, m.data.byteOffset).getUint32(0))).toEqual(
        Array.from({ length: count }, (_, i) => i),
      );
    });

    it('passes an fd with SCM_RIGHTS: the receiver gets its own descriptor of the same file', async () => {
      const { server, client, peer } = await pair(join(dir, 's.sock'));
      closers.push(
        () => server.close(),
        () => client.close(),
        () => peer.close(),
      );
      const file = join(dir, 'passed');
      writeFileSync(file, 'x');
      const received = collect(peer, 1);
      client.send(Uint8Array.of(0x0a, 0x00), openSync(file, 'r'));
      const [message] = await received;
      expect(message!.fds).toHaveLength(1);
      expect(statSync(`/proc/self/fd/${message!.fds[0]}`).ino).toBe(statSync(file).ino);
      closeSync(message!.fds[0]!);
    });

    it('a message over the limit closes the connection with CNI_ERR_PROTOCOL; a peer close is a clean end', async () => {
      const { server, client, peer } = await pair(join(dir, 's.sock'), 1024);
      closers.push(
        () => server.close(),
        () => client.close(),
        () => peer.close(),
      );
      const ended = new Promise<Error | undefined>((resolve) => (peer.onClose = resolve));
      peer.onMessage = () => {};
      client.send(new Uint8Array(1025));
      const error = await ended;
      expect(isAmeshError(error, 'CNI_ERR_PROTOCOL')).toBe(true);
      expect(peer.closed).toBe(true);
      const clientEnd = await new Promise<Error | undefined>((resolve) => (client.onClose = resolve));
      expect(clientEnd).toBeUndefined();
      expect(() => client.send(Uint8Array.of(1))).toThrow(/closed/);
    });

    it('connecting where nothing listens is CNI_ERR_AGENT_UNREACHABLE', () => {
      let error: unknown;
      try {
        SeqpacketSocket.connect(join(dir, 'nobody.sock'), 1024);
      } catch (e) {
        error = e;
      }
      expect(isAmeshError(error, 'CNI_ERR_AGENT_UNREACHABLE')).toBe(true);
    });
  },
);
