import { Worker } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';
import { XdsServer } from '@amesh/xds-server/node';
import { encodeAddress, encodeAuthorization, TypeUrl } from '@amesh/xds-types';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

const CLIENTS = Number(process.env.AMESH_BENCH_XDS_CLIENTS ?? 50);
const WORKLOADS = Number(process.env.AMESH_BENCH_XDS_WORKLOADS ?? 9_000);
const SERVICES = Number(process.env.AMESH_BENCH_XDS_SERVICES ?? 1_000);
const POLICIES = Number(process.env.AMESH_BENCH_XDS_POLICIES ?? 1_000);
const CHANGES = Number(process.env.AMESH_BENCH_XDS_CHANGES ?? 20);
const WORKERS = Math.max(1, Math.min(CLIENTS, Number(process.env.AMESH_BENCH_XDS_WORKERS ?? 2)));
const TOTAL = WORKLOADS + SERVICES + POLICIES;

type Inputs = Map<string, { version: string; resource: Uint8Array }>;

function ip(i: number): Uint8Array {
  return new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]);
}

function workload(i: number, version: number): Uint8Array {
  const ns = `ns-${i % 100}`;
  const service = `svc-${i % SERVICES}`;
  return encodeAddress({
    type: 'workload',
    workload: {
      uid: `Kubernetes//Pod/${ns}/pod-${i}`,
      name: `pod-${i}`,
      namespace: ns,
      addresses: [ip(i + 1 + version * 65_536)],
      tunnelProtocol: 'HBONE',
      serviceAccount: `sa-${i % 500}`,
      node: `node-${i % 50}`,
      canonicalName: service,
      // Every version must change the bytes (the IP alone wraps at 256 versions, and a client
      // rightly reports no change for a resend of identical bytes).
      canonicalRevision: `v${version}`,
      workloadType: 'POD',
      workloadName: service,
      services: {
        [`${ns}/${service}.${ns}.svc.cluster.local`]: { ports: [{ servicePort: 80, targetPort: 8080 }] },
      },
      clusterId: 'Kubernetes',
      authorizationPolicies: [`${ns}/policy-${i % POLICIES}`],
    },
  });
}

function resources(): { addresses: Inputs; policies: Inputs } {
  const addresses: Inputs = new Map();
  for (let i = 0; i < WORKLOADS; i++)
    addresses.set(`Kubernetes//Pod/ns-${i % 100}/pod-${i}`, { version: '1', resource: workload(i, 0) });
  for (let i = 0; i < SERVICES; i++) {
    const ns = `ns-${i % 100}`;
    const hostname = `svc-${i}.${ns}.svc.cluster.local`;
    addresses.set(`${ns}/${hostname}`, {
      version: '1',
      resource: encodeAddress({
        type: 'service',
        service: {
          name: `svc-${i}`,
          namespace: ns,
          hostname,
          addresses: [{ network: '', address: new Uint8Array([10, 96, (i >> 8) & 255, i & 255]) }],
          ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'HTTP11' }],
        },
      }),
    });
  }
  const policies: Inputs = new Map();
  for (let i = 0; i < POLICIES; i++) {
    const ns = `ns-${i % 100}`;
    policies.set(`${ns}/policy-${i}`, {
      version: '1',
      resource: encodeAuthorization({
        name: `policy-${i}`,
        namespace: ns,
        scope: 'WORKLOAD_SELECTOR',
        action: i % 10 === 0 ? 'DENY' : 'ALLOW',
        rules: [
          {
            clauses: [
              {
                matches: [
                  { principals: [{ exact: `cluster.local/ns/${ns}/sa/sa-${i % 500}` }], notPrincipals: [] },
                ],
              },
              { matches: [{ destinationPorts: [8080] }] },
            ],
          },
        ],
      }),
    });
  }
  return { addresses, policies };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

