import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningControlPlane, startControlPlane } from '@amesh/example-control-plane';
import { connectViaSocks5 } from '@amesh/l4-proxy/node';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningZtunnel, startZtunnel } from '../src/index.js';

/** A private 127.x.y.0/24 block per test, so listeners never collide. */
function block(): (host: number) => string {
  const x = 30 + Math.floor(Math.random() * 60);
  const y = Math.floor(Math.random() * 250);
  return (host) => `127.${x}.${y}.${host}`;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function meshYaml(ip: (h: number) => string): string {
  const pod = (name: string, sa: string, node: string, host: number, app: string) => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: shop
  labels: { app: ${app} }
  annotations: { ambient.istio.io/redirection: enabled }
spec: { nodeName: ${node}, serviceAccountName: ${sa} }
status: { phase: Running, podIP: ${ip(host)} }
---`;
  return `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio.io/dataplane-mode: ambient } }
---${pod('client', 'client', 'node1', 10, 'client')}${pod('db', 'db', 'node2', 20, 'db')}
apiVersion: v1
kind: Service
metadata: { name: db, namespace: shop }
spec: { selector: { app: db }, clusterIP: ${ip(200)}, ports: [{ name: tcp, port: 5432, targetPort: 5432 }] }
`;
}

const denyClient = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-client, namespace: shop }
spec:
  selector: { matchLabels: { app: db } }
  action: DENY
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/shop/sa/client"] } }] }]
`;

/** Writes a file atomically (write then rename), as editors and kubectl-like tools do. */
function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function echoServer(host: string, port: number): Promise<void> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => s.write(d.toString().toUpperCase()));
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
}

async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  socket.write(text);
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no answer, got ${JSON.stringify(got)}`)), 5_000);
    const onData = (d: Buffer) => {
      got += d;
      if (got.length >= text.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
  });
}

async function mesh() {
  const ip = block();
  const dir = mkdtempSync(join(tmpdir(), 'amesh-mesh-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'mesh.yaml'), meshYaml(ip));
  const logs: string[] = [];
  let cp: RunningControlPlane | undefined = await startControlPlane({
    configDir: dir,
    grpcAddress: `${ip(1)}:0`,
    tlsGrpcAddress: `${ip(1)}:0`,
    rootCertOut: join(dir, 'roots.pem'),
    httpHost: ip(1),
    httpPort: 0,
    nodeTokens: { t1: 'node1', t2: 'node2' },
    debounceMs: 10,
    log: (l) => logs.push(`cp ${l}`),
  });
  // The ztunnels reach xDS and the CA over TLS, verifying the control plane's SPIFFE identity.
  const xds = `${ip(1)}:${cp.tlsGrpcPort}`;
  const controlPlaneRoots = readFileSync(join(dir, 'roots.pem'), 'utf8');
  const ztunnels: RunningZtunnel[] = [];
  const startNode = async (n: 1 | 2): Promise<RunningZtunnel> => {
    const z = await startZtunnel({
      node: `node${n}`,
      mode: 'local',
      xds,
      token: `t${n}`,
      controlPlaneRoots,
      adminHost: ip(n + 100),
      log: (l) => logs.push(`z${n} ${l}`),
    });
    ztunnels[n - 1] = z;
    return z;
  };
  await startNode(1);
  await startNode(2);
  cleanups.push(async () => {
    await Promise.all(ztunnels.map((z) => z.close(100)));
    await cp?.close();
  });
  await echoServer(ip(20), 5432);
  const served = () => ztunnels.every((z) => z.ztunnel.pods().length === 1);
  await expect.poll(served, { timeout: 10_000 }).toBe(true);
  return {
    ip,
    dir,
    logs,
    ztunnels,
    startNode,
    async stopControlPlane() {
      await cp?.close();
      cp = undefined;
    },
    dial: () =>
      connectViaSocks5(
        { host: ip(200), port: 5432 },
        { proxyHost: ip(101), proxyPort: 15080, localAddress: ip(10) },
      ),
  };
}

describe('local mode mesh: control plane + two ztunnel binaries (in process)', () => {
  it('gets certificates from the CA by impersonation, and carries traffic across nodes with mTLS', async () => {
    const m = await mesh();
    const socket = await m.dial();
    expect(await roundTrip(socket, 'select 1')).toBe('SELECT 1');
    socket.destroy();
    const certs = m.ztunnels[1]!.certificates.identities().map((id) => id.uri);
    expect(certs).toEqual(['spiffe://cluster.local/ns/shop/sa/db']);
  });

  it('a policy file added to the config directory is pushed and cuts the open connection', async () => {
    const m = await mesh();
    const socket = await m.dial();
    expect(await roundTrip(socket, 'before')).toBe('BEFORE');
    const closed = new Promise((resolve) => socket.on('close', resolve));
    writeAtomic(join(m.dir, 'deny.yaml'), denyClient);
    await closed;
    await expect(m.dial()).rejects.toThrow(/reply 2/);
    expect(m.logs.join('\n')).toMatch(/policy rejection: .*shop\/deny-client/);
    rmSync(join(m.dir, 'deny.yaml'));
    await expect
      .poll(
        async () =>
          m.dial().then(
            (s) => {
              s.destroy();
              return 'ok';
            },
            () => 'denied',
          ),
        { timeout: 10_000 },
      )
      .toBe('ok');
  });

  it('a bad file is reported and the last good config keeps serving', async () => {
    const m = await mesh();
    writeAtomic(
      join(m.dir, 'broken.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: { name: x }\nspec: { ports: "nope" }\n',
    );
    await expect
      .poll(() => m.logs.join('\n'), { timeout: 10_000 })
      .toMatch(/config error \(last good config kept\)/);
    const socket = await m.dial();
    expect(await roundTrip(socket, 'still')).toBe('STILL');
    socket.destroy();
  });

  it('keeps serving with the control plane gone (last known good config and certificates)', async () => {
    const m = await mesh();
    // ztunnel fetches its pods' certificates ahead of need; wait until both have them.
    await expect
      .poll(() => m.ztunnels.every((z) => z.certificates.identities().some((id) => z.certificates.get(id))), {
        timeout: 10_000,
      })
      .toBe(true);
    await m.stopControlPlane();
    const socket = await m.dial();
    expect(await roundTrip(socket, 'cp away')).toBe('CP AWAY');
    socket.destroy();
    expect(m.ztunnels[0]!.xds.connectionState().state).not.toBe('connected');
  });

  it('a restarted ztunnel serves new connections again', async () => {
    const m = await mesh();
    await m.ztunnels[0]!.close(100);
    await expect(m.dial()).rejects.toThrow();
    const restarted = await m.startNode(1);
    await expect.poll(() => restarted.ztunnel.pods().length, { timeout: 10_000 }).toBe(1);
    const socket = await m.dial();
    expect(await roundTrip(socket, 'again')).toBe('AGAIN');
    socket.destroy();
  });
});
