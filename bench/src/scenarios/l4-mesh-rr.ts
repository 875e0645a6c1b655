import net from 'node:net';
import { connectViaSocks5 } from '@amesh/l4-proxy/node';
import { selfSignedCertificate } from '../loopback.js';
import { startHaproxyChain } from '../peers/haproxy-chain.js';
import { cpuSeconds } from '../peers/processes.js';
import { MESH, startZtunnelPair } from '../peers/ztunnel-pair.js';
import type { Contender, Sample, Scenario } from '../runner.js';

const REQUESTS = Number(process.env.AMESH_BENCH_REQUESTS ?? 5000);
const SIZE = 1024;

/** A server that answers every 1 KiB message with 1 KiB (request/response on one connection). */
async function responder(): Promise<{ port: number; close(): Promise<void> }> {
  const reply = Buffer.alloc(SIZE, 0x62);
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.setNoDelay(true);
    let pending = 0;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      while (pending >= SIZE) {
        pending -= SIZE;
        socket.write(reply);
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, MESH.server, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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
  const { key, cert } = selfSignedCertificate();
  const measured = async (connect: () => Promise<net.Socket>, pid: number | undefined): Promise<Sample> => {
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
  };
  const direct: Contender = {
    name: 'direct',
    async start() {
      const server = await responder();
      return {
        round: () =>
          measured(
            async () => net.connect({ host: MESH.server, port: server.port, localAddress: MESH.client }),
            undefined,
          ),
        close: server.close,
      };
    },
  };
  const haproxy: Contender = {
    name: 'haproxy-chain',
    async start() {
      const server = await responder();
      const chain = await startHaproxyChain({ cert, key, sinkHost: MESH.server, sinkPort: server.port });
      return {
        round: () =>
          measured(async () => net.connect({ host: '127.0.0.1', port: chain.entryPort }), chain.pid),
        close: async () => {
          await chain.close();
          await server.close();
        },
      };
    },
  };
  const amesh: Contender = {
    name: 'amesh-ztunnels',
    async start() {
      const server = await responder();
      const pair = await startZtunnelPair();
      return {
        round: () =>
          measured(
            () =>
              connectViaSocks5(
                { host: MESH.server, port: server.port },
                { proxyHost: MESH.socks, proxyPort: pair.socksPort, localAddress: MESH.client },
              ),
            pair.pid,
          ),
        close: async () => {
          await pair.close();
          await server.close();
        },
      };
    },
  };
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
    contenders: [direct, haproxy, amesh],
    defaultRounds: 5,
  };
}
