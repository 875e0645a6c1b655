import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/** A listening server on 127.0.0.1 with its port. */
export interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on an ephemeral loopback port; destroys open sockets on close. */
export async function listen(server: net.Server): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The sink end of a bulk transfer: reads until the peer ends, then answers
 * `<bytes> <crc32>` so the sender can check every byte arrived intact.
 */
export function handleSink(socket: net.Socket): void {
  let bytes = 0;
  let crc = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    crc = crc32(chunk, crc);
  });
  socket.on('end', () => socket.end(`${bytes} ${crc.toString(16)}`));
  socket.on('error', () => socket.destroy());
}

/** A 64 KiB payload chunk with a non-trivial pattern. */
export function payloadChunk(): Buffer {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  return chunk;
}

/**
 * Writes `total` bytes on an already-connected socket with backpressure,
 * ends it, and resolves with the sink's `<bytes> <crc32>` answer.
 */
export function sendAll(socket: net.Socket, chunk: Buffer, total: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      answer += d;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
}

/** A throwaway self-signed P-256 certificate made by OpenSSL, for benchmarks only. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-bench-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=amesh-bench',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
