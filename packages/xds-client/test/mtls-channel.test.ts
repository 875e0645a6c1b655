import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { XdsServer } from '@amesh/xds-server/node';
import { TypeUrl } from '@amesh/xds-types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WILDCARD } from '../src/index.js';
import { XdsClient } from '../src/node/index.js';
import { addressInputs, until, workload } from './helpers.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const canTls = hasOpenssl();
if (!canTls) console.warn('skipping mTLS channel test: the openssl CLI is not installed');

let dir = '';
const pem = (name: string) => readFileSync(join(dir, name));
const cleanups: Array<() => unknown> = [];

beforeAll(() => {
  if (!canTls) return;
  dir = mkdtempSync(join(tmpdir(), 'amesh-xds-mtls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=amesh test CA', '-days', '1', '-out', 'ca.crt');
  for (const [name, san] of [
    ['server', 'DNS:localhost,IP:127.0.0.1'],
    ['client', 'URI:spiffe://cluster.local/ns/istio-system/sa/ztunnel'],
  ] as const) {
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
    run('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
    execFileSync('sh', ['-c', `printf 'subjectAltName=${san}\\n' > ${name}.ext`], { cwd: dir });
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  }
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function mtlsServer(): Promise<{ xds: XdsServer; port: number }> {
  const xds = new XdsServer({ debounceMs: 5 });
  const server = new grpc.Server();
  xds.addToGrpcServer(server);
  const credentials = grpc.ServerCredentials.createSsl(
    pem('ca.crt'),
    [{ private_key: pem('server.key'), cert_chain: pem('server.crt') }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return { xds, port };
}

describe.skipIf(!canTls)(
  'mTLS channel (credentials as @amesh/mtls-identity would provide them; certificates from the openssl CLI)',
  () => {
    it('syncs over mutual TLS with a client certificate', async () => {
      const { xds, port } = await mtlsServer();
      xds.setResources(TypeUrl.address, addressInputs([['w1', workload('w1', [10, 0, 0, 1]), '1']]));
      const client = new XdsClient({
        target: `localhost:${port}`,
        credentials: grpc.credentials.createSsl(pem('ca.crt'), pem('client.key'), pem('client.crt')),
        node: { id: 'ztunnel~127.0.0.1~zt.istio-system~istio-system.svc.cluster.local' },
      });
      cleanups.push(() => client.close());
      client.watch(TypeUrl.address, WILDCARD, {});
      client.start();
      await until(() => client.get(TypeUrl.address, 'w1')?.state === 'acked', 'w1 over mTLS');
    });

    it('gets nothing without a client certificate (fails closed) and keeps retrying', async () => {
      const { xds, port } = await mtlsServer();
      xds.setResources(TypeUrl.address, addressInputs([['w1', workload('w1', [10, 0, 0, 1]), '1']]));
      const client = new XdsClient({
        target: `localhost:${port}`,
        credentials: grpc.credentials.createSsl(pem('ca.crt')),
        node: { id: 'anonymous' },
        backoff: { initialMs: 10, maxMs: 50 },
        log: () => {},
      });
      cleanups.push(() => client.close());
      client.watch(TypeUrl.address, WILDCARD, {});
      client.start();
      await until(() => client.metrics().streamTerminations >= 2, 'two failed streams');
      expect(client.get(TypeUrl.address, 'w1')).toBeUndefined();
      expect(client.metrics().messagesReceived).toBe(0);
      expect(xds.clients()).toEqual([]);
    });
  },
);
