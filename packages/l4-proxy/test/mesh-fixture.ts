import net from 'node:net';
import { CertificateManager, createTestCa } from '@amesh/mtls-identity';
import { parseIp, WorkloadStore } from '@amesh/workload-state';
import type { Authorization, Service, Workload } from '@amesh/xds-types';
import { LoopbackPodNetwork, Ztunnel } from '../src/node/index.js';

/** A random 127.x.y.0/24 block so parallel test files never share listener addresses. */
export function loopbackBlock(): (host: number) => string {
  const x = 100 + Math.floor(Math.random() * 150);
  const y = Math.floor(Math.random() * 250);
  return (host) => `127.${x}.${y}.${host}`;
}

export function bytes(ip: string): Uint8Array {
  const b = parseIp(ip);
  if (!b) throw new Error(`bad ip ${ip}`);
  return b;
}

export function podWorkload(uid: string, ip: string, fields: Partial<Workload> = {}): Workload {
  return {
    uid,
    name: uid,
    namespace: 'default',
    addresses: [bytes(ip)],
    hostname: '',
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: '',
    serviceAccount: uid,
    waypoint: null,
    networkGateway: null,
    node: 'node',
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
    ...fields,
  };
}

export function serviceOf(name: string, vip: string, port: number, targetPort: number): Service {
  return {
    name,
    namespace: 'default',
    hostname: `${name}.default.svc.cluster.local`,
    addresses: [{ network: '', address: bytes(vip) }],
    ports: [{ servicePort: port, targetPort, appProtocol: 'TCP' }],
    subjectAltNames: [],
    waypoint: null,
    loadBalancing: null,
    ipFamilies: 'AUTOMATIC',
  };
}

export function policy(name: string, fields: Partial<Authorization>): Authorization {
  return {
    name,
    namespace: 'default',
    scope: 'NAMESPACE',
    action: 'ALLOW',
    rules: [],
    dryRun: false,
    ...fields,
  };
}

/** Two nodes in local mode sharing one mesh state and one CA, as a control plane would make them. */
export async function twoNodeMesh() {
  const ip = loopbackBlock();
  const ca = createTestCa();
  const stores = [new WorkloadStore(), new WorkloadStore()];
  const logs: string[][] = [[], []];
  const ztunnels = stores.map(
    (store, i) =>
      new Ztunnel({
        store,
        certificates: new CertificateManager({ caClient: ca.client, roots: ca.roots }),
        network: new LoopbackPodNetwork(),
        capture: 'explicit',
        log: (line) => logs[i]!.push(line),
        pool: { idleTimeoutMs: 1_000 },
      }),
  );
  const socksServers: net.Server[] = [];
  const apply = {
    workload(w: Workload) {
      for (const s of stores) s.applyAddress(w.uid, { type: 'workload', workload: w });
    },
    service(s: Service) {
      for (const st of stores)
        st.applyAddress(`${s.namespace}/${s.hostname}`, { type: 'service', service: s });
    },
    policy(p: Authorization | string) {
      const name = typeof p === 'string' ? p : `${p.namespace}/${p.name}`;
      for (const st of stores) st.applyAuthorization(name, typeof p === 'string' ? undefined : p);
    },
  };
  return {
    ip,
    ca,
    stores,
    ztunnels,
    logs,
    apply,
    async socks(node: number, host: string): Promise<number> {
      const server = net.createServer({ allowHalfOpen: true });
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
      ztunnels[node]!.serveSocks5(server);
      socksServers.push(server);
      return (server.address() as net.AddressInfo).port;
    },
    async close() {
      await Promise.all(ztunnels.map((z) => z.close(200)));
      for (const s of socksServers) s.close();
    },
  };
}
