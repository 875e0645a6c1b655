import { describe, expect, it } from 'vitest';
import { type Address, MeshTranslator, translate } from '../src/index.js';
import { ip4, load, testConverter, testPeerConverter } from './helpers.js';

const MESH = `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: { istio.io/dataplane-mode: ambient }
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d4b9c-abcde
  namespace: shop
  labels: { app: web, version: v2, pod-template-hash: 7d4b9c }
  annotations: { ambient.istio.io/redirection: enabled }
  ownerReferences: [{ kind: ReplicaSet, name: web-7d4b9c, apiVersion: apps/v1 }]
spec:
  nodeName: node-1
  serviceAccountName: web
  containers:
  - name: app
    ports: [{ name: http-alt, containerPort: 8080 }]
status:
  phase: Running
  podIP: 10.1.0.5
  podIPs: [{ ip: 10.1.0.5 }]
  conditions: [{ type: Ready, status: "True" }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  selector: { app: web }
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  ports:
  - { name: http, port: 80, targetPort: http-alt }
  - { name: grpc-api, port: 9090 }
  - { name: dns, port: 53, protocol: UDP }
`;

describe('translation: YAML in, xDS Address resources out', () => {
  it('produces the workload and the service in the protobufjs toObject shape', () => {
    const { addresses } = translate(load(MESH));
    expect([...addresses.keys()].sort()).toEqual([
      'Kubernetes//Pod/shop/web-7d4b9c-abcde',
      'shop/web.shop.svc.cluster.local',
    ]);
    const expected: Address = {
      workload: {
        uid: 'Kubernetes//Pod/shop/web-7d4b9c-abcde',
        name: 'web-7d4b9c-abcde',
        namespace: 'shop',
        addresses: [ip4('10.1.0.5')],
        hostname: '',
        network: '',
        tunnelProtocol: 'HBONE',
        trustDomain: '',
        serviceAccount: 'web',
        node: 'node-1',
        canonicalName: 'web',
        canonicalRevision: 'v2',
        workloadType: 'DEPLOYMENT',
        workloadName: 'web',
        services: {
          'shop/web.shop.svc.cluster.local': {
            ports: [
              { servicePort: 80, targetPort: 8080, appProtocol: 'HTTP11' },
              { servicePort: 9090, targetPort: 9090, appProtocol: 'GRPC' },
            ],
          },
        },
        authorizationPolicies: [],
        status: 'HEALTHY',
        clusterId: 'Kubernetes',
      },
    };
    expect(addresses.get('Kubernetes//Pod/shop/web-7d4b9c-abcde')).toEqual(expected);
    expect(addresses.get('shop/web.shop.svc.cluster.local')).toEqual({
      service: {
        name: 'web',
        namespace: 'shop',
        hostname: 'web.shop.svc.cluster.local',
        addresses: [{ network: '', address: ip4('10.96.0.10') }],
        ports: [
          { servicePort: 80, targetPort: 0, appProtocol: 'HTTP11' },
          { servicePort: 9090, targetPort: 9090, appProtocol: 'GRPC' },
        ],
        subjectAltNames: [],
      },
    });
  });

  it('uses HBONE only once the CNI confirmed redirection, and only for enrolled pods', () => {
    const pod = (name: string, labels: string, annotations: string) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop, labels: {${labels}}, annotations: {${annotations}} }
spec: {}
status: { phase: Running, podIP: 10.1.0.${name.length} }
`;
    const yaml = [
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}',
      pod('a', '', 'ambient.istio.io/redirection: enabled'),
      pod('bb', '', 'ambient.istio.io/redirection: pending'),
      pod('ccc', 'istio.io/dataplane-mode: none', 'ambient.istio.io/redirection: enabled'),
      pod('dddd', '', ''),
      pod('eeeee', '', 'ambient.istio.io/redirection: enabled, sidecar.istio.io/status: "{}"'),
    ].join('\n---\n');
    const { addresses } = translate(load(yaml));
    const tunnel = (name: string) => {
      const a = addresses.get(`Kubernetes//Pod/shop/${name}`);
      return a && 'workload' in a ? a.workload.tunnelProtocol : undefined;
    };
    expect(['a', 'bb', 'ccc', 'dddd', 'eeeee'].map(tunnel)).toEqual([
      'HBONE',
      'NONE',
      'NONE',
      'NONE',
      'NONE',
    ]);
  });

  it('skips pods without an IP or in a terminal phase; marks not-ready pods unhealthy', () => {
    const yaml = `
apiVersion: v1
kind: Pod
metadata: { name: pending, namespace: a }
spec: {}
status: { phase: Pending }
---
apiVersion: v1
kind: Pod
metadata: { name: done, namespace: a }
spec: {}
status: { phase: Succeeded, podIP: 10.0.0.1 }
---
apiVersion: v1
kind: Pod
metadata: { name: starting, namespace: a }
spec: {}
status: { phase: Running, podIP: 10.0.0.2, conditions: [{ type: Ready, status: "False" }] }
`;
    const { addresses } = translate(load(yaml));
    expect([...addresses.keys()]).toEqual(['Kubernetes//Pod/a/starting']);
    const w = addresses.get('Kubernetes//Pod/a/starting')!;
    expect('workload' in w && w.workload.status).toBe('UNHEALTHY');
  });

  it('translates dual-stack pods and services, cluster id, trust domain and networks', () => {
    const yaml = `
apiVersion: v1
kind: Namespace
metadata: { name: a, labels: { topology.istio.io/network: net-a } }
---
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: a }
spec: {}
status: { podIP: 10.0.0.2, podIPs: [{ ip: 10.0.0.2 }, { ip: "fd00::2" }] }
---
apiVersion: v1
kind: Service
metadata: { name: s, namespace: a }
spec: { clusterIPs: [10.96.0.1, "fd00:96::1"], ports: [{ port: 80 }] }
`;
    const { addresses } = translate(load(yaml), {
      clusterId: 'c1',
      trustDomain: 'example.org',
      network: 'net-default',
    });
    const w = addresses.get('c1//Pod/a/p')!;
    expect('workload' in w && w.workload).toMatchObject({
      addresses: [ip4('10.0.0.2'), Uint8Array.from([0xfd, 0, ...new Array(13).fill(0), 2])],
      network: 'net-a',
      trustDomain: 'example.org',
      clusterId: 'c1',
      serviceAccount: 'default',
      workloadType: 'POD',
      workloadName: 'p',
      canonicalName: 'p',
      canonicalRevision: 'latest',
      services: {},
    });
    const s = addresses.get('a/s.a.svc.cluster.local')!;
    expect('service' in s && s.service.addresses.map((x) => [x.network, x.address.length])).toEqual([
      ['net-default', 4],
      ['net-default', 16],
    ]);
  });

  it('translates WorkloadEntry and ServiceEntry (VIPs, selector and inline endpoints)', () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm1, namespace: legacy, annotations: { ambient.istio.io/redirection: enabled } }
