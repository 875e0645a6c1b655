import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KUBERNETES_KINDS } from '@amesh/mesh-config/node';
import { describe, expect, it } from 'vitest';
// The list/watch API server double of mesh-config's KubernetesSource tests, reused as is.
import { KubeApiDouble } from '../../../packages/mesh-config/test/kube-api-double.js';
import { hasOpenssl, onCleanup, openssl, tempDir, tunnelOf, watchAddresses } from './helpers.js';

// The binary against a local API server double on loopback; not run against a live cluster.

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const TOKEN = 'kube-token';

function pod(name: string, ip: string, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels: { app: name }, annotations },
    spec: { nodeName: 'node1', serviceAccountName: name, containers: [{ name: 'app', image: 'nginx' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

/** A self-signed serving certificate for 127.0.0.1, made by openssl (the API server's, as a cluster CA would issue it). */
function servingCertificate(): { key: string; cert: string } {
  const dir = tempDir({
    'openssl.cnf': `[req]
distinguished_name = dn
prompt = no
[dn]
CN = kube-apiserver
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
`,
  });
  openssl(
    dir,
    'req',
    '-x509',
    '-config',
    'openssl.cnf',
    '-extensions',
    'v3_server',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'key.pem',
    '-out',
    'cert.pem',
    '-days',
    '2',
  );
  return {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
  };
}

let serving: { key: string; cert: string } | undefined;

async function apiServer(): Promise<{ api: KubeApiDouble; url: string }> {
  serving ??= servingCertificate();
  const api = new KubeApiDouble(TOKEN, serving);
  for (const [kind, info] of Object.entries(KUBERNETES_KINDS)) api.serve(info.path, kind, info.apiVersion);
  const url = await api.listen();
  onCleanup(() => api.close());
  api.put({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } },
  });
  api.put(pod('a', '10.1.0.5', { 'ambient.istio.io/redirection': 'enabled' }));
  return { api, url };
}

function kubeconfig(url: string): string {
  const file = join(tempDir(), 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{ name: double, cluster: { server: "${url}", certificate-authority-data: ${Buffer.from(serving!.cert).toString('base64')} } }]
users: [{ name: amesh, user: { token: ${TOKEN} } }]
contexts: [{ name: double, context: { cluster: double, user: amesh } }]
current-context: double
`,
  );
  return file;
}

interface Binary {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function runBinary(args: readonly string[], env: NodeJS.ProcessEnv = {}): Binary {
  const child = spawn(process.execPath, [MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, ...env },
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  return { child, output: () => output, exited };
}

/** Waits for the start line; returns the ports the binary bound. */
async function started(binary: Binary): Promise<{ grpc: number; http: number }> {
  const line = /control plane: xDS and CA on 127\.0\.0\.1:(\d+), HTTP on 127\.0\.0\.1:(\d+)/;
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (line.test(binary.output())) resolve();
    };
    binary.child.stdout!.on('data', check);
    binary.exited.then((code) => reject(new Error(`exited with ${code}:\n${binary.output()}`)));
    check();
  });
  const [, grpc, http] = line.exec(binary.output())!;
  return { grpc: Number(grpc), http: Number(http) };
}

function putRedirection(port: number, pod: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: `/v1/namespaces/shop/pods/${pod}/redirection`,
        headers: { authorization: 'Bearer token-1' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('enabled');
  });
}

const COMMON = ['--grpc', '127.0.0.1:0', '--http-host', '127.0.0.1', '--http-port', '0'];

// `npm test` builds before testing; a bare vitest run without a build skips these, as does a machine without openssl.
describe.skipIf(!existsSync(MAIN) || !hasOpenssl)(
  'the binary with --source kubernetes (API server double)',
  () => {
    it('serves the cluster’s pods over Delta xDS and pushes watch events as deltas', async () => {
      const { api, url } = await apiServer();
      const kubeconfigFile = kubeconfig(url);
      const binary = runBinary([
        '--source',
        'kubernetes',
        '--kubeconfig',
        kubeconfigFile,
        '--state-dir',
        tempDir(),
        '--node-token',
        'token-1=node1',
        ...COMMON,
      ]);
      const ports = await started(binary);
      expect(binary.output()).toMatch(/config from kubernetes/);
      expect(api.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);

      const view = watchAddresses(ports.grpc);
      await view.until((a) => tunnelOf(a, 'a') === 'HBONE');

      // A pod added through the API: one delta with only its resource.
      const before = view.responses.length;
      api.put(pod('b', '10.1.0.6'));
      await view.until((a) => tunnelOf(a, 'b') !== undefined);
      const pushed = view.responses.slice(before);
      expect(pushed.flatMap((r) => r.resources.map((x) => x.name))).toEqual([
        expect.stringMatching(/shop\/b$/),
      ]);
      expect(tunnelOf(view.addresses, 'b')).toBe('NONE');

      // The node agent's report becomes the pod annotation, patched through the API as Istio's CNI agent
      // does; the watch brings it back and makes the pod HBONE.
      expect(await putRedirection(ports.http, 'b')).toBe(204);
      const patches = api.requests.filter((r) => r.method === 'PATCH');
      expect(patches).toHaveLength(1);
      expect(patches[0]).toMatchObject({
        path: '/api/v1/namespaces/shop/pods/b',
        contentType: 'application/merge-patch+json',
      });
      expect(JSON.parse(patches[0]!.body)).toEqual({
        metadata: { annotations: { 'ambient.istio.io/redirection': 'enabled' } },
      });
      await view.until((a) => tunnelOf(a, 'b') === 'HBONE');
      // Agents re-report periodically: a status the pod already carries is not patched again.
      expect(await putRedirection(ports.http, 'b')).toBe(204);
      expect(api.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);

      // A pod deleted through the API is removed.
      api.delete('Pod', 'shop', 'a');
      await view.until((a) => tunnelOf(a, 'a') === undefined);
      expect(view.responses.at(-1)?.removedResources).toEqual([expect.stringMatching(/shop\/a$/)]);

      // A restarted control plane serves b as HBONE at once: the API server holds the status.
      binary.child.kill('SIGTERM');
      expect(await binary.exited).toBe(0);
      const again = runBinary([
        '--source',
        'kubernetes',
        '--kubeconfig',
        kubeconfigFile,
        '--node-token',
        'token-1=node1',
        ...COMMON,
      ]);
      const after = watchAddresses((await started(again)).grpc);
      await after.until((a) => tunnelOf(a, 'b') !== undefined);
      expect(tunnelOf(after.addresses, 'b')).toBe('HBONE');
    });

    it('takes the kube config from KUBECONFIG when --kubeconfig is not given', async () => {
      const { url } = await apiServer();
      const caDir = join(tempDir(), 'ca');
      const binary = runBinary(['--source', 'kubernetes', '--ca-dir', caDir, ...COMMON], {
        KUBECONFIG: kubeconfig(url),
      });
      const ports = await started(binary);
      expect(binary.output()).toContain(`ca: self-signed-created from ${caDir}`);
      expect(existsSync(join(caDir, 'ca-key.pem'))).toBe(true);
      const view = watchAddresses(ports.grpc);
      await view.until((a) => tunnelOf(a, 'a') === 'HBONE');
    });

    it('exits 1 naming the problem when the CA directory is unusable, before listening', async () => {
      const caDir = tempDir({ 'ca-key.pem': 'not a key' });
      const binary = runBinary(['--config', tempDir(), '--ca-dir', caDir, ...COMMON]);
      expect(await binary.exited).toBe(1);
      expect(binary.output()).toMatch(/CONTROL_PLANE_ERR_CA_DIR: CA directory: ca-cert\.pem is missing/);
      expect(binary.output()).not.toMatch(/xDS and CA on/);
    });

    it('exits with a clear message when no kube config can be found', async () => {
      const binary = runBinary(['--source', 'kubernetes', ...COMMON]);
      expect(await binary.exited).toBe(2);
      expect(binary.output()).toMatch(/no kube config: pass a kubeconfig file, set KUBECONFIG/);
    });
  },
);
