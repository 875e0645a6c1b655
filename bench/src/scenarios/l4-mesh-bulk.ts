import net from 'node:net';
import { handleSink, payloadChunk, sendAll } from '../loopback.js';
import { l4Contenders } from '../peers/l4-contenders.js';
import { cpuSeconds } from '../peers/processes.js';
import { MESH } from '../peers/ztunnel-pair.js';
import type { Scenario } from '../runner.js';

const TOTAL = Number(process.env.AMESH_BENCH_BYTES ?? 256 * 1024 * 1024);

/**
 * L4-bulk through two real ztunnels: one long TCP stream from a client pod
 * to a server pod — direct (the ceiling), through an HAProxy TLS-to-TLS
 * chain, and through amesh (SOCKS5 into node1's ztunnel → HBONE mTLS →
 * node2's ztunnel → pod). Proxies run in their own single-threaded process;
 * their CPU is read from /proc.
 */
export default function l4MeshBulk(): Scenario {
  const chunk = payloadChunk();
  const sink = async (host: string = MESH.server) => {
    const server = net.createServer({ allowHalfOpen: true }, handleSink);
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return {
      port: (server.address() as net.AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  };
  return {
    name: 'l4-mesh-bulk',
    description: `L4-bulk: one ${TOTAL / 2 ** 20} MiB stream pod → pod, direct / HAProxy TLS chain / two amesh ztunnels (HBONE)`,
    metrics: [
      { name: 'throughput', unit: 'Gbit/s', better: 'higher' },
      { name: 'proxy-cpu', unit: 'proxy CPU s/GiB', better: 'lower' },
    ],
    contenders: l4Contenders(sink, async (connect, pid) => {
      const cpu = cpuSeconds(pid);
      const start = process.hrtime.bigint();
      const answer = await sendAll(await connect(), chunk, TOTAL);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      return {
        values: {
          throughput: (TOTAL * 8) / seconds / 1e9,
          'proxy-cpu': (cpuSeconds(pid) - cpu) / (TOTAL / 2 ** 30),
        },
        fingerprint: answer,
      };
    }),
    defaultRounds: 5,
  };
}
