import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type Address,
  type AuthorizationConverter,
  type MeshResource,
  MeshTranslator,
  type PodResource,
  translate,
} from '@amesh/mesh-config';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

const PODS = Number(process.env.AMESH_BENCH_PODS ?? 10_000);
const SERVICES = Number(process.env.AMESH_BENCH_SERVICES ?? 1_000);
const POLICIES = Number(process.env.AMESH_BENCH_POLICIES ?? 1_000);
const NAMESPACES = 100;
const APPS = 10;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

/**
 * The control plane's config → ztunnel state translation at scale: 10 000
 * pods, 1 000 services, 1 000 selector policies over 100 namespaces (with
 * waypoints). Metrics: full translation time, retained heap, and the time
 * for one pod change to produce its delta. Contenders: amesh's incremental
 * `MeshTranslator`, and the baseline a non-incremental control plane uses
 * for a change (translate everything again and diff by name).
 */
export default function meshTranslate(): Scenario {
  const resources = generate();
  const converter: AuthorizationConverter = (policy, context) => ({
    authorizations: [
      {
        name: policy.metadata.name,
        namespace: policy.metadata.namespace!,
        scope: context.scope,
        action: policy.spec.action === 'DENY' ? 'DENY' : 'ALLOW',
        rules: [],
        dryRun: false,
      },
    ],
    warnings: [],
  });
  // Every round builds fresh state, then applies the same pod change (a new pod IP), so fingerprints match.
  const base = resources.find((r) => r.kind === 'Pod') as PodResource;
  const changedPod: PodResource = { ...base, status: { ...base.status, podIP: '10.200.0.1' } };

  const measure = (
    build: () => { count: () => number; change: (pod: PodResource) => Map<string, Address> },
  ): ContenderInstance => {
    return {
      async round(): Promise<Sample> {
        gc();
        const heapBefore = process.memoryUsage().heapUsed;
        let start = process.hrtime.bigint();
        const state = build();
        const fullMs = Number(process.hrtime.bigint() - start) / 1e6;
        gc();
        const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
        const pod = changedPod;
        start = process.hrtime.bigint();
        const changed = state.change(pod);
        const changeMs = Number(process.hrtime.bigint() - start) / 1e6;
        return {
          values: { full: fullMs, heap: heapMb, change: changeMs },
          fingerprint: `${state.count()} addresses; change → ${fingerprint(changed)}`,
        };
      },
      async close() {},
    };
  };

  const incremental: Contender = {
    name: 'amesh-incremental',
    async start() {
      return measure(() => {
        const t = new MeshTranslator({ authorizationConverter: converter });
        t.apply({ upserted: resources, removed: [] });
        return {
          count: () => t.addresses().size,
          change: (pod) => t.apply({ upserted: [pod], removed: [] }).addresses.upserted,
        };
      });
    },
  };

  const retranslate: Contender = {
    name: 'full-retranslate',
    async start() {
      return measure(() => {
        let current = translate(resources, { authorizationConverter: converter });
        return {
          count: () => current.addresses.size,
          change: (pod) => {
            const next = resources.map((r) =>
              r.kind === 'Pod' &&
              r.metadata.name === pod.metadata.name &&
              r.metadata.namespace === pod.metadata.namespace
                ? pod
                : r,
            );
            const fresh = translate(next, { authorizationConverter: converter });
            const upserted = new Map<string, Address>();
            for (const [name, a] of fresh.addresses) {
              if (JSON.stringify(a, bytes) !== JSON.stringify(current.addresses.get(name), bytes))
                upserted.set(name, a);
            }
            current = fresh;
            return upserted;
          },
        };
      });
    },
  };

  return {
    name: 'mesh-translate',
    description: `translate ${PODS} pods, ${SERVICES} services, ${POLICIES} policies (${NAMESPACES} namespaces) to ztunnel Address/Authorization; then one pod change`,
    metrics: [
      { name: 'full', unit: 'ms full translation', better: 'lower' },
      { name: 'heap', unit: 'MiB retained', better: 'lower' },
      { name: 'change', unit: 'ms one pod change', better: 'lower' },
    ],
    contenders: [incremental, retranslate],
    defaultRounds: 5,
  };
}

function bytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Array.from(value) : value;
}

function fingerprint(changed: Map<string, Address>): string {
  const names = [...changed.keys()].sort();
  const hash = createHash('sha256');
  for (const n of names) hash.update(JSON.stringify(changed.get(n), bytes));
  return `${names.join(',')} ${hash.digest('hex').slice(0, 16)}`;
}

function generate(): MeshResource[] {
  const out: MeshResource[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns-${n}`;
    out.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns,
        labels: {
          'istio.io/dataplane-mode': 'ambient',
          ...(n % 4 === 0 ? { 'istio.io/use-waypoint': 'waypoint' } : {}),
        },
      },
    });
    if (n % 4 === 0) {
      out.push({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'waypoint', namespace: ns, labels: { 'istio.io/waypoint-for': 'all' } },
        spec: {
          gatewayClassName: 'istio-waypoint',
          listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
        },
      });
    }
  }
  for (let i = 0; i < PODS; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const app = `app-${Math.floor(i / NAMESPACES) % APPS}`;
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${app}-${i}`,
        namespace: ns,
        labels: { app, version: 'v1' },
        annotations: { 'ambient.istio.io/redirection': 'enabled' },
      },
      spec: {
        nodeName: `node-${i % 50}`,
        serviceAccountName: app,
        containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }],
      },
      status: { phase: 'Running', podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
    });
  }
  for (let s = 0; s < SERVICES; s++) {
    const ns = `ns-${s % NAMESPACES}`;
    const app = `app-${Math.floor(s / NAMESPACES) % APPS}`;
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${s}`, namespace: ns },
      spec: {
        selector: { app },
        clusterIP: `10.96.${(s >> 8) & 255}.${s & 255}`,
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { name: 'grpc', port: 9090 },
        ],
      },
    });
  }
  for (let p = 0; p < POLICIES; p++) {
    const ns = `ns-${p % NAMESPACES}`;
    const app = `app-${Math.floor(p / NAMESPACES) % APPS}`;
    out.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `policy-${p}`, namespace: ns },
      spec: {
        selector: { matchLabels: { app } },
        action: p % 5 === 0 ? 'DENY' : 'ALLOW',
        rules: [{ from: [{ source: { principals: [`cluster.local/ns/${ns}/sa/client`] } }] }],
      },
    });
  }
  return out;
}
