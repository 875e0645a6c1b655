import type net from 'node:net';
import { l4Contenders } from '../peers/l4-contenders.js';
import { rssKiB } from '../peers/processes.js';
import { responder, SIZE } from '../peers/responder.js';
import type { Scenario } from '../runner.js';

const TUNNELS = Number(process.env.AMESH_BENCH_TUNNELS ?? 1000);

/** Opens one tunnel and carries one 1 KiB exchange through it, so it is fully established. */
async function openTunnel(connect: () => Promise<net.Socket>): Promise<net.Socket> {
  const socket = await connect();
  socket.setNoDelay(true);
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

/**
 * L4-mem: the proxies' memory idle (RSS) and per open tunnel. A Node
 * process is measured by its live memory after a full GC (V8 returns pages
 * to the OS lazily, so RSS deltas are noise); HAProxy by RSS. For amesh both ztunnels live
 * in one process, so each tunnel is counted on both of its ends.
 */
export default function l4MeshMem(): Scenario {
  return {
    name: 'l4-mesh-mem',
    description: `L4-mem: proxy memory idle and with ${TUNNELS} open tunnels (both ends), pod → pod`,
    metrics: [
      { name: 'idle', unit: 'MiB RSS idle', better: 'lower' },
      {
        name: 'per-tunnel',
        unit: 'KiB per open tunnel, both ends (Node: live heap+external after GC; HAProxy: RSS)',
        better: 'lower',
      },
    ],
    contenders: l4Contenders(
      (host) => responder({ host }),
      async (connect, _pid, proxy) => {
        const idleRss = rssKiB(proxy.pid);
        const idle = await proxy.memoryKiB();
        const sockets: net.Socket[] = [];
        try {
          for (let i = 0; i < TUNNELS; i++) sockets.push(await openTunnel(connect));
          const loaded = await proxy.memoryKiB();
          return {
            values: { idle: idleRss / 1024, 'per-tunnel': (loaded - idle) / TUNNELS },
            fingerprint: `${sockets.length} tunnels open`,
          };
        } finally {
          for (const s of sockets) s.destroy();
          // Let the proxies see the closes before the next contender's round.
          await new Promise((r) => setTimeout(r, 500));
        }
      },
    ),
    defaultRounds: 3,
  };
}
