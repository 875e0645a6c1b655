import { describe, expect, it } from 'vitest';
import { type MeshResource, MeshTranslator, type TranslationDelta, translate } from '../src/index.js';
import { load, testConverter } from './helpers.js';

function mesh(): MeshResource[] {
  const docs: string[] = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {istio.io/dataplane-mode: ambient}}',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: b}',
  ];
  for (const ns of ['a', 'b']) {
    for (let i = 0; i < 5; i++) {
      docs.push(`apiVersion: v1
kind: Pod
metadata: {name: p${i}, namespace: ${ns}, labels: {app: app${i % 2}}, annotations: {ambient.istio.io/redirection: enabled}}
spec: {nodeName: n1}
status: {phase: Running, podIP: 10.${ns === 'a' ? 1 : 2}.0.${i + 1}}`);
    }
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: s0, namespace: ${ns}}
spec: {selector: {app: app0}, clusterIP: 10.96.${ns === 'a' ? 1 : 2}.1, ports: [{port: 80}]}`);
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: s1, namespace: ${ns}}
spec: {selector: {app: app1}, clusterIP: 10.96.${ns === 'a' ? 1 : 2}.2, ports: [{port: 80}]}`);
  }
  docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: a}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}`);
  return load(docs.join('\n---\n'));
}

const names = (d: TranslationDelta) => ({
  upserted: [...d.addresses.upserted.keys()].sort(),
  removed: [...d.addresses.removed].sort(),
  authUpserted: [...d.authorizations.upserted.keys()].sort(),
  authRemoved: [...d.authorizations.removed].sort(),
});

function started(): MeshTranslator {
  const t = new MeshTranslator({ authorizationConverter: testConverter });
  const first = t.apply({ upserted: mesh(), removed: [] });
  expect(first.addresses.upserted.size).toBe(14);
  return t;
}

describe('incremental translation: a change recomputes only what it touches', () => {
  it('re-applying identical resources emits nothing', () => {
    const t = started();
    expect(names(t.apply({ upserted: mesh(), removed: [] }))).toEqual({
      upserted: [],
      removed: [],
      authUpserted: [],
      authRemoved: [],
    });
  });

  it('a pod change emits that workload only', () => {
    const t = started();
    const [pod] = load(`apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: a, labels: {app: app1}, annotations: {ambient.istio.io/redirection: enabled}}
spec: {nodeName: n1}
status: {phase: Running, podIP: 10.1.0.99}`);
    expect(names(t.apply({ upserted: [pod!], removed: [] })).upserted).toEqual(['Kubernetes//Pod/a/p1']);
  });

  it('a pod relabel moves it between services: only that workload changes', () => {
    const t = started();
    const [pod] = load(`apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: a, labels: {app: app0}, annotations: {ambient.istio.io/redirection: enabled}}
spec: {nodeName: n1}
status: {phase: Running, podIP: 10.1.0.2}`);
    const d = t.apply({ upserted: [pod!], removed: [] });
    expect(names(d).upserted).toEqual(['Kubernetes//Pod/a/p1']);
    const w = d.addresses.upserted.get('Kubernetes//Pod/a/p1')!;
    expect('workload' in w && Object.keys(w.workload.services)).toEqual(['a/s0.a.svc.cluster.local']);
  });

  it('a service selector change recomputes the service and the workloads it selected or selects', () => {
    const t = started();
    const [svc] = load(`apiVersion: v1
