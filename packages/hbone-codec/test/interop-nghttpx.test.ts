import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HboneClientConnection, HboneConnectRefusedError } from '../src/node/index.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { SERVER_ID } from './helpers/hbone-tls.js';
import { echoServer, listen } from './helpers/net.js';

const NGHTTPX = '/usr/sbin/nghttpx';
const available = existsSync(NGHTTPX);
if (!available)
  console.warn('skipping nghttpx interop: /usr/sbin/nghttpx not installed (Debian nghttp2-proxy)');

async function freePort(): Promise<number> {
  const l = await listen(net.createServer());
  await l.close();
  return l.port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`nghttpx exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('nghttpx did not start listening');
}

describe.skipIf(!available)('our HBONE client through nghttpx (HTTP/2 proxy mode over TLS)', () => {
  let pki: TestPki;
  let echo: { port: number; close(): Promise<void> };
  let backend: { port: number; close(): Promise<void> };
  let proxy: ChildProcess | undefined;
  let port = 0;
  let dir = '';
  const seen: string[] = [];

  beforeAll(async () => {
    pki = makePki();
    echo = await echoServer();
    // nghttpx's forward proxy hands CONNECT to an HTTP/1.1 proxy backend: a node:http CONNECT proxy.
    const h1 = http.createServer();
    h1.on('connect', (req, socket: net.Socket, head) => {
      seen.push(req.url ?? '');
      const [host, p] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(p), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n'));
      socket.on('error', () => upstream.destroy());
    });
    backend = await listen(h1);
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'amesh-nghttpx-'));
    const leaf = pki.leaf(SERVER_ID);
    writeFileSync(join(dir, 'key.pem'), leaf.key);
    writeFileSync(join(dir, 'cert.pem'), leaf.cert);
    proxy = spawn(
      NGHTTPX,
      [
        '--conf=/dev/null',
        '--no-ocsp',
        '--single-thread',
        '--http2-proxy',
        `--frontend=127.0.0.1,${port}`,
        `--backend=127.0.0.1,${backend.port}`,
        '--accesslog-file=/dev/null',
        '--errorlog-file=/dev/null',
        `--pid-file=${join(dir, 'pid')}`,
        join(dir, 'key.pem'),
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port, proxy);
  });

  afterAll(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((r) => proxy!.once('exit', r));
      proxy.kill('SIGTERM');
      await exited;
    }
    await backend?.close();
    await echo?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const connect = (): Promise<tls.TLSSocket> =>
    new Promise((resolve, reject) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port,
        ca: pki.ca,
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.3',
        checkServerIdentity: () => undefined,
      });
      s.once('secureConnect', () => (s.alpnProtocol === 'h2' ? resolve(s) : reject(new Error('no h2'))));
      s.once('error', reject);
    });

  it('tunnels 2 MiB to an echo server and back, on several streams at once', async () => {
    const client = new HboneClientConnection(await connect());
    try {
      const one = async (): Promise<boolean> => {
        const tunnel = await client.open({ authority: `127.0.0.1:${echo.port}` });
        const payload = randomBytes(2 * 1024 * 1024);
        const hash = createHash('sha256');
        let got = 0;
        const done = new Promise<void>((resolve, reject) => {
          tunnel.on('data', (c: Buffer) => {
            hash.update(c);
            got += c.length;
            if (got >= payload.length) resolve();
          });
          tunnel.on('error', reject);
        });
        tunnel.write(payload);
        await done;
        tunnel.destroy();
        return hash.digest('hex') === createHash('sha256').update(payload).digest('hex');
      };
      expect(await Promise.all([one(), one(), one()])).toEqual([true, true, true]);
      expect(seen).toContain(`127.0.0.1:${echo.port}`);
    } finally {
      client.destroy();
    }
  });

  it('reports the proxy refusing an unreachable target as a non-2xx CONNECT', async () => {
    const client = new HboneClientConnection(await connect());
    try {
      const closed = await freePort();
      const error = await client.open({ authority: `127.0.0.1:${closed}` }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HboneConnectRefusedError);
      expect((error as HboneConnectRefusedError).status).toBeGreaterThanOrEqual(500);
    } finally {
      client.destroy();
    }
  });
});
