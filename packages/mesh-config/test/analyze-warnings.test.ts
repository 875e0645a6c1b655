import { describe, expect, it } from 'vitest';
import { analyze } from '../src/index.js';
import { load } from './helpers.js';

describe('analyze: structured warnings for config that will not do what it says', () => {
  it('flags HTTP attributes in policies only ztunnel enforces, with the field path', () => {
    const warnings = analyze(
      load(`
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: app, labels: { app: api } }
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: http-allow, namespace: app }
spec:
  selector: { matchLabels: { app: api } }
  rules:
  - to: [{ operation: { methods: [GET], ports: ["80"] } }]
    when: [{ key: "request.headers[x-user]", values: [a] }, { key: source.ip, values: ["10.0.0.0/8"] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: http-at-waypoint, namespace: app }
spec:
  targetRefs: [{ kind: Service, name: api }]
  rules: [{ to: [{ operation: { paths: [/admin] } }] }]
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: app }
spec: { selector: { app: api }, ports: [{ port: 80 }] }
`),
    );
    expect(warnings.map((w) => [w.code, w.resource, w.path])).toEqual([
      [
        'HTTP_RULE_IN_ZTUNNEL_POLICY',
        'AuthorizationPolicy app/http-allow',
        'spec.rules[0].to[0].operation.methods',
      ],
      ['HTTP_RULE_IN_ZTUNNEL_POLICY', 'AuthorizationPolicy app/http-allow', 'spec.rules[0].when[0].key'],
    ]);
    expect(warnings[0]!.message).toMatch(/ALLOW rule never matches/);
  });

  it('flags waypoint references that resolve to nothing or do not apply', () => {
    const warnings = analyze(
      load(`
apiVersion: v1
kind: Namespace
metadata: { name: a, labels: { istio.io/use-waypoint: ghost } }
---
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: a, labels: { istio.io/use-waypoint: wp } }
spec: {}
---
apiVersion: v1
kind: Service
metadata: { name: s, namespace: a, labels: { istio.io/use-waypoint: ingress } }
spec: {}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: wp, namespace: a }
spec: { gatewayClassName: istio-waypoint, listeners: [{ name: mesh, port: 15008, protocol: HBONE }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ingress, namespace: a }
spec: { gatewayClassName: istio, listeners: [{ name: http, port: 80, protocol: HTTP }] }
`),
    );
    expect(warnings.map((w) => [w.code, w.resource])).toEqual([
      ['WAYPOINT_NOT_FOUND', 'Namespace a'],
      ['WAYPOINT_FOR_MISMATCH', 'Pod a/p'],
      ['WAYPOINT_NOT_A_WAYPOINT', 'Service a/s'],
    ]);
  });

  it('flags selectors that match nothing, missing targetRefs and missing route parents/backends', () => {
    const warnings = analyze(
      load(`
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: a, labels: { app: real } }
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: typo, namespace: a }
spec: { selector: { matchLabels: { app: reel } } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: root-ok, namespace: istio-system }
spec: { selector: { matchLabels: { app: real } } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: a }
spec: { selector: { matchLabels: { app: real } }, mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: dangling, namespace: a }
spec: { targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: nope }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: a }
spec:
  parentRefs: [{ kind: Service, group: "", name: missing }]
  rules: [{ backendRefs: [{ name: gone, port: 80 }] }]
`),
    );
    expect(warnings.map((w) => [w.code, w.resource, w.path])).toEqual([
      ['TARGET_REF_NOT_FOUND', 'AuthorizationPolicy a/dangling', 'spec.targetRefs[0]'],
      ['SELECTOR_MATCHES_NOTHING', 'AuthorizationPolicy a/typo', 'spec.selector.matchLabels'],
      ['ROUTE_PARENT_NOT_FOUND', 'HTTPRoute a/r', 'spec.parentRefs[0]'],
      ['ROUTE_BACKEND_NOT_FOUND', 'HTTPRoute a/r', 'spec.rules[0].backendRefs[0]'],
    ]);
  });

  it('returns nothing for a clean mesh', () => {
    expect(
      analyze(
        load(`
apiVersion: v1
kind: Namespace
metadata: { name: a, labels: { istio.io/use-waypoint: wp } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: wp, namespace: a }
spec: { gatewayClassName: istio-waypoint, listeners: [{ name: mesh, port: 15008, protocol: HBONE }] }
`),
      ),
    ).toEqual([]);
  });
});
