import { describe, expect, it } from 'vitest';
import { type StateChange, WorkloadStore, workloadIdentity } from '../src/index.js';
import { backs, ip, service, workload } from './fixtures.js';

const echo = service('echo', { vips: ['10.96.0.10', 'fd00:96::10'] });

function meshWith(...items: Array<['w', ReturnType<typeof workload>] | ['s', ReturnType<typeof service>]>) {
  const store = new WorkloadStore();
  for (const [kind, item] of items) {
    if (kind === 's')
      store.applyAddress(`${item.namespace}/${item.hostname}`, { type: 'service', service: item });
    else store.applyAddress(item.uid, { type: 'workload', workload: item });
  }
  return store;
}

describe('identity', () => {
  it('uses Istio defaults for an empty trust domain and service account', () => {
    expect(workloadIdentity(workload('a'))).toBe('spiffe://cluster.local/ns/default/sa/default');
    expect(
      workloadIdentity(workload('a', { trustDomain: 'td.example', serviceAccount: 'sa1', namespace: 'foo' })),
    ).toBe('spiffe://td.example/ns/foo/sa/sa1');
  });
});

describe('WorkloadStore indexes', () => {
  it('finds workloads by IP (v4 and v6, mapped v4) and services by VIP', () => {
    const pod = workload('pod-a', { ips: ['10.0.1.5', 'fd00::1:5'] });
    const store = meshWith(['s', echo], ['w', pod]);
    expect(store.workloadByIp('10.0.1.5')?.uid).toBe('pod-a');
    expect(store.workloadByIp('::ffff:10.0.1.5')?.uid).toBe('pod-a');
    expect(store.workloadByIp('fd00:0::1:5')?.uid).toBe('pod-a');
    expect(store.serviceByVip('fd00:96::10')?.name).toBe('echo');
    expect(store.workloadByIp('10.0.1.5', 'other-network')).toBeUndefined();
  });

  it('re-indexes on update and forgets on removal, with change events', () => {
    const changes: StateChange[] = [];
    const store = new WorkloadStore();
    store.onChange((c) => changes.push(c));
    store.applyAddress('pod-a', { type: 'workload', workload: workload('pod-a', { ips: ['10.0.1.5'] }) });
    store.applyAddress('pod-a', { type: 'workload', workload: workload('pod-a', { ips: ['10.0.1.6'] }) });
    expect(store.workloadByIp('10.0.1.5')).toBeUndefined();
    expect(store.workloadByIp('10.0.1.6')?.uid).toBe('pod-a');
    store.applyAddress('pod-a', undefined);
    store.applyAddress('never-there', undefined);
    expect(store.workloadByIp('10.0.1.6')).toBeUndefined();
    expect(
      changes.map((c) => `${c.kind}:${c.name}:${c.kind === 'workload' && c.workload ? 'set' : 'del'}`),
    ).toEqual(['workload:pod-a:set', 'workload:pod-a:set', 'workload:pod-a:del']);
    store.applyAuthorization('default/allow', {
      name: 'allow',
      namespace: 'default',
      scope: 'NAMESPACE',
      action: 'ALLOW',
      rules: [],
      dryRun: false,
    });
    expect(store.policies().size).toBe(1);
    store.applyAuthorization('default/allow', undefined);
    expect(store.policies().size).toBe(0);
    expect(changes).toHaveLength(5);
  });

  it('lists endpoints of a service from the workloads that name it', () => {
    const store = meshWith(
      ['s', echo],
      ['w', workload('e1', { ips: ['10.0.1.1'], services: backs(echo) })],
      ['w', workload('e2', { ips: ['10.0.2.1'], services: backs(echo) })],
      ['w', workload('other', { ips: ['10.0.3.1'] })],
    );
    expect(
      store
        .endpointsOf(echo)
        .map((w) => w.uid)
        .sort(),
    ).toEqual(['e1', 'e2']);
    store.applyAddress('e1', undefined);
    expect(store.endpointsOf(echo).map((w) => w.uid)).toEqual(['e2']);
  });
});