// The clients run in worker threads (like ztunnels, each its own process in
// production; here each worker thread has its own heap), written in plain JS
// importing the built packages, so the worker needs no TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const grpc = await import(workerData.urls.grpc);
  const { XdsClient } = await import(workerData.urls.client);
  const { WILDCARD } = await import(workerData.urls.clientCore);
  const { TypeUrl } = await import(workerData.urls.types);
  const now = () => performance.timeOrigin + performance.now();
  const clients = [];
  let synced = 0;
  let watching = '';
  for (const id of workerData.ids) {
    let count = 0;
    const client = new XdsClient({
      target: workerData.target,
      credentials: grpc.credentials.createInsecure(),
      node: { id: 'ztunnel~10.1.0.' + id + '~ztunnel-' + id + '.istio-system~istio-system.svc.cluster.local' },
      mode: 'delta',
      channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
    });
    const onChanged = (name) => {
      if (count < workerData.total && ++count === workerData.total && ++synced === workerData.ids.length) {
        parentPort.postMessage({ kind: 'synced', at: now() });
      }
      if (name === watching) parentPort.postMessage({ kind: 'seen', name, at: now() });
    };
    client.watch(TypeUrl.address, WILDCARD, { onChanged });
    client.watch(TypeUrl.authorization, WILDCARD, { onChanged });
    clients.push(client);
  }
  parentPort.on('message', (message) => {
    if (message.kind === 'start') for (const client of clients) client.start();
    else if (message.kind === 'watch') {
      watching = message.name;
      parentPort.postMessage({ kind: 'watching', name: message.name });
    }
    else if (message.kind === 'close') {
      for (const client of clients) client.close();
      parentPort.postMessage({ kind: 'closed' });
      parentPort.close();
    }
  });
  parentPort.postMessage({ kind: 'ready' });
})();
`;

type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'watching'; name: string }
  | { kind: 'synced'; at: number }
  | { kind: 'seen'; name: string; at: number }
  | { kind: 'closed' };

const now = (): number => performance.timeOrigin + performance.now();

/**
 * The xDS scenario of performance.md: 10 000 `istio.workload.Address` and
 * 1 000 `istio.security.Authorization` resources pushed over Delta ADS to 50
 * ztunnel-like clients (each its own HTTP/2 connection; spread over worker
 * threads), then single workload changes propagated to every client.
 */
export default function xdsPush(): Scenario {
  const data = resources();
  const urls = {
    grpc: import.meta.resolve('@grpc/grpc-js'),
    client: import.meta.resolve('@amesh/xds-client/node'),
    clientCore: import.meta.resolve('@amesh/xds-client'),
    types: import.meta.resolve('@amesh/xds-types'),
  };
  const amesh: Contender = {
    name: 'amesh-delta',
    async start(): Promise<ContenderInstance> {
      let generation = 0;
      return {
        async round(): Promise<Sample> {
          generation++;
          const xds = new XdsServer({ debounceMs: 10 });
          const server = new grpc.Server();
          xds.addToGrpcServer(server);
          const port = await new Promise<number>((resolve, reject) =>
            server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
              e ? reject(e) : resolve(p),
            ),
          );
          xds.setResources(TypeUrl.address, data.addresses);
          xds.setResources(TypeUrl.authorization, data.policies);
          xds.flush();
          const workers: Worker[] = [];
          const listeners = new Set<(message: WorkerMessage) => void>();
          for (let w = 0; w < WORKERS; w++) {
            const ids = Array.from({ length: CLIENTS }, (_, i) => i).filter((i) => i % WORKERS === w);
            const worker = new Worker(WORKER, {
              eval: true,
              workerData: { urls, ids, total: TOTAL, target: `127.0.0.1:${port}` },
            });
            worker.on('message', (message: WorkerMessage) => {
              for (const listener of listeners) listener(message);
            });
            workers.push(worker);
          }
          const collect = (kind: WorkerMessage['kind'], count: number): Promise<WorkerMessage[]> =>
            new Promise((resolve) => {
              const got: WorkerMessage[] = [];
              const listener = (message: WorkerMessage): void => {
                if (message.kind !== kind) return;
                got.push(message);
                if (got.length === count) {
                  listeners.delete(listener);
                  resolve(got);
                }
              };
              listeners.add(listener);
            });
          await collect('ready', WORKERS);
          const cpu = process.cpuUsage();
          const start = now();
          const synced = collect('synced', WORKERS);
          for (const worker of workers) worker.postMessage({ kind: 'start' });
          const syncedAt = Math.max(...(await synced).map((m) => (m as { at: number }).at));
          const fullSyncMs = syncedAt - start;
          const syncCpu = process.cpuUsage(cpu);
          const latencies: number[] = [];
          for (let i = 0; i < CHANGES; i++) {
            const index = (i * 7919) % WORKLOADS;
            const name = `Kubernetes//Pod/ns-${index % 100}/pod-${index}`;
            // Every worker must know which name to report before the change goes out (a busy
            // worker may read its messages later than the debounced push arrives).
            const watching = collect('watching', WORKERS);
            for (const worker of workers) worker.postMessage({ kind: 'watch', name });
            await watching;
            const seen = collect('seen', CLIENTS);
            const changedAt = now();
            xds.update(
              TypeUrl.address,
              new Map([
                [
                  name,
                  { version: `g${generation}-${i}`, resource: workload(index, generation * 100 + i + 1) },
                ],
              ]),
            );
            for (const message of await seen) latencies.push((message as { at: number }).at - changedAt);
          }
          const closed = collect('closed', WORKERS);
          for (const worker of workers) worker.postMessage({ kind: 'close' });
          await closed;
          await Promise.all(workers.map((worker) => worker.terminate()));
          server.forceShutdown();
          return {
            values: {
              fullSync: fullSyncMs,
              syncCpu: (syncCpu.user + syncCpu.system) / 1e6,
              changeP50: percentile(latencies, 50),
              changeP99: percentile(latencies, 99),
            },
            fingerprint: `${CLIENTS} clients x ${TOTAL} resources, ${latencies.length} change deliveries`,
          };
        },
        async close() {},
      };
    },
  };
  return {
    name: 'xds-push',
    description: `${WORKLOADS + SERVICES} Address + ${POLICIES} Authorization over Delta ADS to ${CLIENTS} clients in ${WORKERS} worker threads; ${CHANGES} single changes (debounce 10 ms)`,
    metrics: [
      { name: 'fullSync', unit: 'ms', better: 'lower' },
      { name: 'syncCpu', unit: 'CPU s', better: 'lower' },
      { name: 'changeP50', unit: 'ms', better: 'lower' },
      { name: 'changeP99', unit: 'ms', better: 'lower' },
    ],
    contenders: [amesh],
    defaultRounds: 3,
  };
}
