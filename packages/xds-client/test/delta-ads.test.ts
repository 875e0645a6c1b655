import * as grpc from '@grpc/grpc-js';
import {
  type Address,
  type Authorization,
  encodeAddress,
  encodeDeltaDiscoveryResponse,
  TypeUrl,
} from '@amesh/xds-types';
import { afterEach, describe, expect, it } from 'vitest';
import { XdsServer } from '@amesh/xds-server/node';
import { WILDCARD } from '../src/index.js';
import { XdsClient } from '../src/node/index.js';
import { addressInputs, logSink, policy, policyInputs, startXdsServer, until, workload } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function ztunnelClient(target: string, extra: Partial<ConstructorParameters<typeof XdsClient>[0]> = {}) {
  const client = new XdsClient({
    target,
    credentials: grpc.credentials.createInsecure(),
    node: { id: 'ztunnel~10.0.0.9~ztunnel-abc.istio-system~istio-system.svc.cluster.local' },
    mode: 'delta',
    ...extra,
  });
  cleanups.push(() => client.close());
  return client;
}

describe('Delta ADS between our client and server (Istio types, wildcard)', () => {
  it('syncs workloads, services and policies, then pushes only changes and removals', async () => {
    const srv = await startXdsServer();
    cleanups.push(srv.stop);
    srv.xds.setResources(
      TypeUrl.address,
      addressInputs([
        [
          'w1',
          workload('w1', [10, 0, 0, 1], {
            serviceAccount: 'sa1',
            services: {
              'default/svc.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] },
            },
          }),
          '1',
        ],
        ['w2', workload('w2', [10, 0, 0, 2]), '1'],
        [
          'default/svc.default.svc.cluster.local',
          {
            type: 'service',
            service: {
              name: 'svc',
              namespace: 'default',
              hostname: 'svc.default.svc.cluster.local',
              addresses: [{ network: '', address: new Uint8Array([10, 96, 0, 1]) }],
              ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'HTTP11' }],
            },
          },
          '1',
        ],
      ]),
    );
    srv.xds.setResources(
      TypeUrl.authorization,
      policyInputs([[policy('allow-a', 'cluster.local/ns/default/sa/a'), '1']]),
    );

    const client = ztunnelClient(srv.target);
    const addresses = new Map<string, Address>();
    const policies = new Map<string, Authorization>();
    client.watch<Address>(TypeUrl.address, WILDCARD, {
      onChanged: (name, value) => addresses.set(name, value),
      onRemoved: (name) => addresses.delete(name),
    });
    client.watch<Authorization>(TypeUrl.authorization, WILDCARD, {
      onChanged: (name, value) => policies.set(name, value),
      onRemoved: (name) => policies.delete(name),
    });
    client.start();
    await until(() => addresses.size === 3 && policies.size === 1, 'initial sync');

    const w1 = addresses.get('w1');
    expect(w1?.type).toBe('workload');
    expect(w1?.workload?.serviceAccount).toBe('sa1');
    expect([...(w1?.workload?.addresses[0] ?? [])]).toEqual([10, 0, 0, 1]);
    expect(w1?.workload?.services['default/svc.default.svc.cluster.local']?.ports[0]?.targetPort).toBe(8080);
    expect(addresses.get('default/svc.default.svc.cluster.local')?.service?.ports[0]?.appProtocol).toBe(
      'HTTP11',
    );
    const p = policies.get('default/allow-a');
    expect(p?.action).toBe('ALLOW');
    expect(p?.rules[0]?.clauses[0]?.matches[0]?.principals[0]).toEqual({
      matchType: 'exact',
      exact: 'cluster.local/ns/default/sa/a',
    });
    expect(p?.rules[0]?.clauses[0]?.matches[0]?.destinationPorts).toEqual([8080]);

    // Server side: ACKed, node known.
    await until(() => srv.xds.clients()[0]?.types.every((t) => t.status.state === 'acked') === true, 'ACKs');
    const info = srv.xds.clients()[0]!;
    expect(info.nodeId).toMatch(/^ztunnel~/);
    expect(info.mode).toBe('delta');
    expect(info.types.find((t) => t.typeUrl === TypeUrl.address)).toMatchObject({
      wildcard: true,
      resourceCount: 3,
      nacks: 0,
    });

    // One change and one removal.
    const changes: string[] = [];
    client.watch<Address>(TypeUrl.address, WILDCARD, {
      onChanged: (name) => changes.push(`changed ${name}`),
      onRemoved: (name) => changes.push(`removed ${name}`),
    });
    changes.length = 0;
    srv.xds.update(
      TypeUrl.address,
      new Map([
        ['w2', { version: '2', resource: encodeAddress(workload('w2', [10, 0, 0, 22])) }],
        ['w1', null],
      ]),
    );
    await until(() => changes.length === 2, 'update');
    expect(changes.sort()).toEqual(['changed w2', 'removed w1']);
    expect([...(addresses.get('w2')?.workload?.addresses[0] ?? [])]).toEqual([10, 0, 0, 22]);
    expect(addresses.has('w1')).toBe(false);
    expect(client.get(TypeUrl.address, 'w2')).toMatchObject({ state: 'acked', version: '2' });
    expect(client.metrics().nacks).toBe(0);
  });

  it('NACKs an undecodable resource with error detail, keeps the last good value, and the server records the NACK', async () => {
    const srv = await startXdsServer();
    cleanups.push(srv.stop);
    srv.xds.setResources(TypeUrl.address, addressInputs([['w1', workload('w1', [10, 0, 0, 1]), '1']]));
    const sink = logSink();
    const client = ztunnelClient(srv.target, { log: sink.log });
    const nacks: string[] = [];
    client.watch(TypeUrl.address, WILDCARD, { onNack: (errors) => nacks.push(...errors.map((e) => e.code)) });
    client.start();
    await until(() => client.get(TypeUrl.address, 'w1')?.state === 'acked', 'w1 acked');

    // Garbage bytes under w1's name, and a workload with a 3-byte IP.
    srv.xds.update(
      TypeUrl.address,
      new Map([
        ['w1', { version: '2', resource: new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]) }],
        ['w3', { version: '1', resource: encodeAddress(workload('w3', [10, 0, 0])) }],
        ['w4', { version: '1', resource: encodeAddress(workload('w4', [10, 0, 0, 4])) }],
      ]),
    );
    await until(() => nacks.length > 0, 'NACK');
    const w1 = client.get(TypeUrl.address, 'w1');
    expect(w1?.state).toBe('nacked');
    if (w1?.state !== 'nacked') throw new Error('unreachable');
    expect(w1.version).toBe('1');
    expect((w1.value as Address).workload?.uid).toBe('w1');
    expect(client.get(TypeUrl.address, 'w3')?.state).toBe('nacked');
    // The valid resource in the same response is accepted.
    expect(client.get(TypeUrl.address, 'w4')?.state).toBe('acked');
    expect(nacks).toContain('XDS_ERR_RESOURCE_INVALID');
    expect(client.metrics().nacks).toBe(1);
    expect(
      sink.records.some(
        (r) => r.level === 'warn' && r.msg.startsWith('NACK type.googleapis.com/istio.workload.Address'),
      ),
    ).toBe(true);

    await until(() => srv.xds.clients()[0]?.types[0]?.lastNack !== undefined, 'server saw NACK');
    const seen = srv.xds.clients()[0]!.types[0]!;
    expect(seen.status.state).toBe('nacked');
    expect(seen.lastNack?.message).toMatch(
      /2 invalid type\.googleapis\.com\/istio\.workload\.Address resource\(s\)/,
    );
    expect(seen.lastNack?.message).toMatch(/w3 has an address of 3 bytes/);

    // A good version afterwards is accepted and ACKed.
    srv.xds.update(
      TypeUrl.address,
      new Map([['w1', { version: '3', resource: encodeAddress(workload('w1', [10, 0, 0, 11])) }]]),
    );
    await until(() => client.get(TypeUrl.address, 'w1')?.state === 'acked', 'w1 good again');
    await until(() => srv.xds.clients()[0]?.types[0]?.status.state === 'acked', 'server saw ACK');
  });

  it('keeps serving last known good while the control plane is away, then resumes with initial_resource_versions', async () => {
    const srv = await startXdsServer();
    srv.xds.setResources(
      TypeUrl.address,
      addressInputs([
        ['w1', workload('w1', [10, 0, 0, 1]), '1'],
        ['w2', workload('w2', [10, 0, 0, 2]), '1'],
      ]),
    );
    const client = ztunnelClient(srv.target, { backoff: { initialMs: 10, maxMs: 200 } });
    const changed: string[] = [];
    const removed: string[] = [];
    client.watch(TypeUrl.address, WILDCARD, {
      onChanged: (n) => changed.push(n),
      onRemoved: (n) => removed.push(n),
    });
    client.start();
    await until(() => changed.length === 2, 'initial sync');

    srv.kill();
    await until(() => client.connectionState().state === 'backoff', 'client noticed');
    expect(client.get(TypeUrl.address, 'w1')?.state).toBe('acked');
    expect(client.resources(TypeUrl.address).size).toBe(2);
    expect(removed).toEqual([]);

    // A new control plane on the same port with w1 unchanged, w2 gone, w3 new.
    const serverLog: string[] = [];
    const again = await startXdsServer(
      new XdsServer({ debounceMs: 5, log: (r) => serverLog.push(r.msg) }),
      srv.port,
    );
    cleanups.push(again.stop);
    again.xds.setResources(
      TypeUrl.address,
      addressInputs([
        ['w1', workload('w1', [10, 0, 0, 1]), '1'],
        ['w3', workload('w3', [10, 0, 0, 3]), '1'],
      ]),
    );
    await until(() => removed.length === 1 && changed.includes('w3'), 'resync after reconnect');
    expect(removed).toEqual(['w2']);
    // w1 was not resent: the client told the server it had version 1.
    expect(changed.filter((n) => n === 'w1')).toHaveLength(1);
    expect(serverLog).toContain(
      'client ztunnel~10.0.0.9~ztunnel-abc.istio-system~istio-system.svc.cluster.local subscribed to type.googleapis.com/istio.workload.Address (wildcard, 2 initial resource versions)',
    );
    // The server tracks what the client holds: w1 (claimed) and w3 (sent).
    expect(again.xds.clients()[0]?.types[0]?.resourceCount).toBe(2);
    expect(client.metrics().streamTerminations).toBeGreaterThanOrEqual(1);
    expect(client.connectionState().state).toBe('connected');
  });
});

