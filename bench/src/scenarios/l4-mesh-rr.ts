import type net from 'node:net';
import { l4Contenders } from '../peers/l4-contenders.js';
import { cpuSeconds } from '../peers/processes.js';
import { responder, SIZE } from '../peers/responder.js';
import type { Scenario } from '../runner.js';

const REQUESTS = Number(process.env.AMESH_BENCH_REQUESTS ?? 5000);

/** Sends REQUESTS request/response exchanges one after the other on one connection; returns latencies in µs. */
async function pingPong(socket: net.Socket): Promise<number[]> {
  socket.setNoDelay(true);
  const request = Buffer.alloc(SIZE, 0x61);
  const latencies: number[] = [];
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    let started = process.hrtime.bigint();
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      while (received >= SIZE) {
        received -= SIZE;
        const now = process.hrtime.bigint();
        latencies.push(Number(now - started) / 1000);
        if (latencies.length === REQUESTS) {
          socket.end();
          resolve();
          return;
        }
        started = now;
        socket.write(request);
      }
    });
    socket.on('error', reject);
    socket.write(request);
  });
  socket.destroy();
  return latencies;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * L4-rr through two real ztunnels: 1 KiB request / 1 KiB response, one
 * keep-alive connection, closed loop — direct, HAProxy TLS chain, and two
 * amesh ztunnels (HBONE). Reports rate, latency percentiles and the proxies'
 * CPU per 1000 requests.
 */
export default function l4MeshRr(): Scenario {
  return {
    name: 'l4-mesh-rr',
    description: `L4-rr: ${REQUESTS} × 1 KiB request/response on one connection, pod → pod, direct / HAProxy TLS chain / two amesh ztunnels`,
    metrics: [
      { name: 'rate', unit: 'req/s', better: 'higher' },
      { name: 'p50', unit: 'µs', better: 'lower' },
      { name: 'p90', unit: 'µs', better: 'lower' },
      { name: 'p99', unit: 'µs', better: 'lower' },
      { name: 'proxy-cpu', unit: 'proxy CPU s per 1000 req, = vCPU at 1000 req/s', better: 'lower' },
    ],
    contenders: l4Contenders(
      (host) => responder({ host }),
      async (connect, pid) => {
        const socket = await connect();
        const cpu = cpuSeconds(pid);
        const start = process.hrtime.bigint();
        const latencies = await pingPong(socket);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const sorted = [...latencies].sort((a, b) => a - b);
        return {
          values: {
            rate: REQUESTS / seconds,
            p50: percentile(sorted, 50),
            p90: percentile(sorted, 90),
            p99: percentile(sorted, 99),
            'proxy-cpu': ((cpuSeconds(pid) - cpu) / REQUESTS) * 1000,
          },
          fingerprint: `${latencies.length} exchanges of ${SIZE} B`,
        };
      },
    ),
    defaultRounds: 5,
  };
}
