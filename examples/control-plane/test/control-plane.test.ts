import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { buildCsr, encodePem, generateKey, parseCertificate, parseSpiffeId } from '@amesh/mtls-identity';
import { CaGrpcClient, spiffeServerIdentityCheck } from '@amesh/mtls-identity/node';
import { afterEach, describe, expect, it } from 'vitest';
import { analyzeDirectory, type RunningControlPlane, startControlPlane } from '../src/index.js';

const dirs: string[] = [];
const planes: RunningControlPlane[] = [];
afterEach(async () => {
  for (const p of planes.splice(0)) await p.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function configDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-cp-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const pod = (name: string, sa: string, node: string, ip: string) => `---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop, labels: { app: ${name} }, annotations: { ambient.istio.io/redirection: enabled } }
spec: { nodeName: ${node}, serviceAccountName: ${sa} }
status: { phase: Running, podIP: ${ip} }
`;
const mesh = `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio.io/dataplane-mode: ambient } }
${pod('a', 'a', 'node1', '10.1.0.5')}${pod('b', 'b', 'node2', '10.2.0.5')}`;

const ZTUNNEL = parseSpiffeId('spiffe://cluster.local/ns/istio-system/sa/ztunnel');
const ISTIOD = 'spiffe://cluster.local/ns/istio-system/sa/istiod';

async function request(client: CaGrpcClient, identity: string): Promise<readonly string[]> {
  const key = generateKey();
  const csr = buildCsr({ identity, key });
  return client.createCertificate({
    identity: parseSpiffeId(identity),
    csrPem: encodePem('CERTIFICATE REQUEST', csr.der),
    ttlSeconds: 3600,
  });
}

describe('control plane: CA over TLS with node-scoped impersonation', () => {
  it('issues a co-located pod identity to its node, refuses another node’s, and serves TLS as istiod', async () => {
    const dir = configDir({ 'mesh.yaml': mesh });
    const rootFile = join(dir, '..', `${dir.split('/').pop()}-root.pem`);
    dirs.push(rootFile);
    const cp = await startControlPlane({
      configDir: dir,
      grpcAddress: '127.0.0.1:0',
      tlsGrpcAddress: '127.0.0.1:0',
      rootCertOut: rootFile,
      httpHost: '127.0.0.1',
      httpPort: 0,
      nodeTokens: { 'token-1': 'node1' },
      log: () => {},
    });
    planes.push(cp);
    const root = readFileSync(rootFile);
    const tlsTo = (expected: string) =>
      grpc.credentials.createSsl(root, null, null, {
        checkServerIdentity: spiffeServerIdentityCheck([expected]),
      });
    const client = new CaGrpcClient({
      address: `127.0.0.1:${cp.tlsGrpcPort}`,
      credentials: tlsTo(ISTIOD),
      token: 'token-1',
      ownIdentity: ZTUNNEL,
    });
    try {
      const chain = await request(client, 'spiffe://cluster.local/ns/shop/sa/a');
      expect(parseCertificate(chain[0]!).uris).toEqual(['spiffe://cluster.local/ns/shop/sa/a']);
      await expect(request(client, 'spiffe://cluster.local/ns/shop/sa/b')).rejects.toMatchObject({
        code: 'IDENTITY_ERR_PERMISSION_DENIED',
      });
    } finally {
      client.close();
    }
    const wrongToken = new CaGrpcClient({
      address: `127.0.0.1:${cp.grpcPort}`,
      credentials: grpc.credentials.createInsecure(),
      token: 'stolen',
      ownIdentity: ZTUNNEL,
    });
    await expect(request(wrongToken, 'spiffe://cluster.local/ns/shop/sa/a')).rejects.toMatchObject({
      code: 'IDENTITY_ERR_UNAUTHENTICATED',
    });
    wrongToken.close();
    const impostor = new CaGrpcClient({
      address: `127.0.0.1:${cp.tlsGrpcPort}`,
      credentials: tlsTo('spiffe://cluster.local/ns/evil/sa/ca'),
      token: 'token-1',
      ownIdentity: ZTUNNEL,
      timeoutMs: 3_000,
    });
    await expect(request(impostor, 'spiffe://cluster.local/ns/shop/sa/a')).rejects.toThrow();
    impostor.close();
  });
});

describe('analyze', () => {
  it('reports HTTP rules ztunnel cannot enforce and selectors that match nothing', async () => {
    const dir = configDir({
      'mesh.yaml': mesh,
      'policy.yaml': `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: only-get, namespace: shop }
spec:
  selector: { matchLabels: { app: nothing-has-this } }
  action: ALLOW
  rules: [{ to: [{ operation: { methods: ["GET"] } }] }]
`,
    });
    const lines = await analyzeDirectory(dir);
    expect(lines.some((l) => l.includes('shop/only-get') && /method/i.test(l))).toBe(true);
    expect(lines.some((l) => /match(es)? no/i.test(l) || /nothing/i.test(l))).toBe(true);
  });
});
