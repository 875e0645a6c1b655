import * as grpc from '@grpc/grpc-js';
import { encodeMessage, TypeUrl } from '@amesh/xds-types';
import { afterEach, describe, expect, it } from 'vitest';
import { type EnvoyMessage, WILDCARD } from '../src/index.js';
import { XdsClient } from '../src/node/index.js';
import { startXdsServer, until } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const listener = (name: string, statPrefix = '') =>
  encodeMessage('envoy.config.listener.v3.Listener', {
    name,
    apiListener: {
      apiListener: {
        typeUrl: TypeUrl.httpConnectionManager,
        value: encodeMessage(
          'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          { statPrefix },
        ),
      },
    },
  });
const cla = (name: string, port: number) =>
  encodeMessage('envoy.config.endpoint.v3.ClusterLoadAssignment', {
    clusterName: name,
    endpoints: [
      {
        lbEndpoints: [
          { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } } },
        ],
      },
    ],
  });

describe('SotW ADS between our client and server (Envoy types)', () => {
  it('serves LDS as a full set and EDS by name, removes dropped listeners, and NACKs a bad one', async () => {
    const srv = await startXdsServer();
    cleanups.push(srv.stop);
    srv.xds.setResources(
      TypeUrl.listener,
      new Map([
        ['a', { version: '1', resource: listener('a') }],
        ['b', { version: '1', resource: listener('b') }],
      ]),
    );
    srv.xds.setResources(
      TypeUrl.clusterLoadAssignment,
      new Map([
        ['e1', { version: '1', resource: cla('e1', 81) }],
        ['e2', { version: '1', resource: cla('e2', 82) }],
      ]),
    );
    const client = new XdsClient({
      target: srv.target,
      credentials: grpc.credentials.createInsecure(),
      node: { id: 'waypoint~10.0.0.5~wp.default~default.svc.cluster.local', locality: { zone: 'z1' } },
      mode: 'sotw',
      log: () => {},
    });
    cleanups.push(() => client.close());
    const listeners = new Map<string, EnvoyMessage>();
    const endpoints = new Map<string, EnvoyMessage>();
    client.watch<EnvoyMessage>(TypeUrl.listener, WILDCARD, {
      onChanged: (n, v) => listeners.set(n, v),
      onRemoved: (n) => listeners.delete(n),
    });
    client.watch<EnvoyMessage>(TypeUrl.clusterLoadAssignment, 'e2', {
      onChanged: (n, v) => endpoints.set(n, v),
    });
    client.start();
    await until(() => listeners.size === 2 && endpoints.size === 1, 'initial SotW sync');
    expect([...endpoints.keys()]).toEqual(['e2']);
    expect(client.get(TypeUrl.listener, 'a')).toMatchObject({ state: 'acked', version: '1' });

    srv.xds.update(TypeUrl.listener, new Map([['b', null]]));
    await until(() => listeners.size === 1, 'b removed');
    expect(client.get(TypeUrl.listener, 'a')).toMatchObject({ state: 'acked', version: '2' });

    srv.xds.update(
      TypeUrl.listener,
      new Map([['a', { version: '2', resource: new Uint8Array([0x0a, 0x09, 0x61]) }]]),
    );
    await until(() => client.metrics().nacks === 1, 'NACK');
    expect(client.get(TypeUrl.listener, 'a')).toMatchObject({ state: 'acked', version: '2' });
    await until(
      () =>
        srv.xds.clients()[0]?.types.find((t) => t.typeUrl === TypeUrl.listener)?.status.state === 'nacked',
      'server saw NACK',
    );
    const lds = srv.xds.clients()[0]!.types.find((t) => t.typeUrl === TypeUrl.listener)!;
    expect(lds.ackedVersion).toBe('2');
    expect(lds.lastNack?.message).toMatch(/undecodable envoy\.config\.listener\.v3\.Listener/);
    const eds = srv.xds.clients()[0]!.types.find((t) => t.typeUrl === TypeUrl.clusterLoadAssignment)!;
    expect(eds).toMatchObject({ wildcard: false, names: ['e2'], resourceCount: 1 });
  });
});
