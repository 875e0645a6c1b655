import { parseIp } from '@amesh/workload-state';
import type { Workload } from '@amesh/xds-types';

/** A decoded HBONE pod workload of the `bench` namespace, its service account named after it. */
export function benchWorkload(uid: string, ip: string, node: string): Workload {
  return {
    uid,
    name: uid,
    namespace: 'bench',
    addresses: [parseIp(ip)!],
    hostname: '',
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: '',
    serviceAccount: uid,
    waypoint: null,
    networkGateway: null,
    node,
    canonicalName: uid,
    canonicalRevision: 'v1',
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
  };
}
