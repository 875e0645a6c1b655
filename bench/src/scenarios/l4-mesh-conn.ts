import type net from 'node:net';
import { type Connect, l4Contenders } from '../peers/l4-contenders.js';
import { cpuSeconds } from '../peers/processes.js';
import { responder, SIZE } from '../peers/responder.js';
import type { Scenario } from '../runner.js';

const CONNECTIONS = Number(process.env.AMESH_BENCH_CONNECTIONS ?? 2000);
const CONCURRENCY = Number(process.env.AMESH_BENCH_CONCURRENCY ?? 16);

/** One short connection: connect, 1 KiB request, 1 KiB response, close. */
async function exchange(connect: Connect): Promise<void> {
  const socket: net.Socket = await connect();
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    // The server closes first (it keeps the TIME_WAIT); the client ends when it sees the end.
    socket.on('end', () => socket.end());
    socket.on('close', () =>
      received >= SIZE ? resolve() : reject(new Error(`short answer: ${received} B`)),
    );
    socket.on('error', reject);
    socket.write(Buffer.alloc(SIZE, 0x61));
  });
}

/**
 * L4-conn through two real ztunnels: a new TCP connection per request
 * (1 KiB each way), 16 at a time — direct, HAProxy TLS chain (a TLS
 * handshake per connection), and amesh (one pooled HBONE connection per
 * identity pair, one CONNECT stream per connection; the SOCKS5 handshake to
 * the local ztunnel is part of every amesh connection).
 */
export default function l4MeshConn(): Scenario {
  return {
    name: 'l4-mesh-conn',
    description: `L4-conn: ${CONNECTIONS} connections (1 KiB each way), ${CONCURRENCY} at a time, pod → pod`,
    metrics: [
      { name: 'rate', unit: 'conn/s', better: 'higher' },
      { name: 'proxy-cpu', unit: 'proxy CPU s per 1000 conn', better: 'lower' },
    ],
    contenders: l4Contenders(
      (host) => responder({ closeAfterReply: true, host }),
      async (connect, pid) => {
        const cpu = cpuSeconds(pid);
        const start = process.hrtime.bigint();
        let next = 0;
        let done = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < CONNECTIONS) {
              next++;
              await exchange(connect);
              done++;
            }
          }),
        );
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        return {
          values: { rate: done / seconds, 'proxy-cpu': ((cpuSeconds(pid) - cpu) / done) * 1000 },
          fingerprint: `${done} connections`,
        };
      },
    ),
    defaultRounds: 5,
  };
}
