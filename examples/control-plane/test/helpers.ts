import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { buildCsr, encodePem, generateKey, parseSpiffeId } from '@amesh/mtls-identity';
import { CaGrpcClient } from '@amesh/mtls-identity/node';
import {
  type Address,
  decodeAddress,
  decodeDeltaDiscoveryResponse,
  type DeltaDiscoveryResponse,
  encodeDeltaDiscoveryRequest,
  TypeUrl,
} from '@amesh/xds-types';
import { afterEach } from 'vitest';
import { type ControlPlaneConfig, type RunningControlPlane, startControlPlane } from '../src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `cleanup` after the current test (last registered runs first). */
export function onCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

/** A temporary directory removed after the test, with the given files. */
export function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-cp-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A Running pod of namespace `shop` with the redirection annotation given. */
export const podYaml = (name: string, node: string, ip: string, annotation?: string): string => `---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop, labels: { app: ${name} }${annotation ? `, annotations: { ambient.istio.io/redirection: ${annotation} }` : ''} }
spec: { nodeName: ${node}, serviceAccountName: ${name} }
status: { phase: Running, podIP: ${ip} }
`;

/** Namespace `shop` enrolled in ambient. */
export const namespaceYaml = `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio.io/dataplane-mode: ambient } }
`;

/** Starts a control plane on loopback ports chosen by the kernel, closed after the test. */
export async function startPlane(config: Partial<ControlPlaneConfig>): Promise<RunningControlPlane> {
  const cp = await startControlPlane({
    grpcAddress: '127.0.0.1:0',
    httpHost: '127.0.0.1',
    httpPort: 0,
    nodeTokens: { 'token-1': 'node1', 'token-2': 'node2' },
    debounceMs: 0,
    log: () => {},
    ...config,
  });
  let closed = false;
  onCleanup(() => (closed ? undefined : cp.close()));
  return {
    ...cp,
    close: async () => {
      closed = true;
      await cp.close();
    },
  };
}

/** Asks the CA at `port` (plaintext gRPC, node token) for a certificate; returns the chain, leaf first. */
export async function requestCertificate(
  port: number,
  identity: string,
  token = 'token-1',
): Promise<readonly string[]> {
  const client = new CaGrpcClient({
    address: `127.0.0.1:${port}`,
    credentials: grpc.credentials.createInsecure(),
    token,
    ownIdentity: parseSpiffeId('spiffe://cluster.local/ns/istio-system/sa/ztunnel'),
  });
  try {
    const csr = buildCsr({ identity, key: generateKey() });
    return await client.createCertificate({
      identity: parseSpiffeId(identity),
      csrPem: encodePem('CERTIFICATE REQUEST', csr.der),
      ttlSeconds: 3600,
    });
  } finally {
    client.close();
  }
}

/** Whether the openssl CLI is installed. */
export const hasOpenssl: boolean = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

/** Runs openssl in `cwd`; returns stdout; throws with stderr on failure. */
export function openssl(cwd: string, ...args: string[]): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const DELTA = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
const raw = (b: Buffer): Buffer => b;

/** What a delta xDS client saw of `istio.workload.Address`: name → decoded resource. */
export interface AddressView {
  readonly addresses: Map<string, Address>;
  /** Resolves at the next response after which `condition` holds (ACKs every response). */
  until(condition: (addresses: Map<string, Address>) => boolean): Promise<void>;
  readonly responses: DeltaDiscoveryResponse[];
}

/**
 * A raw Delta ADS client (grpc-js, hand-made requests) that subscribes to
 * every `istio.workload.Address` (wildcard), ACKs each response, and keeps
 * the current set; closed after the test.
 */
export function watchAddresses(port: number, node = 'node1'): AddressView {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(DELTA, raw, raw);
  call.on('error', () => {});
  onCleanup(() => {
    call.cancel();
    client.close();
  });
  const addresses = new Map<string, Address>();
  const responses: DeltaDiscoveryResponse[] = [];
  const waiters = new Set<() => void>();
  call.on('data', (data: Buffer) => {
    const response = decodeDeltaDiscoveryResponse(data);
    responses.push(response);
    for (const r of response.resources) {
      if (r.resource) addresses.set(r.name, decodeAddress(r.resource.value));
    }
    for (const name of response.removedResources) addresses.delete(name);
    call.write(
      Buffer.from(encodeDeltaDiscoveryRequest({ typeUrl: TypeUrl.address, responseNonce: response.nonce })),
    );
    for (const wake of [...waiters]) wake();
  });
  call.write(
    Buffer.from(
      encodeDeltaDiscoveryRequest({
        typeUrl: TypeUrl.address,
        node: { id: `ztunnel~10.0.0.1~ztunnel-${node}.istio-system~istio-system.svc.cluster.local` },
      }),
    ),
  );
  return {
    addresses,
    responses,
    until: (condition) =>
      new Promise<void>((resolve) => {
        if (condition(addresses)) return resolve();
        const check = (): void => {
          if (condition(addresses)) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      }),
  };
}

/** The tunnel protocol of the pod workload `uid` suffix `shop/<name>`, if the view holds it. */
export function tunnelOf(addresses: Map<string, Address>, pod: string): string | undefined {
  for (const address of addresses.values()) {
    const w = address.workload;
    if (w?.name === pod && w.namespace === 'shop') return w.tunnelProtocol;
  }
  return undefined;
}
