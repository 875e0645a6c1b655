import type net from 'node:net';
import { connectViaSocks5 } from '@amesh/l4-proxy/node';
import { BASELINE_DIR } from '../peers/baseline.js';
import { responder, SIZE } from '../peers/responder.js';
import { MESH, MESH_BASELINE, type MeshAddresses, startZtunnelPair } from '../peers/ztunnel-pair.js';
import type { Contender, Scenario } from '../runner.js';

const TUNNELS = Number(process.env.AMESH_BENCH_TUNNELS ?? 1000);
const UPDATES = Number(process.env.AMESH_BENCH_UPDATES ?? 2000);

/** Opens one tunnel and carries one 1 KiB exchange through it, so it is fully established. */
async function openTunnel(connect: () => Promise<net.Socket>): Promise<net.Socket> {
  const socket = await connect();
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received >= SIZE) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(Buffer.alloc(SIZE, 0x61));
  });
  return socket;
}

function pairContender(name: string, mesh: MeshAddresses, baseline: string | undefined): Contender {
  return {
    name,
    async start() {
      const app = await responder({ host: mesh.server });
      const pair = await startZtunnelPair(baseline ? { baseline, mesh } : { mesh });
      const sockets: net.Socket[] = [];
      const connect = () =>
        connectViaSocks5(
          { host: mesh.server, port: app.port },
          { proxyHost: mesh.socks, proxyPort: pair.socksPort, localAddress: mesh.client },
        );
      try {
        for (let i = 0; i < TUNNELS; i++) sockets.push(await openTunnel(connect));
      } catch (error) {
        for (const s of sockets) s.destroy();
        await pair.close();
        await app.close();
        throw error;
      }
      let closed = 0;
      for (const s of sockets) s.once('close', () => closed++);
      return {
        async round() {
          const workload = await pair.churn('workload', UPDATES);
          const policy = await pair.churn('policy', UPDATES);
          if (closed > 0) throw new Error(`${closed} tunnels closed by updates that concern none of them`);
          return {
            values: { workload: workload / UPDATES, policy: policy / UPDATES },
            fingerprint: `${TUNNELS} tunnels open through ${UPDATES} updates of each kind`,
          };
        },
        async close() {
          for (const s of sockets) s.destroy();
          await pair.close();
          await app.close();
        },
      };
    },
  };
}

/**
 * Control-plane churn with open connections: the CPU two ztunnels spend per
 * xDS update (a workload on another node, a policy of another namespace)
 * while TUNNELS inbound connections are open. What an update costs should
 * depend on what it can affect, not on how many connections are open. With
 * `AMESH_BENCH_BASELINE`, an earlier build runs side by side.
 */
export default function l4MeshChurn(): Scenario {
  return {
    name: 'l4-mesh-churn',
    description: `${UPDATES} unrelated workload and policy updates with ${TUNNELS} tunnels open (two ztunnels, one process)`,
    metrics: [
      { name: 'workload', unit: 'µs CPU per workload update (both ztunnels)', better: 'lower' },
      { name: 'policy', unit: 'µs CPU per policy update (both ztunnels)', better: 'lower' },
    ],
    contenders: [
      ...(BASELINE_DIR ? [pairContender('amesh-baseline', MESH_BASELINE, BASELINE_DIR)] : []),
      pairContender('amesh-ztunnels', MESH, undefined),
    ],
    defaultRounds: 5,
  };
}
