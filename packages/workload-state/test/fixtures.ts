import type { Service, Workload } from '@amesh/xds-types';
import { parseIp } from '../src/index.js';

export function ip(text: string): Uint8Array {
  const bytes = parseIp(text);
  if (!bytes) throw new Error(`bad ip ${text}`);
  return bytes;
}

export function workload(uid: string, fields: Partial<Workload> & { ips?: string[] } = {}): Workload {
  const { ips = [], ...rest } = fields;
  return {
    uid,
    name: uid,
    namespace: 'default',
    addresses: ips.map(ip),
    hostname: '',
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: '',
    serviceAccount: '',
    waypoint: null,
    networkGateway: null,
    node: 'node1',
    canonicalName: uid,
    canonicalRevision: 'latest',
    workloadType: 'POD',
    workloadName: uid,
    nativeTunnel: false,
    services: {},
    authorizationPolicies: [],
    status: 'HEALTHY',
    clusterId: 'Kubernetes',
    applicationTunnel: null,
    locality: null,
    networkMode: 'STANDARD',
    ...rest,
  };
}

export function service(name: string, fields: Partial<Service> & { vips?: string[] } = {}): Service {
  const { vips = [], ...rest } = fields;
  const namespace = rest.namespace ?? 'default';
  return {
    name,
    namespace,
    hostname: `${name}.${namespace}.svc.cluster.local`,
    addresses: vips.map((v) => ({ network: '', address: ip(v) })),
    ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'UNKNOWN' }],
    subjectAltNames: [],
    waypoint: null,
    loadBalancing: null,
    ipFamilies: 'AUTOMATIC',
    ...rest,
  };
}

export function backs(svc: Service, ports = [{ servicePort: 80, targetPort: 8080 }]): Workload['services'] {
  return {
    [`${svc.namespace}/${svc.hostname}`]: {
      ports: ports.map((p) => ({ ...p, appProtocol: 'UNKNOWN' as const })),
    },
  };
}
