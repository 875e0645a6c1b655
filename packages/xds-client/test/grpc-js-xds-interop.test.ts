import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { XdsServer } from '@amesh/xds-server/node';
import { encodeMessage, TypeUrl } from '@amesh/xds-types';
import { afterEach, describe, expect, it } from 'vitest';
import { startXdsServer, until } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/grpc-xds-call.mjs', import.meta.url));
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function any(typeUrl: string, fullName: string, value: object) {
  return { typeUrl, value: encodeMessage(fullName, value) };
}

/** LDS/RDS/CDS/EDS for service `echo` whose one endpoint is 127.0.0.1:<port>. */
function echoResources(backendPort: number, validListener = true) {
  const hcm = any(
    TypeUrl.httpConnectionManager,
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    {
      rds: { configSource: { ads: {} }, routeConfigName: 'echo-route' },
      httpFilters: [
        {
          name: 'envoy.filters.http.router',
          typedConfig: any(TypeUrl.router, 'envoy.extensions.filters.http.router.v3.Router', {}),
        },
      ],
    },
  );
  const listener = encodeMessage(
    'envoy.config.listener.v3.Listener',
    validListener ? { name: 'echo', apiListener: { apiListener: hcm } } : { name: 'echo' },
  );
  const route = encodeMessage('envoy.config.route.v3.RouteConfiguration', {
    name: 'echo-route',
    virtualHosts: [
      {
        name: 'echo-vh',
        domains: ['echo'],
        routes: [{ match: { prefix: '' }, route: { cluster: 'echo-cluster' } }],
      },
    ],
  });
  const cluster = encodeMessage('envoy.config.cluster.v3.Cluster', {
    name: 'echo-cluster',
    type: 'EDS',
    edsClusterConfig: { edsConfig: { ads: {} }, serviceName: 'echo-eds' },
    connectTimeout: { seconds: 1 },
    lbPolicy: 'ROUND_ROBIN',
  });
  const endpoints = encodeMessage('envoy.config.endpoint.v3.ClusterLoadAssignment', {
    clusterName: 'echo-eds',
    endpoints: [
      {
        locality: { region: 'r1', zone: 'z1', subZone: 's1' },
        loadBalancingWeight: { value: 1 },
        lbEndpoints: [
          {
            endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: backendPort } } },
            healthStatus: 'HEALTHY',
            loadBalancingWeight: { value: 1 },
          },
        ],
      },
    ],
  });
  return { listener, route, cluster, endpoints };
}

async function startEcho(): Promise<{ port: number; calls: () => number }> {
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  let calls = 0;
  server.addService(
    {
      Echo: {
        path: '/amesh.test.Echo/Echo',
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        calls++;
        callback(null, Buffer.concat([Buffer.from('echo:'), call.request]));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  return { port, calls: () => calls };
}

function runXdsCall(
  xdsPort: number,
  target: string,
  deadlineMs: number,
): Promise<{ ok: boolean; reply?: string; code?: number; details?: string }> {
  const bootstrap = {
    xds_servers: [
      {
        server_uri: `127.0.0.1:${xdsPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: { id: 'grpc-interop~127.0.0.1', locality: { region: 'r1', zone: 'z1', sub_zone: 's1' } },
  };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [SCRIPT, target, String(deadlineMs)],
      {
        env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
        timeout: deadlineMs + 15_000,
      },
      (error, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop();
        if (!line)
          return reject(new Error(`grpc-js-xds child printed nothing: ${error?.message ?? ''} ${stderr}`));
        resolve(JSON.parse(line));
      },
    );
  });
}

function publish(xds: XdsServer, r: ReturnType<typeof echoResources>, version: string): void {
  xds.setResources(TypeUrl.listener, new Map([['echo', { version, resource: r.listener }]]));
  xds.setResources(TypeUrl.routeConfiguration, new Map([['echo-route', { version, resource: r.route }]]));
  xds.setResources(TypeUrl.cluster, new Map([['echo-cluster', { version, resource: r.cluster }]]));
  xds.setResources(
    TypeUrl.clusterLoadAssignment,
    new Map([['echo-eds', { version, resource: r.endpoints }]]),
  );
}

describe('interop: @grpc/grpc-js-xds (SotW ADS) against our server', () => {
  it('resolves xds:///echo through LDS, RDS, CDS and EDS and calls the backend EDS names', async () => {
    const echo = await startEcho();
    const log: string[] = [];
    const srv = await startXdsServer(
      new XdsServer({ debounceMs: 5, log: (r) => log.push(`${r.level} ${r.msg}`) }),
    );
    cleanups.push(srv.stop);
    publish(srv.xds, echoResources(echo.port), '1');
    const result = await runXdsCall(srv.port, 'echo', 20_000);
    expect(result).toEqual({ ok: true, reply: 'echo:ping' });
    expect(echo.calls()).toBe(1);
    // grpc-js-xds accepted everything (no NACK) and its stream is gone once it exited.
    expect(log.filter((line) => line.includes('NACKed'))).toEqual([]);
    await until(() => srv.xds.clients().length === 0, 'client gone');
  });

  it('records the NACK grpc-js-xds sends for a Listener without an api_listener', async () => {
    const echo = await startEcho();
    const log: string[] = [];
    const srv = await startXdsServer(new XdsServer({ debounceMs: 5, log: (r) => log.push(r.msg) }));
    cleanups.push(srv.stop);
    publish(srv.xds, echoResources(echo.port, false), '1');
    const result = await runXdsCall(srv.port, 'echo', 3_000);
    expect(result.ok).toBe(false);
    expect(echo.calls()).toBe(0);
    const nack = log.find((line) =>
      line.includes('NACKed type.googleapis.com/envoy.config.listener.v3.Listener'),
    );
    expect(nack).toBeDefined();
    expect(nack).toMatch(/^client grpc-interop~127\.0\.0\.1 NACKed/);
  });
});
