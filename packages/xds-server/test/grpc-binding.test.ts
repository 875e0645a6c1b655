import * as grpc from '@grpc/grpc-js';
import {
  decodeDeltaDiscoveryResponse,
  encodeAddress,
  encodeDeltaDiscoveryRequest,
  TypeUrl,
} from '@amesh/xds-types';
import { afterEach, describe, expect, it } from 'vitest';
import { XdsServer } from '../src/node/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

const DELTA = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
const raw = (b: Buffer) => b;

async function start(): Promise<{ xds: XdsServer; client: grpc.Client; log: string[] }> {
  const log: string[] = [];
  const xds = new XdsServer({ debounceMs: 0, log: (r) => log.push(r.msg) });
  const server = new grpc.Server();
  xds.addToGrpcServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(
    () => server.forceShutdown(),
    () => client.close(),
  );
  return { xds, client, log };
}

describe('gRPC binding of the ADS service', () => {
  it('serves DeltaAggregatedResources to a raw gRPC client', async () => {
    const { xds, client } = await start();
    xds.setResources(
      TypeUrl.address,
      new Map([
        ['w1', { version: '7', resource: encodeAddress({ type: 'workload', workload: { uid: 'w1' } }) }],
      ]),
    );
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(DELTA, raw, raw);
    call.on('error', () => {});
    const first = new Promise<Buffer>((resolve) => call.once('data', resolve));
    call.write(Buffer.from(encodeDeltaDiscoveryRequest({ typeUrl: TypeUrl.address, node: { id: 'raw' } })));
    const response = decodeDeltaDiscoveryResponse(await first);
    expect(response.typeUrl).toBe(TypeUrl.address);
    expect(response.resources.map((r) => [r.name, r.version])).toEqual([['w1', '7']]);
    expect(xds.clients()[0]?.nodeId).toBe('raw');
    call.cancel();
  });

  it('ends a stream that sends bytes that are not a request with INVALID_ARGUMENT and forgets it', async () => {
    const { xds, client } = await start();
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(DELTA, raw, raw);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => {});
    call.write(Buffer.from([0x0a, 0x7f, 0x01]));
    const { code, details } = await status;
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details).toMatch(/undecodable delta discovery request/);
    expect(xds.clients()).toEqual([]);
  });
});
