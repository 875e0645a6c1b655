import type * as grpc from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
  decodeDeltaDiscoveryRequest,
  decodeDiscoveryRequest,
  encodePreparedDeltaDiscoveryResponse,
  encodePreparedDiscoveryResponse,
  type PreparedDeltaDiscoveryResponse,
  type PreparedDiscoveryResponse,
} from '@amesh/xds-types';
import { XdsServerCore, type XdsServerResponse, type XdsStreamMode } from '../xds-server-core.js';

type Incoming = { ok: true; message: DiscoveryRequest | DeltaDiscoveryRequest } | { ok: false; error: Error };
type Outgoing = PreparedDiscoveryResponse | PreparedDeltaDiscoveryResponse;

const SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/**
 * {@link XdsServerCore} bound to `@grpc/grpc-js`: serves
 * `envoy.service.discovery.v3.AggregatedDiscoveryService` (both
 * `StreamAggregatedResources` and `DeltaAggregatedResources`).
 *
 * @example
 * ```ts
 * const xds = new XdsServer({ debounceMs: 20 });
 * const server = new grpc.Server();
 * xds.addToGrpcServer(server);
 * server.bindAsync('127.0.0.1:15010', grpc.ServerCredentials.createInsecure(), () => {});
 * xds.setResources(TypeUrl.address, new Map([['w1', { version: '1', resource: encodeAddress(a) }]]));
 * ```
 */
export class XdsServer extends XdsServerCore {
  /**
   * Adds the ADS service to a gRPC server. Use server credentials from
   * `@amesh/mtls-identity` for mTLS (port 15012), insecure ones for 15010.
   */
  addToGrpcServer(server: grpc.Server): void {
    server.addService(serviceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Incoming, Outgoing>) =>
        this.#serve('sotw', call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Incoming, Outgoing>) =>
        this.#serve('delta', call),
    });
  }

  #serve(mode: XdsStreamMode, call: grpc.ServerDuplexStream<Incoming, Outgoing>): void {
    const stream = this.openStream(
      mode,
      (response: XdsServerResponse) => {
        if (!call.cancelled && !call.writableEnded) call.write(response.response);
      },
      call.getPeer(),
    );
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      stream.close();
    };
    call.on('data', (incoming: Incoming) => {
      if (done) return;
      if (!incoming.ok) {
        // An undecodable request: end the stream with INVALID_ARGUMENT.
        finish();
        fail(
          call,
          grpcStatus.INVALID_ARGUMENT,
          `undecodable ${mode} discovery request: ${incoming.error.message}`,
        );
        return;
      }
      try {
        stream.receive(incoming.message);
      } catch (error) {
        finish();
        fail(call, grpcStatus.INTERNAL, (error as Error).message);
      }
    });
    call.on('end', () => {
      finish();
      if (!call.writableEnded) call.end();
    });
    call.on('error', finish);
    call.on('cancelled', finish);
    call.on('close', finish);
  }
}

// gRPC status codes (grpc/doc/statuscodes.md).
const grpcStatus = { INVALID_ARGUMENT: 3, INTERNAL: 13 } as const;

// grpc-js turns an 'error' emitted on a server stream into the call's status.
function fail(call: grpc.ServerDuplexStream<Incoming, Outgoing>, code: number, details: string): void {
  call.emit('error', Object.assign(new Error(details), { code, details }));
}

// protobufjs already returns a Buffer in Node; wrap, never copy, megabyte messages.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encodings of the shared full-state responses (the core hands the same
 * response object to every fresh wildcard client with the same nonce), so
 * 50 ztunnels cost one 2.6 MB encoding, not 50.
 */
const sharedEncodings = new WeakMap<object, Buffer>();

function encodeDelta(response: PreparedDeltaDiscoveryResponse): Buffer {
  if (response.encodedResources === undefined)
    return asBuffer(encodePreparedDeltaDiscoveryResponse(response));
  let encoded = sharedEncodings.get(response);
  if (encoded === undefined) {
    encoded = asBuffer(encodePreparedDeltaDiscoveryResponse(response));
    sharedEncodings.set(response, encoded);
  }
  return encoded;
}

function serviceDefinition(): grpc.ServiceDefinition {
  const method = (name: string, delta: boolean): grpc.MethodDefinition<Incoming, Outgoing> => ({
    path: `/${SERVICE}/${name}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: () => {
      throw new Error('client side is not served here');
    },
    requestDeserialize: (bytes: Buffer): Incoming => {
      try {
        return {
          ok: true,
          message: delta ? decodeDeltaDiscoveryRequest(bytes) : decodeDiscoveryRequest(bytes),
        };
      } catch (error) {
        return { ok: false, error: error as Error };
      }
    },
    responseSerialize: (response: Outgoing): Buffer =>
      delta
        ? encodeDelta(response as PreparedDeltaDiscoveryResponse)
        : asBuffer(encodePreparedDiscoveryResponse(response as PreparedDiscoveryResponse)),
    responseDeserialize: () => {
      throw new Error('client side is not served here');
    },
  });
  return {
    StreamAggregatedResources: method('StreamAggregatedResources', false),
    DeltaAggregatedResources: method('DeltaAggregatedResources', true),
  };
}