describe('resolveOutbound', () => {
  it('sends a service VIP to a healthy endpoint over HBONE, round robin, with the target port', () => {
    const store = meshWith(
      ['s', echo],
      ['w', workload('e1', { ips: ['10.0.1.1'], services: backs(echo), serviceAccount: 'echo' })],
      ['w', workload('e2', { ips: ['10.0.2.1'], services: backs(echo), serviceAccount: 'echo' })],
      ['w', workload('sick', { ips: ['10.0.3.1'], services: backs(echo), status: 'UNHEALTHY' })],
    );
    const targets = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const route = store.resolveOutbound({ ip: '10.96.0.10', port: 80 });
      if (route.kind !== 'hbone') throw new Error(`expected hbone, got ${route.kind}`);
      expect(route.target.port).toBe(15008);
      expect(route.authority).toBe(`${route.target.ip}:8080`);
      expect(route.expectedIdentities).toEqual(['spiffe://cluster.local/ns/default/sa/echo']);
      expect(route.via).toBe('direct');
      expect(route.service?.name).toBe('echo');
      targets.add(route.target.ip);
    }
    expect([...targets].sort()).toEqual(['10.0.1.1', '10.0.2.1']);
  });

  it('uses the endpoint’s own port mapping (named ports) before the service’s', () => {
    const store = meshWith(
      ['s', echo],
      [
        'w',
        workload('e1', { ips: ['10.0.1.1'], services: backs(echo, [{ servicePort: 80, targetPort: 9090 }]) }),
      ],
    );
    const route = store.resolveOutbound({ ip: '10.96.0.10', port: 80 });
    expect(route.kind === 'hbone' && route.authority).toBe('10.0.1.1:9090');
  });

  it('brackets IPv6 authorities', () => {
    const store = meshWith(['w', workload('v6', { ips: ['fd00::7'] })]);
    const route = store.resolveOutbound({ ip: 'fd00::7', port: 443 });
    expect(route.kind === 'hbone' && route.authority).toBe('[fd00::7]:443');
    expect(route.kind === 'hbone' && route.target.ip).toBe('fd00::7');
  });

  it('goes plaintext to a mesh workload that is not captured, and passes non-mesh addresses through', () => {
    const store = meshWith(['w', workload('legacy', { ips: ['10.0.9.9'], tunnelProtocol: 'NONE' })]);
    expect(store.resolveOutbound({ ip: '10.0.9.9', port: 5432 })).toMatchObject({
      kind: 'plaintext',
      target: { ip: '10.0.9.9', port: 5432 },
    });
    expect(store.resolveOutbound({ ip: '93.184.216.34', port: 443 })).toEqual({
      kind: 'passthrough',
      target: { ip: '93.184.216.34', port: 443 },
    });
  });

  it('reports a service without healthy endpoints as unreachable', () => {
    const store = meshWith(
      ['s', echo],
      ['w', workload('sick', { ips: ['10.0.3.1'], services: backs(echo), status: 'UNHEALTHY' })],
    );
    expect(store.resolveOutbound({ ip: '10.96.0.10', port: 80 })).toMatchObject({
      kind: 'unreachable',
      reason: 'no-healthy-endpoint',
    });
  });

  describe('with a waypoint', () => {
    const waypointSvc = service('waypoint', { vips: ['10.96.0.99'], ports: [] });
    const waypointPod = workload('wp', {
      ips: ['10.0.5.5'],
      services: backs(waypointSvc, []),
      serviceAccount: 'waypoint',
    });
    const viaWaypoint = {
      ...echo,
      waypoint: {
        destination: 'hostname' as const,
        hostname: { namespace: 'default', hostname: waypointSvc.hostname },
        hboneMtlsPort: 15008,
      },
    };

    it('sends service traffic to the waypoint with the original VIP as authority', () => {
      const store = meshWith(
        ['s', viaWaypoint],
        ['s', waypointSvc],
        ['w', waypointPod],
        ['w', workload('e1', { ips: ['10.0.1.1'], services: backs(echo) })],
      );
      expect(store.resolveOutbound({ ip: '10.96.0.10', port: 80 })).toMatchObject({
        kind: 'hbone',
        target: { ip: '10.0.5.5', port: 15008 },
        authority: '10.96.0.10:80',
        expectedIdentities: ['spiffe://cluster.local/ns/default/sa/waypoint'],
        via: 'waypoint',
      });
    });

    it('does not loop: the waypoint’s own traffic goes to the endpoint', () => {
      const store = meshWith(
        ['s', viaWaypoint],
        ['s', waypointSvc],
        ['w', waypointPod],
        ['w', workload('e1', { ips: ['10.0.1.1'], services: backs(echo) })],
      );
      expect(store.resolveOutbound({ ip: '10.96.0.10', port: 80 }, waypointPod)).toMatchObject({
        kind: 'hbone',
        target: { ip: '10.0.1.1', port: 15008 },
        via: 'direct',
      });
    });

    it('is unreachable when the waypoint has no address, and honours a waypoint by IP on a workload', () => {
      const store = meshWith(
        ['s', viaWaypoint],
        ['w', workload('e1', { ips: ['10.0.1.1'], services: backs(echo) })],
      );
      expect(store.resolveOutbound({ ip: '10.96.0.10', port: 80 })).toMatchObject({
        kind: 'unreachable',
        reason: 'waypoint-not-found',
      });
      const byIp = meshWith(
        ['w', waypointPod],
        [
          'w',
          workload('pod', {
            ips: ['10.0.1.2'],
            waypoint: {
              destination: 'address',
              address: { network: '', address: ip('10.0.5.5') },
              hboneMtlsPort: 15008,
            },
          }),
        ],
      );
      expect(byIp.resolveOutbound({ ip: '10.0.1.2', port: 7000 })).toMatchObject({
        kind: 'hbone',
        target: { ip: '10.0.5.5', port: 15008 },
        authority: '10.0.1.2:7000',
        via: 'waypoint',
      });
    });
  });
});