spec: { address: 192.168.1.10, labels: { app: db, istio.io/dataplane-mode: ambient }, serviceAccount: db, ports: { tcp-db: 15432 } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: legacy }
spec:
  hosts: [db.legacy.internal]
  addresses: [240.0.0.1]
  ports: [{ number: 5432, name: tcp-db, protocol: TCP }]
  resolution: STATIC
  workloadSelector: { labels: { app: db } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: legacy }
spec:
  hosts: [api.example.com]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: STATIC
  subjectAltNames: [spiffe://example.com/ns/x/sa/api]
  endpoints: [{ address: 203.0.113.7 }]
`;
    const { addresses } = translate(load(yaml));
    expect([...addresses.keys()].sort()).toEqual([
      'Kubernetes/networking.istio.io/ServiceEntry/legacy/api/203.0.113.7',
      'Kubernetes/networking.istio.io/WorkloadEntry/legacy/vm1',
      'legacy/api.example.com',
      'legacy/db.legacy.internal',
    ]);
    const vm = addresses.get('Kubernetes/networking.istio.io/WorkloadEntry/legacy/vm1')!;
    expect('workload' in vm && vm.workload).toMatchObject({
      addresses: [ip4('192.168.1.10')],
      tunnelProtocol: 'HBONE',
      serviceAccount: 'db',
      canonicalName: 'db',
      services: {
        'legacy/db.legacy.internal': {
          ports: [{ servicePort: 5432, targetPort: 15432, appProtocol: 'TCP' }],
        },
      },
    });
    expect(addresses.get('legacy/db.legacy.internal')).toEqual({
      service: {
        name: 'db',
        namespace: 'legacy',
        hostname: 'db.legacy.internal',
        addresses: [{ network: '', address: ip4('240.0.0.1') }],
        ports: [{ servicePort: 5432, targetPort: 5432, appProtocol: 'TCP' }],
        subjectAltNames: [],
      },
    });
    const ep = addresses.get('Kubernetes/networking.istio.io/ServiceEntry/legacy/api/203.0.113.7')!;
    expect('workload' in ep && ep.workload.services).toEqual({
      'legacy/api.example.com': { ports: [{ servicePort: 443, targetPort: 443, appProtocol: 'TLS' }] },
    });
    const api = addresses.get('legacy/api.example.com')!;
    expect('service' in api && api.service.subjectAltNames).toEqual(['spiffe://example.com/ns/x/sa/api']);
  });
});

describe('translation: waypoints', () => {
  const base = (nsLabels: string, podLabels: string, svcLabels: string, waypointFor = 'service') => `
apiVersion: v1
kind: Namespace
metadata: { name: app, labels: { ${nsLabels} } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: wp, namespace: app, labels: { istio.io/waypoint-for: ${waypointFor} } }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: other, namespace: infra, labels: { istio.io/waypoint-for: all } }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15009, protocol: HBONE }]
---
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: app, labels: { app: p, ${podLabels} } }
spec: {}
status: { podIP: 10.0.0.9 }
---
apiVersion: v1
kind: Service
metadata: { name: s, namespace: app, labels: { ${svcLabels} } }
spec: { selector: { app: p }, clusterIP: 10.96.0.9, ports: [{ port: 80 }] }
`;
  const waypoints = (yaml: string) => {
    const { addresses } = translate(load(yaml));
    const w = addresses.get('Kubernetes//Pod/app/p')!;
    const s = addresses.get('app/s.app.svc.cluster.local')!;
    return {
      workload: 'workload' in w ? w.workload.waypoint : 'missing',
      service: 'service' in s ? s.service.waypoint : 'missing',
    };
  };
  const local = {
    hostname: { namespace: 'app', hostname: 'wp.app.svc.cluster.local' },
    hboneMtlsPort: 15008,
  };
  const infra = {
    hostname: { namespace: 'infra', hostname: 'other.infra.svc.cluster.local' },
    hboneMtlsPort: 15009,
  };

  it('a namespace reference applies to services when the waypoint is for services', () => {
    expect(waypoints(base('istio.io/use-waypoint: wp', '', ''))).toEqual({
      workload: undefined,
      service: local,
    });
  });

  it('waypoint-for workload and all decide which references apply', () => {
    expect(waypoints(base('istio.io/use-waypoint: wp', '', '', 'workload'))).toEqual({
      workload: local,
      service: undefined,
    });
    expect(waypoints(base('istio.io/use-waypoint: wp', '', '', 'all'))).toEqual({
      workload: local,
      service: local,
    });
    expect(waypoints(base('istio.io/use-waypoint: wp', '', '', 'none'))).toEqual({
      workload: undefined,
      service: undefined,
    });
  });

  it('service and pod labels beat the namespace, and none opts out', () => {
    expect(
      waypoints(
        base(
          'istio.io/use-waypoint: wp',
          'istio.io/use-waypoint: other, istio.io/use-waypoint-namespace: infra',
          'istio.io/use-waypoint: none',
          'all',
        ),
      ),
    ).toEqual({ workload: infra, service: undefined });
    expect(
      waypoints(
        base(
          'istio.io/use-waypoint: none',
          '',
          'istio.io/use-waypoint: other, istio.io/use-waypoint-namespace: infra',
        ),
      ),
    ).toEqual({ workload: undefined, service: infra });
  });

  it('a reference to a missing Gateway or a non-waypoint class resolves to nothing', () => {
    expect(waypoints(base('istio.io/use-waypoint: missing', '', ''))).toEqual({
      workload: undefined,
      service: undefined,
    });
    const yaml = base('istio.io/use-waypoint: wp', '', '').replace(
      'gatewayClassName: istio-waypoint',
      'gatewayClassName: istio',
    );
    expect(waypoints(yaml)).toEqual({ workload: undefined, service: undefined });
  });
});

describe('translation: authorization', () => {
  const yaml = `
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: app, labels: { app: api } }
spec: {}
status: { podIP: 10.0.0.3 }
---
apiVersion: v1
kind: Pod
metadata: { name: q, namespace: app, labels: { app: other } }
spec: {}
status: { podIP: 10.0.0.4 }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-api, namespace: app }
spec:
  selector: { matchLabels: { app: api } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: [cluster.local/ns/app/sa/web] } }], to: [{ operation: { ports: ["8080"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ns-deny, namespace: app }
spec: { action: DENY, rules: [{ to: [{ operation: { ports: ["22"] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: mesh-wide, namespace: istio-system }
spec: { selector: { matchLabels: { app: api } }, action: DENY, rules: [{}] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: at-waypoint, namespace: app }
spec: { targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: wp }], rules: [{}] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: app }
spec: { selector: { matchLabels: { app: api } }, action: CUSTOM, provider: { name: opa } }
`;

  it('lists selector policies on the workloads they select, including root-namespace ones', () => {
    const { addresses } = translate(load(yaml), { authorizationConverter: testConverter });
    const p = addresses.get('Kubernetes//Pod/app/p')!;
    const q = addresses.get('Kubernetes//Pod/app/q')!;
    expect('workload' in p && p.workload.authorizationPolicies).toEqual([
      'app/allow-api',
      'istio-system/mesh-wide',
    ]);
    expect('workload' in q && q.workload.authorizationPolicies).toEqual([]);
  });

  it('converts ztunnel-enforced ALLOW/DENY policies with their scope through the pluggable converter', () => {
    const { authorizations } = translate(load(yaml), { authorizationConverter: testConverter });
    expect([...authorizations.keys()].sort()).toEqual([
      'app/allow-api',
      'app/ns-deny',
      'istio-system/mesh-wide',
    ]);
    expect(authorizations.get('app/ns-deny')).toMatchObject({ scope: 'NAMESPACE', action: 'DENY' });
    expect(authorizations.get('istio-system/mesh-wide')).toMatchObject({ scope: 'WORKLOAD_SELECTOR' });
    expect(authorizations.get('app/allow-api')?.rules[0]?.clauses[0]?.matches[0]?.principals).toEqual([
      { exact: 'cluster.local/ns/app/sa/web' },
    ]);
  });

  it('keeps converter warnings per policy', () => {
    const t = new MeshTranslator({ authorizationConverter: testConverter });
    t.apply({
      upserted: load(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: http, namespace: app }
spec: { rules: [{ to: [{ operation: { paths: [/admin] } }] }] }
`),
      removed: [],
    });
    expect(t.warnings().get('AuthorizationPolicy/app/http')).toEqual([
      { path: 'spec.rules[0].to[0].operation.paths', message: 'HTTP' },
    ]);
  });

  it('converts PeerAuthentication through its converter and lists selector ones on the workloads', () => {
    const t = new MeshTranslator({
      authorizationConverter: testConverter,
      peerAuthenticationConverter: testPeerConverter,
    });
    const pa = load(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict-api, namespace: app }
spec: { selector: { matchLabels: { app: api } }, mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ns-wide, namespace: app }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: permissive, namespace: app }
spec: { selector: { matchLabels: { app: other } }, mtls: { mode: PERMISSIVE } }
`);
    const d = t.apply({ upserted: [...load(yaml), ...pa], removed: [] });
    expect(d.authorizations.upserted.get('app/converted_peer_authentication_strict-api')).toMatchObject({
      scope: 'WORKLOAD_SELECTOR',
      action: 'DENY',
    });
    expect(d.authorizations.upserted.get('app/converted_peer_authentication_ns-wide')).toMatchObject({
      scope: 'NAMESPACE',
    });
    const p = t.addresses().get('Kubernetes//Pod/app/p')!;
    expect('workload' in p && p.workload.authorizationPolicies).toEqual([
      'app/allow-api',
      'app/converted_peer_authentication_strict-api',
      'istio-system/mesh-wide',
    ]);
    const q = t.addresses().get('Kubernetes//Pod/app/q')!;
    expect('workload' in q && q.workload.authorizationPolicies).toEqual([]);
    // Relaxing it to PERMISSIVE removes the Authorization and the reference, touching only the selected workload.
    const relaxed = load(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict-api, namespace: app }
spec: { selector: { matchLabels: { app: api } }, mtls: { mode: PERMISSIVE } }
`);
    const d2 = t.apply({ upserted: relaxed, removed: [] });
    expect([...d2.authorizations.removed]).toEqual(['app/converted_peer_authentication_strict-api']);
    expect([...d2.addresses.upserted.keys()]).toEqual(['Kubernetes//Pod/app/p']);
  });

  it('answers the CA node-locator query from live pods only', () => {
    const t = new MeshTranslator();
    t.apply({
      upserted: load(`
apiVersion: v1
kind: Pod
metadata: { name: a, namespace: app }
spec: { nodeName: n1, serviceAccountName: sa1 }
status: { phase: Running, podIP: 10.0.0.1 }
---
apiVersion: v1
kind: Pod
metadata: { name: b, namespace: app }
spec: { nodeName: n2, serviceAccountName: sa2 }
status: { phase: Failed }
---
apiVersion: v1
kind: Pod
metadata: { name: c, namespace: app }
spec: { nodeName: n2 }
status: { phase: Pending }
`),
      removed: [],
    });
    expect(t.hasLivePod({ namespace: 'app', serviceAccount: 'sa1', node: 'n1' })).toBe(true);
    expect(t.hasLivePod({ namespace: 'app', serviceAccount: 'sa1', node: 'n2' })).toBe(false);
    expect(t.hasLivePod({ namespace: 'other', serviceAccount: 'sa1', node: 'n1' })).toBe(false);
    expect(t.hasLivePod({ namespace: 'app', serviceAccount: 'sa2', node: 'n2' })).toBe(false);
    expect(t.hasLivePod({ namespace: 'app', serviceAccount: 'default', node: 'n2' })).toBe(true);
    t.apply({ upserted: [], removed: [{ kind: 'Pod', namespace: 'app', name: 'a' }] });
    expect(t.hasLivePod({ namespace: 'app', serviceAccount: 'sa1', node: 'n1' })).toBe(false);
  });
});
