import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HboneClientConnection, type HboneTunnel, uriSans } from '../src/node/index.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { CLIENT_ID, eventually, SERVER_ID, startHboneTls } from './helpers/hbone-tls.js';
import { readAll } from './helpers/net.js';

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

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

describe('backpressure end to end', () => {
  let stalled: HboneTunnel[] = [];
  afterAll(() => {
    for (const t of stalled) t.destroy();
  });

  it('a reader that never reads stops the writer: bounded buffers, and other tunnels keep flowing', async () => {
    const serverSide: HboneTunnel[] = [];
    const s = await startHboneTls(
      pki,
      (t) => {
        const tunnel = t.accept();
        if (t.request.rawAuthority.startsWith('10.0.0.1')) {
          tunnel.pause(); // the slow reader: never consumes
          serverSide.push(tunnel);
        } else {
          tunnel.pipe(tunnel); // echo
        }
      },
      { checkAuthorityIp: false },
    );
    const client = new HboneClientConnection(await connect(s.port));
    try {
      const slow = await client.open({ authority: '10.0.0.1:80' });
      stalled = [slow];
      const chunk = randomBytes(64 * 1024);
      let written = 0;
      // Write until the tunnel says stop, then wait for a drain that must not come.
      while (slow.write(chunk)) written += chunk.length;
      written += chunk.length;
      let drained = 0;
      slow.on('drain', () => {
        drained++;
        while (slow.write(chunk)) written += chunk.length;
        written += chunk.length;
      });
      await eventually(() => serverSide.length === 1 && serverSide[0]!.readableLength > 0);
      // Let the windows fill completely, then check nothing grows further.
      const fill = async (): Promise<number> => {
        let last = -1;
        while (written !== last) {
          last = written;
          await new Promise((r) => setTimeout(r, 50));
        }
        return written;
      };
      const total = await fill();
      // Bounded: the stream window (4 MiB) + per-stream queue + Node stream buffers, far from unbounded.
      expect(total).toBeLessThan(8 * 1024 * 1024);
      expect(serverSide[0]!.readableLength).toBeLessThanOrEqual(4 * 1024 * 1024 + 64 * 1024);
      expect(drained).toBeGreaterThan(0);

      // Another tunnel on the same connection still moves 2 MiB both ways.
      const other = await client.open({ authority: '10.0.0.2:80' });
      const payload = randomBytes(2 * 1024 * 1024);
      const answer = readAll(other);
      other.end(payload);
      expect((await answer).equals(payload)).toBe(true);

      // The slow reader wakes up: everything written arrives, in order.
      const received = readAll(serverSide[0]!);
      serverSide[0]!.resume();
      await eventually(() => serverSide[0]!.readableLength === 0);
      slow.removeAllListeners('drain');
      slow.end();
      expect((await received).length).toBe(written);
    } finally {
      client.destroy();
      await s.close();
    }
  });
});
