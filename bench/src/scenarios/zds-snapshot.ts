import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ZdsSession, type ZdsTransport, ZdsServer, ZtunnelAgentClient } from '@amesh/cni-redirect/node';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

const PODS = 1000;
/** A real network namespace anyone can open: every pod points at it (identity is per uid). */
const NETNS = '/proc/self/ns/net';

/**
 * One round: a node agent (`ZdsServer`) sends a snapshot of {@link PODS} Adds
 * and SnapshotSent to a fresh `ZtunnelAgentClient`; then the agent "restarts"
 * (a new server on the same socket) and replays the same snapshot, which the
 * client must treat as unchanged (no handler call).
 */
function contender(name: string, transport: ZdsTransport): Contender {
  return {
    name,
    async start(): Promise<ContenderInstance> {
      const dir = mkdtempSync(join(tmpdir(), 'amesh-bench-zds-'));
      let round = 0;
      return {
        async round(): Promise<Sample> {
          round += 1;
          const socketPath = join(dir, `zds-${round}.sock`);
          let started = 0;
          const snapshot = async (session: ZdsSession): Promise<void> => {
            started = performance.now();
            for (let i = 0; i < PODS; i++)
              await session.send({ type: 'add', uid: `pod-${i}`, netnsPath: NETNS });
            await session.send({ type: 'snapshot-sent' });
          };
          let served = 0;
          let unchanged = 0;
          const client = new ZtunnelAgentClient({
            socketPath,
            transport,
            backoff: { initialMs: 1, maxMs: 5 },
            handler: {
              serve: () => {
                served += 1;
              },
              stop: () => {},
            },
          });
          client.on('pod', (e) => {
            if (e.change === 'unchanged') unchanged += 1;
          });
          const first = await ZdsServer.listen({ socketPath, transport, onZtunnelConnected: snapshot });
          client.start();
          await client.whenSynced();
          const snapshotMs = performance.now() - started;
          await first.close();
          const second = await ZdsServer.listen({ socketPath, transport, onZtunnelConnected: snapshot });
          await client.whenSynced();
          const replayMs = performance.now() - started;
          await client.close();
          client.releasePods();
          await second.close();
          return {
            values: { snapshot: (PODS / snapshotMs) * 1000, replay: (PODS / replayMs) * 1000 },
            fingerprint: `served=${served} unchanged=${unchanged} pods=${PODS}`,
          };
        },
        async close(): Promise<void> {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** Node agent → ztunnel pod hand-off: Istio's SOCK_SEQPACKET + SCM_RIGHTS vs amesh's stream + path. */
export default function zdsSnapshot(): Scenario {
  return {
    name: 'zds-snapshot',
    description: `node agent → ztunnel snapshot of ${PODS} pods (Add + ack each, then SnapshotSent), then an idempotent replay after an agent restart`,
    metrics: [
      { name: 'snapshot', unit: 'Adds/s', better: 'higher' },
      { name: 'replay', unit: 'Adds/s', better: 'higher' },
    ],
    contenders: [
      contender('seqpacket + netns fd (Istio)', 'seqpacket'),
      contender('stream + netns path', 'stream'),
    ],
    defaultRounds: 7,
  };
}
