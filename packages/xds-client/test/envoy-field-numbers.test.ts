import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadSync, type MessageTypeDefinition } from '@grpc/proto-loader';
import { encodeMessage } from '@amesh/xds-types';
import { describe, expect, it } from 'vitest';

// The .proto files grpc-js-xds ships (Envoy API, googleapis, xds, validate):
// an independent source of the Envoy field numbers to check ours against.
const deps = join(dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const definitions = loadSync(
  [
    'envoy/service/discovery/v3/discovery.proto',
    'envoy/config/listener/v3/listener.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy/config/route/v3/route.proto',
    'envoy/config/cluster/v3/cluster.proto',
    'envoy/config/endpoint/v3/endpoint.proto',
  ],
  {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: ['envoy-api', 'googleapis', 'protoc-gen-validate', 'xds'].map((d) => join(deps, d)),
  },
);

function theirs(fullName: string, bytes: Uint8Array): Record<string, unknown> {
  const definition = definitions[fullName] as
    | MessageTypeDefinition<object, Record<string, unknown>>
    | undefined;
  if (definition === undefined) throw new Error(`grpc-js-xds ships no ${fullName}`);
  return definition.deserialize(Buffer.from(bytes));
}

describe('Envoy v3 field numbers agree with the protos grpc-js-xds ships', () => {
  it('DeltaDiscoveryRequest and DiscoveryRequest', () => {
    const delta = theirs(
      'envoy.service.discovery.v3.DeltaDiscoveryRequest',
      encodeMessage('envoy.service.discovery.v3.DeltaDiscoveryRequest', {
        node: {
          id: 'n',
          cluster: 'c',
          locality: { region: 'r', zone: 'z', subZone: 's' },
          userAgentName: 'amesh',
          clientFeatures: ['f'],
        },
        typeUrl: 't',
        resourceNamesSubscribe: ['a'],
        resourceNamesUnsubscribe: ['b'],
        initialResourceVersions: { a: '1' },
        responseNonce: 'x',
        errorDetail: { code: 3, message: 'm' },
      }),
    );
    expect(delta).toMatchObject({
      node: {
        id: 'n',
        cluster: 'c',
        locality: { region: 'r', zone: 'z', subZone: 's' },
        userAgentName: 'amesh',
        clientFeatures: ['f'],
      },
      typeUrl: 't',
      resourceNamesSubscribe: ['a'],
      resourceNamesUnsubscribe: ['b'],
      initialResourceVersions: { a: '1' },
      responseNonce: 'x',
      errorDetail: { code: 3, message: 'm' },
    });
    const sotw = theirs(
      'envoy.service.discovery.v3.DiscoveryRequest',
      encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', {
        versionInfo: 'v',
        resourceNames: ['a'],
        typeUrl: 't',
        responseNonce: 'x',
        errorDetail: { message: 'm' },
      }),
    );
    expect(sotw).toMatchObject({
      versionInfo: 'v',
      resourceNames: ['a'],
      typeUrl: 't',
      responseNonce: 'x',
      errorDetail: { message: 'm' },
    });
  });

  it('DeltaDiscoveryResponse with a Resource', () => {
    const response = theirs(
      'envoy.service.discovery.v3.DeltaDiscoveryResponse',
      encodeMessage('envoy.service.discovery.v3.DeltaDiscoveryResponse', {
        systemVersionInfo: 's',
        typeUrl: 't',
        nonce: 'n',
        removedResources: ['gone'],
        resources: [
          {
            name: 'a',
            version: '1',
            aliases: ['al'],
            resource: { typeUrl: 't', value: new Uint8Array([1]) },
          },
        ],
      }),
    );
    expect(response).toMatchObject({
      systemVersionInfo: 's',
      typeUrl: 't',
      nonce: 'n',
      removedResources: ['gone'],
    });
    expect((response.resources as Array<Record<string, unknown>>)[0]).toMatchObject({
      name: 'a',
      version: '1',
      aliases: ['al'],
    });
  });

  it('Listener api_listener, HttpConnectionManager rds and filters, RouteConfiguration, Cluster, ClusterLoadAssignment', () => {
    expect(
      theirs(
        'envoy.config.listener.v3.Listener',
        encodeMessage('envoy.config.listener.v3.Listener', {
          name: 'l',
          apiListener: { apiListener: { typeUrl: 'x', value: new Uint8Array() } },
        }),
      ),
    ).toMatchObject({ name: 'l', apiListener: { apiListener: { type_url: 'x' } } });
    expect(
      theirs(
        'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        encodeMessage('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
          codecType: 'HTTP2',
          statPrefix: 'p',
          rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'r' },
          httpFilters: [
            { name: 'router', typedConfig: { typeUrl: 'u', value: new Uint8Array() }, isOptional: true },
          ],
        }),
      ),
    ).toMatchObject({
      codecType: 'HTTP2',
      statPrefix: 'p',
      rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'r' },
      httpFilters: [{ name: 'router', isOptional: true }],
    });
    expect(
      theirs(
        'envoy.config.route.v3.RouteConfiguration',
        encodeMessage('envoy.config.route.v3.RouteConfiguration', {
          name: 'r',
          virtualHosts: [
            {
              name: 'v',
              domains: ['d'],
              routes: [
                {
                  name: 'x',
                  match: { prefix: '/p', caseSensitive: { value: true } },
                  route: {
                    weightedClusters: { clusters: [{ name: 'c', weight: { value: 3 } }] },
                    timeout: { seconds: 2 },
                  },
                },
              ],
            },
          ],
        }),
      ),
    ).toMatchObject({
      name: 'r',
      virtualHosts: [
        {
          name: 'v',
          domains: ['d'],
          routes: [
            {
              name: 'x',
              match: { prefix: '/p', caseSensitive: { value: true } },
              route: {
                weightedClusters: { clusters: [{ name: 'c', weight: { value: 3 } }] },
                timeout: { seconds: 2 },
              },
            },
          ],
        },
      ],
    });
    expect(
      theirs(
        'envoy.config.cluster.v3.Cluster',
        encodeMessage('envoy.config.cluster.v3.Cluster', {
          name: 'c',
          type: 'EDS',
          edsClusterConfig: { edsConfig: { ads: {} }, serviceName: 's' },
          connectTimeout: { seconds: 1 },
          lbPolicy: 'RING_HASH',
        }),
      ),
    ).toMatchObject({
      name: 'c',
      type: 'EDS',
      edsClusterConfig: { edsConfig: { ads: {} }, serviceName: 's' },
      connectTimeout: { seconds: 1 },
      lbPolicy: 'RING_HASH',
    });
    expect(
      theirs(
        'envoy.config.endpoint.v3.ClusterLoadAssignment',
        encodeMessage('envoy.config.endpoint.v3.ClusterLoadAssignment', {
          clusterName: 'c',
          endpoints: [
            {
              locality: { zone: 'z' },
              priority: 1,
              loadBalancingWeight: { value: 5 },
              lbEndpoints: [
                {
                  endpoint: {
                    address: { socketAddress: { address: '10.0.0.1', portValue: 80 } },
                    hostname: 'h',
                  },
                  healthStatus: 'DRAINING',
                  loadBalancingWeight: { value: 2 },
                },
              ],
            },
          ],
        }),
      ),
    ).toMatchObject({
      clusterName: 'c',
      endpoints: [
        {
          locality: { zone: 'z' },
          priority: 1,
          loadBalancingWeight: { value: 5 },
          lbEndpoints: [
            {
              endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 80 } }, hostname: 'h' },
              healthStatus: 'DRAINING',
              loadBalancingWeight: { value: 2 },
            },
          ],
        },
      ],
    });
  });
});
