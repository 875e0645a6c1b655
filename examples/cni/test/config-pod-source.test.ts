import type { PodEvent } from '@amesh/cni-redirect';
import { decideEnrolment } from '@amesh/cni-redirect';
import type { MeshResource } from '@amesh/mesh-config';
import { describe, expect, it } from 'vitest';
import { ConfigPodSource } from '../src/index.js';

const namespace = (name: string, labels: Record<string, string> = {}): MeshResource => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});

const pod = (
  name: string,
  node: string,
  extra: { labels?: Record<string, string>; ip?: string; phase?: 'Running' | 'Succeeded'; ns?: string } = {},
): MeshResource => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: extra.ns ?? 'shop', labels: extra.labels ?? {} },
  spec: { nodeName: node, serviceAccountName: `sa-${name}` },
  ...(extra.ip || extra.phase
    ? { status: { ...(extra.phase ? { phase: extra.phase } : {}), ...(extra.ip ? { podIP: extra.ip } : {}) } }
    : {}),
});

function source(): { pods: ConfigPodSource; events: PodEvent[] } {
  const pods = new ConfigPodSource({ node: 'node1' });
  const events: PodEvent[] = [];
  pods.watch((e) => events.push(e));
  return { pods, events };
}

describe('ConfigPodSource: the node agent’s pods from mesh config changes', () => {
  it('lists only this node’s pods, keyed by the control plane’s workload uid, with namespace labels', () => {
    const { pods } = source();
    pods.apply({
      upserted: [
        namespace('shop', { 'istio.io/dataplane-mode': 'ambient' }),
        pod('a', 'node1', { ip: '10.0.0.5', labels: { app: 'a' } }),
        pod('b', 'node2'),
      ],
      removed: [],
    });
    expect(pods.list()).toEqual([
      {
        uid: 'Kubernetes//Pod/shop/a',
        name: 'a',
        namespace: 'shop',
        serviceAccount: 'sa-a',
        labels: { app: 'a' },
        namespaceLabels: { 'istio.io/dataplane-mode': 'ambient' },
        ips: ['10.0.0.5'],
      },
    ]);
    const [info] = pods.list();
    expect(decideEnrolment(info!.namespaceLabels, info!.labels).enrolled).toBe(true);
  });

  it('emits upsert on change, delete on removal, on moving to another node and on completion', () => {
    const { pods, events } = source();
    pods.apply({ upserted: [pod('a', 'node1'), pod('b', 'node1'), pod('c', 'node1')], removed: [] });
    expect(events.map((e) => e.type)).toEqual(['upsert', 'upsert', 'upsert']);
    events.length = 0;
    pods.apply({
      upserted: [pod('a', 'node2'), pod('b', 'node1', { phase: 'Succeeded' })],
      removed: [{ kind: 'Pod', namespace: 'shop', name: 'c' }],
    });
    expect(events).toEqual([
      { type: 'delete', uid: 'Kubernetes//Pod/shop/a' },
      { type: 'delete', uid: 'Kubernetes//Pod/shop/b' },
      { type: 'delete', uid: 'Kubernetes//Pod/shop/c' },
    ]);
    expect(pods.list()).toEqual([]);
    // Pods on other nodes never produce events, not even deletes.
    events.length = 0;
    pods.apply({ upserted: [pod('x', 'node2')], removed: [{ kind: 'Pod', namespace: 'shop', name: 'x' }] });
    expect(events).toEqual([]);
  });

  it('a namespace label change re-emits its pods (enrolment by namespace), an unchanged one does not', () => {
    const { pods, events } = source();
    pods.apply({
      upserted: [namespace('shop'), pod('a', 'node1'), pod('z', 'node1', { ns: 'other' })],
      removed: [],
    });
    events.length = 0;
    pods.apply({ upserted: [namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })], removed: [] });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'upsert',
      pod: { uid: 'Kubernetes//Pod/shop/a', namespaceLabels: { 'istio.io/dataplane-mode': 'ambient' } },
    });
    events.length = 0;
    pods.apply({ upserted: [namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })], removed: [] });
    expect(events).toEqual([]);
    pods.apply({ upserted: [], removed: [{ kind: 'Namespace', namespace: '', name: 'shop' }] });
    expect(events).toEqual([{ type: 'upsert', pod: expect.objectContaining({ namespaceLabels: {} }) }]);
  });

  it('uses the configured cluster id in uids and stops delivering after unwatch', () => {
    const pods = new ConfigPodSource({ node: 'n', clusterId: 'east' });
    const events: PodEvent[] = [];
    const unwatch = pods.watch((e) => events.push(e));
    pods.apply({ upserted: [pod('a', 'n')], removed: [] });
    expect(pods.uidOf('shop', 'a')).toBe('east//Pod/shop/a');
    expect(events[0]).toMatchObject({ pod: { uid: 'east//Pod/shop/a', ips: [] } });
    unwatch();
    pods.apply({ upserted: [pod('b', 'n')], removed: [] });
    expect(events).toHaveLength(1);
  });
});