describe('watchers', () => {
  it('a throwing watcher is logged and does not stop the others or the stream', async () => {
    const srv = await startXdsServer();
    cleanups.push(srv.stop);
    srv.xds.setResources(TypeUrl.address, addressInputs([['w1', workload('w1', [10, 0, 0, 1]), '1']]));
    const sink = logSink();
    const client = ztunnelClient(srv.target, { log: sink.log });
    const seen: string[] = [];
    client.watch(TypeUrl.address, WILDCARD, {
      onChanged: () => {
        throw new Error('boom');
      },
    });
    client.watch(TypeUrl.address, 'w1', { onChanged: (name) => seen.push(name) });
    client.start();
    await until(() => seen.length === 1, 'second watcher');
    expect(
      sink.records.some(
        (r) => r.level === 'error' && r.msg === `watcher of ${TypeUrl.address} * threw: boom`,
      ),
    ).toBe(true);
    srv.xds.update(TypeUrl.address, addressInputs([['w1', workload('w1', [10, 0, 0, 2]), '2']]));
    await until(() => seen.length === 2, 'update after the throw');
  });
});

describe('bad control plane', () => {
  it('restarts the stream on a garbage message, logs it, and keeps the last good state', async () => {
    // A server whose first answer is valid and every later one is bytes that
    // are not a DeltaDiscoveryResponse.
    const garbage = new grpc.Server();
    cleanups.push(() => garbage.forceShutdown());
    let answers = 0;
    const good = encodeDeltaDiscoveryResponse({
      typeUrl: TypeUrl.address,
      nonce: 'n1',
      resources: [
        {
          name: 'w1',
          version: '1',
          resource: { typeUrl: TypeUrl.address, value: encodeAddress(workload('w1', [10, 0, 0, 1])) },
        },
      ],
    });
    const raw = (b: Buffer) => b;
    garbage.addService(
      {
        DeltaAggregatedResources: {
          path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
          requestStream: true,
          responseStream: true,
          requestSerialize: raw,
          requestDeserialize: raw,
          responseSerialize: raw,
          responseDeserialize: raw,
        },
      },
      {
        DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          call.on('data', () =>
            call.write(answers++ === 0 ? Buffer.from(good) : Buffer.from([0x12, 0x7f, 0x01])),
          );
          call.on('error', () => {});
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      garbage.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const sink = logSink();
    const client = ztunnelClient(`127.0.0.1:${port}`, {
      log: sink.log,
      backoff: { initialMs: 10, maxMs: 50 },
    });
    client.watch(TypeUrl.address, WILDCARD, {});
    client.start();
    await until(() => client.metrics().garbageMessages >= 2, 'garbage seen twice (reconnected)');
    expect(client.get(TypeUrl.address, 'w1')).toMatchObject({ state: 'acked', version: '1' });
    expect(
      sink.records.some(
        (r) =>
          r.level === 'error' &&
          /not a discovery response; restarting the stream, keeping last good state/.test(r.msg),
      ),
    ).toBe(true);
    expect(client.metrics().streamTerminations).toBeGreaterThanOrEqual(2);
  });

  it('fails a stream whose message exceeds maxMessageBytes and reconnects', async () => {
    const srv = await startXdsServer();
    cleanups.push(srv.stop);
    srv.xds.setResources(
      TypeUrl.address,
      addressInputs([['w1', workload('w1', [10, 0, 0, 1], { name: 'x'.repeat(4000) }), '1']]),
    );
    const sink = logSink();
    const client = ztunnelClient(srv.target, {
      log: sink.log,
      maxMessageBytes: 1024,
      backoff: { initialMs: 10, maxMs: 50 },
    });
    client.watch(TypeUrl.address, WILDCARD, {});
    client.start();
    await until(() => client.metrics().streamTerminations >= 2, 'two terminations');
    expect(client.get(TypeUrl.address, 'w1')).toBeUndefined();
    expect(sink.records.some((r) => /RESOURCE_EXHAUSTED/.test(r.msg))).toBe(true);
  });

  it('NACKs a resource over maxResourceBytes and keeps the last good one', async () => {
    const srv = await startXdsServer();
    cleanups.push(srv.stop);
    srv.xds.setResources(TypeUrl.address, addressInputs([['w1', workload('w1', [10, 0, 0, 1]), '1']]));
    const client = ztunnelClient(srv.target, { maxResourceBytes: 200 });
    client.watch(TypeUrl.address, WILDCARD, {});
    client.start();
    await until(() => client.get(TypeUrl.address, 'w1')?.state === 'acked', 'w1');
    srv.xds.update(
      TypeUrl.address,
      addressInputs([['w1', workload('w1', [10, 0, 0, 1], { name: 'y'.repeat(300) }), '2']]),
    );
    await until(() => client.get(TypeUrl.address, 'w1')?.state === 'nacked', 'nack');
    const status = client.get(TypeUrl.address, 'w1');
    expect(status).toMatchObject({ state: 'nacked', version: '1' });
    expect(status?.state === 'nacked' && status.error).toMatch(/exceeds the limit of 200/);
  });
});