kind: Service
metadata: {name: s0, namespace: a}
spec: {selector: {app: app1}, clusterIP: 10.96.1.1, ports: [{port: 80}]}`);
    // s0 moves from app0 pods (p0, p2, p4) to app1 pods (p1, p3): all five change, the service itself does not.
    expect(names(t.apply({ upserted: [svc!], removed: [] })).upserted).toEqual([
      'Kubernetes//Pod/a/p0',
      'Kubernetes//Pod/a/p1',
      'Kubernetes//Pod/a/p2',
      'Kubernetes//Pod/a/p3',
      'Kubernetes//Pod/a/p4',
    ]);
  });

  it('removing a service removes it and updates its endpoints', () => {
    const t = started();
    const d = t.apply({ upserted: [], removed: [{ kind: 'Service', namespace: 'b', name: 's1' }] });
    expect(names(d)).toMatchObject({
      upserted: ['Kubernetes//Pod/b/p1', 'Kubernetes//Pod/b/p3'],
      removed: ['b/s1.b.svc.cluster.local'],
    });
  });

  it('a namespace label change recomputes that namespace only', () => {
    const t = started();
    const [ns] = load(
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {istio.io/dataplane-mode: ambient}}',
    );
    const d = t.apply({ upserted: [ns!], removed: [] });
    expect(names(d).upserted).toEqual([0, 1, 2, 3, 4].map((i) => `Kubernetes//Pod/b/p${i}`));
    const w = d.addresses.upserted.get('Kubernetes//Pod/b/p0')!;
    expect('workload' in w && w.workload.tunnelProtocol).toBe('HBONE');
  });

  it('a waypoint appearing later updates its users; its removal clears them', () => {
    const t = started();
    const [ns] = load(
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {istio.io/use-waypoint: late, istio.io/use-waypoint-namespace: a}}',
    );
    expect(names(t.apply({ upserted: [ns!], removed: [] })).upserted).toEqual([]); // waypoint does not exist yet
    const [gw] = load(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: late, namespace: a}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}`);
    expect(names(t.apply({ upserted: [gw!], removed: [] })).upserted).toEqual([
      'b/s0.b.svc.cluster.local',
      'b/s1.b.svc.cluster.local',
    ]);
    expect(
      names(t.apply({ upserted: [], removed: [{ kind: 'Gateway', namespace: 'a', name: 'late' }] })).upserted,
    ).toEqual(['b/s0.b.svc.cluster.local', 'b/s1.b.svc.cluster.local']);
    const s = t.addresses().get('b/s0.b.svc.cluster.local')!;
    expect('service' in s && s.service.waypoint).toBeUndefined();
  });

  it('a selector policy change recomputes the policy and the workloads it selects', () => {
    const t = started();
    const [policy] = load(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-app1, namespace: a}
spec: {selector: {matchLabels: {app: app1}}, rules: [{}]}`);
    const d = t.apply({ upserted: [policy!], removed: [] });
    expect(names(d)).toEqual({
      upserted: ['Kubernetes//Pod/a/p1', 'Kubernetes//Pod/a/p3'],
      removed: [],
      authUpserted: ['a/only-app1'],
      authRemoved: [],
    });
    const removed = t.apply({
      upserted: [],
      removed: [{ kind: 'AuthorizationPolicy', namespace: 'a', name: 'only-app1' }],
    });
    expect(names(removed)).toEqual({
      upserted: ['Kubernetes//Pod/a/p1', 'Kubernetes//Pod/a/p3'],
      removed: [],
      authUpserted: [],
      authRemoved: ['a/only-app1'],
    });
  });

  it('a pod deletion removes its workload', () => {
    const t = started();
    expect(
      names(t.apply({ upserted: [], removed: [{ kind: 'Pod', namespace: 'a', name: 'p0' }] })),
    ).toMatchObject({
      upserted: [],
      removed: ['Kubernetes//Pod/a/p0'],
    });
  });

  it('two ServiceEntries claiming one host: the first wins, the second takes over when the first goes', () => {
    const t = new MeshTranslator();
    const se = (name: string, ip: string) =>
      `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}, namespace: x}\nspec: {hosts: [h.example], addresses: [${ip}], ports: [{number: 80, name: http}]}`;
    t.apply({ upserted: load(se('first', '240.0.0.1')), removed: [] });
    const second = t.apply({ upserted: load(se('second', '240.0.0.2')), removed: [] });
    expect(second.addresses.upserted.size).toBe(0);
    expect([...t.conflicts().keys()]).toEqual(['x/h.example']);
    const d = t.apply({ upserted: [], removed: [{ kind: 'ServiceEntry', namespace: 'x', name: 'first' }] });
    expect(d.addresses.removed.size).toBe(0);
    const s = d.addresses.upserted.get('x/h.example')!;
    expect('service' in s && s.service.name).toBe('second');
  });

  it('after any sequence of changes the state equals a fresh full translation', () => {
    const t = started();
    const edits = load(`apiVersion: v1
kind: Service
metadata: {name: s0, namespace: b}
spec: {selector: {app: app1}, clusterIP: 10.96.2.1, ports: [{port: 81}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {istio.io/use-waypoint: wp}}
---
apiVersion: v1
kind: Pod
metadata: {name: p9, namespace: b, labels: {app: app1}}
spec: {}
status: {podIP: 10.2.0.50}`);
    t.apply({ upserted: edits, removed: [{ kind: 'Pod', namespace: 'a', name: 'p3' }] });
    const current = [...t.resources().values()];
    const fresh = translate(current, { authorizationConverter: testConverter });
    expect(new Map(t.addresses())).toEqual(new Map(fresh.addresses));
  });
});
