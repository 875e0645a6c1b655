import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MeshResource, MeshTranslator, type ResourceRef, resourceRef, translate } from '../src/index.js';
import { testConverter, testPeerConverter } from './helpers.js';

// Random edits over a small universe of resources, so they collide often.
const nsName = fc.constantFrom('a', 'b');
const app = fc.constantFrom('x', 'y');
const labelSet = fc.record(
  {
    app,
    'istio.io/dataplane-mode': fc.constantFrom('ambient', 'none'),
    'istio.io/use-waypoint': fc.constantFrom('wp', 'none', 'ghost'),
  },
  { requiredKeys: [] },
);

const resource: fc.Arbitrary<MeshResource> = fc.oneof(
  fc
    .record({ name: nsName, labels: labelSet })
    .map(
      ({ name, labels }) =>
        ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }) as MeshResource,
    ),
  fc
    .record({
      ns: nsName,
      i: fc.integer({ min: 0, max: 3 }),
      labels: labelSet,
      redirected: fc.boolean(),
      node: fc.constantFrom('n1', 'n2'),
    })
    .map(
      ({ ns, i, labels, redirected, node }) =>
        ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `p${i}`,
            namespace: ns,
            labels,
            annotations: redirected ? { 'ambient.istio.io/redirection': 'enabled' } : {},
          },
          spec: { nodeName: node },
          status: { phase: 'Running', podIP: `10.0.${ns === 'a' ? 1 : 2}.${i + 1}` },
        }) as MeshResource,
    ),
  fc
    .record({
      ns: nsName,
      i: fc.integer({ min: 0, max: 1 }),
      sel: app,
      labels: labelSet,
      port: fc.constantFrom(80, 81),
    })
    .map(
      ({ ns, i, sel, labels, port }) =>
        ({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: `s${i}`, namespace: ns, labels },
          spec: {
            selector: { app: sel },
            clusterIP: `10.96.${ns === 'a' ? 1 : 2}.${i + 1}`,
            ports: [{ port }],
          },
        }) as MeshResource,
    ),
  fc
    .record({
      ns: fc.constantFrom('a', 'b', 'istio-system'),
      i: fc.integer({ min: 0, max: 1 }),
      sel: app,
      deny: fc.boolean(),
    })
    .map(
      ({ ns, i, sel, deny }) =>
        ({
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: `ap${i}`, namespace: ns },
          spec: { selector: { matchLabels: { app: sel } }, action: deny ? 'DENY' : 'ALLOW', rules: [{}] },
        }) as MeshResource,
    ),
  fc
    .record({
      ns: fc.constantFrom('a', 'istio-system'),
      i: fc.integer({ min: 0, max: 1 }),
      sel: fc.option(app),
      strict: fc.boolean(),
    })
    .map(
      ({ ns, i, sel, strict }) =>
        ({
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: `pa${i}`, namespace: ns },
          spec: {
            ...(sel ? { selector: { matchLabels: { app: sel } } } : {}),
            mtls: { mode: strict ? 'STRICT' : 'PERMISSIVE' },
          },
        }) as MeshResource,
    ),
  fc.record({ ns: nsName, forWhat: fc.constantFrom('service', 'workload', 'all') }).map(
    ({ ns, forWhat }) =>
      ({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'wp', namespace: ns, labels: { 'istio.io/waypoint-for': forWhat } },
        spec: {
          gatewayClassName: 'istio-waypoint',
          listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
        },
      }) as MeshResource,
  ),
);

const options = { authorizationConverter: testConverter, peerAuthenticationConverter: testPeerConverter };

const edit = fc.oneof(
  resource.map((r) => ({ upsert: r })),
  resource.map((r) => ({ remove: resourceRef(r) })),
);

describe('incremental translation (property)', () => {
  it('any sequence of edits yields the same state as translating the final config from scratch', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(edit, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }),
        (batches) => {
          const t = new MeshTranslator(options);
          const mirror = new Map<string, unknown>();
          for (const batch of batches) {
            const upserted = new Map<string, MeshResource>();
            const removed = new Map<string, ResourceRef>();
            for (const e of batch) {
              if ('upsert' in e) {
                const key = JSON.stringify(resourceRef(e.upsert));
                removed.delete(key);
                upserted.set(key, e.upsert);
              } else {
                const key = JSON.stringify(e.remove);
                upserted.delete(key);
                removed.set(key, e.remove);
              }
            }
            const delta = t.apply({ upserted: [...upserted.values()], removed: [...removed.values()] });
            for (const [name, a] of delta.addresses.upserted) mirror.set(name, a);
            for (const name of delta.addresses.removed) mirror.delete(name);
          }
          const fresh = translate([...t.resources().values()], options);
          expect(new Map(t.addresses())).toEqual(new Map(fresh.addresses));
          expect(new Map(t.authorizations())).toEqual(new Map(fresh.authorizations));
          // Applying only the deltas reproduces the state: no change was missed.
          expect(mirror).toEqual(new Map(fresh.addresses));
        },
      ),
      { numRuns: 300, interruptAfterTimeLimit: 10_000 },
    );
  });
});
