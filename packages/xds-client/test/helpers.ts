import * as grpc from '@grpc/grpc-js';
import {
  type DeepPartial,
  encodeAddress,
  encodeAuthorization,
  type Address,
  type Authorization,
} from '@amesh/xds-types';
import { XdsServer } from '@amesh/xds-server/node';
import type { XdsLogRecord } from '../src/node/index.js';

/** A workload Address for tests. */
export function workload(
  uid: string,
  ip: number[],
  extra: DeepPartial<Address['workload'] & object> = {},
): DeepPartial<Address> {
  return {
    type: 'workload',
    workload: {
      uid,
      name: uid,
      namespace: 'default',
      addresses: [new Uint8Array(ip)],
      tunnelProtocol: 'HBONE',
      ...extra,
    },
  };
}

/** An ALLOW policy for tests. */
export function policy(name: string, principal: string): DeepPartial<Authorization> {
  return {
    name,
    namespace: 'default',
    scope: 'NAMESPACE',
    action: 'ALLOW',
    rules: [{ clauses: [{ matches: [{ principals: [{ exact: principal }], destinationPorts: [8080] }] }] }],
  };
}

/** Encodes addresses keyed by name with a version. */
export function addressInputs(entries: ReadonlyArray<[string, DeepPartial<Address>, string]>) {
  return new Map(
    entries.map(([name, address, version]) => [name, { version, resource: encodeAddress(address) }]),
  );
}

/** Encodes policies keyed by `<ns>/<name>` with a version. */
export function policyInputs(entries: ReadonlyArray<[DeepPartial<Authorization>, string]>) {
  return new Map(
    entries.map(([p, version]) => [
      `${p.namespace}/${p.name}`,
      { version, resource: encodeAuthorization(p) },
    ]),
  );
}

/** A real gRPC server on loopback with our xDS server core. */
export async function startXdsServer(xds = new XdsServer({ debounceMs: 5 }), port = 0) {
  const server = new grpc.Server();
  xds.addToGrpcServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return {
    xds,
    server,
    port: bound,
    target: `127.0.0.1:${bound}`,
    stop: () => server.forceShutdown(),
    kill: () => server.forceShutdown(),
  };
}

/** Polls until `check` returns true (event-driven code under test; the poll is not a sleep). */
export async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Collects log lines. */
export function logSink(): { records: XdsLogRecord[]; log: (r: XdsLogRecord) => void } {
  const records: XdsLogRecord[] = [];
  return { records, log: (r) => records.push(r) };
}
