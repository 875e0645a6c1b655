import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectViaSocks5 } from '../src/node/index.js';
import { podWorkload, policy, serviceOf, twoNodeMesh } from './mesh-fixture.js';

type Mesh = Awaited<ReturnType<typeof twoNodeMesh>>;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An app listening on a pod IP: echoes upper-cased, or speaks first when `greeting` is set. */
async function app(host: string, port: number, greeting?: string): Promise<{ peers: string[] }> {
  const peers: string[] = [];
  const server = net.createServer((socket) => {
    peers.push(socket.remoteAddress ?? '');
    if (greeting) socket.write(greeting);
    socket.on('data', (d) => socket.write(d.toString().toUpperCase()));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { peers };
}

async function readUntil(socket: net.Socket, expected: string): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(text)}`)), 5_000);
    socket.on('data', (d) => {
      text += d;
      if (text.includes(expected)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

async function setup(): Promise<{
  mesh: Mesh;
  socksPort: number;
  clientIp: string;
  serverIp: string;
  vip: string;
}> {
  const mesh = await twoNodeMesh();
  cleanups.push(() => mesh.close());
  const clientIp = mesh.ip(10);
  const serverIp = mesh.ip(20);
  const vip = mesh.ip(200);
  mesh.apply.workload(podWorkload('client', clientIp, { node: 'node1' }));
  const echo = serviceOf('echo', vip, 80, 8080);
  mesh.apply.service(echo);
  mesh.apply.workload(
    podWorkload('server', serverIp, {
      node: 'node2',
      services: {
        'default/echo.default.svc.cluster.local': {
          ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'TCP' }],
        },
      },
    }),
  );
  await mesh.ztunnels[0]!.addPod({ uid: 'client', ips: [clientIp] });
  await mesh.ztunnels[1]!.addPod({ uid: 'server', ips: [serverIp] });
  const socksPort = await mesh.socks(0, mesh.ip(1));
  return { mesh, socksPort, clientIp, serverIp, vip };
}

function dial(env: Awaited<ReturnType<typeof setup>>, host: string, port: number): Promise<net.Socket> {
  return connectViaSocks5(
    { host, port },
    { proxyHost: env.mesh.ip(1), proxyPort: env.socksPort, localAddress: env.clientIp },
  );
}

describe('ztunnel in local mode: two nodes, SOCKS5 in, HBONE across', () => {
  it('carries a connection to a service VIP over mTLS with both identities, and counts it', async () => {
    const env = await setup();
    const server = await app(env.serverIp, 8080);
    const socket = await dial(env, env.vip, 80);
    socket.write('hello mesh');
    expect(await readUntil(socket, 'HELLO MESH')).toBe('HELLO MESH');
    socket.end();
    await new Promise((r) => socket.on('close', r));
    expect(server.peers).toEqual([env.serverIp]);
    await expect.poll(() => env.mesh.logs[1]!.join('\n')).toContain('direction="inbound"');
    const inbound = env.mesh.logs[1]!.find((l) => l.includes('direction="inbound"'))!;
    expect(inbound).toContain('src.identity="spiffe://cluster.local/ns/default/sa/client"');
    expect(inbound).toContain('dst.identity="spiffe://cluster.local/ns/default/sa/server"');
    expect(inbound).toContain(`dst.addr=${env.serverIp}:15008 dst.hbone_addr=${env.serverIp}:8080`);
    expect(inbound).toContain('bytes_recv=10');
    expect(inbound).toContain('bytes_sent=10');
    await expect.poll(() => env.mesh.logs[0]!.join('\n')).toContain('direction="outbound"');
    const metrics = env.mesh.ztunnels[1]!.metrics.render();
    expect(metrics).toMatch(
      /istio_tcp_connections_opened_total\{reporter="destination",source_workload="client",.*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/client".*connection_security_policy="mutual_tls"\} 1/,
    );
    expect(metrics).toMatch(/istio_tcp_received_bytes_total\{reporter="destination".*\} 10/);
  });

  it('resolves a service hostname given to SOCKS5, and works with a server-speaks-first protocol', async () => {
    const env = await setup();
    await app(env.serverIp, 8080, 'WELCOME\n');
    const socket = await dial(env, 'echo.default.svc.cluster.local', 80);
    expect(await readUntil(socket, 'WELCOME\n')).toBe('WELCOME\n');
    socket.destroy();
  });

  it('enforces a DENY policy at the destination (401 → SOCKS "not allowed") and logs the rejection', async () => {
    const env = await setup();
    await app(env.serverIp, 8080);
    env.mesh.apply.policy(
      policy('deny-client', {
        action: 'DENY',
        rules: [
          {
            clauses: [
              {
                matches: [
                  {
                    namespaces: [],
                    notNamespaces: [],
                    principals: [{ matchType: 'exact', exact: 'cluster.local/ns/default/sa/client' }],
                    notPrincipals: [],
                    sourceIps: [],
                    notSourceIps: [],
                    destinationIps: [],
                    notDestinationIps: [],
                    destinationPorts: [],
                    notDestinationPorts: [],
                    serviceAccounts: [],
                    notServiceAccounts: [],
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    await expect(dial(env, env.vip, 80)).rejects.toThrow(/reply 2/);
    await expect.poll(() => env.mesh.logs[1]!.join('\n')).toContain('policy rejection');
    expect(env.mesh.ztunnels[1]!.metrics.render()).toMatch(
      /istio_tcp_connections_opened_total\{reporter="destination".*response_flags="DENY".*\} 1/,
    );
  });

  it('an ALLOW policy that does not match denies; a policy change cuts an open connection', async () => {
    const env = await setup();
    await app(env.serverIp, 8080);
    const socket = await dial(env, env.vip, 80);
    socket.write('before');
    await readUntil(socket, 'BEFORE');
    const closed = new Promise((r) => socket.on('close', r));
    env.mesh.apply.policy(policy('allow-nobody', { action: 'ALLOW', rules: [] }));
    await closed;
    await expect.poll(() => env.mesh.logs[1]!.join('\n')).toContain('policy rejection');
    await expect(dial(env, env.vip, 80)).rejects.toThrow(/reply 2/);
    env.mesh.apply.policy('default/allow-nobody');
    const again = await dial(env, env.vip, 80);
    again.write('after');
    expect(await readUntil(again, 'AFTER')).toBe('AFTER');
    again.destroy();
  });

  it('a policy change cuts exactly the connections it now denies: namespace, workload-selector, global', async () => {
    const env = await setup();
    await app(env.serverIp, 8080);
    const open = async (): Promise<{ socket: net.Socket; closed: Promise<unknown> }> => {
      const socket = await dial(env, env.vip, 80);
      socket.write('ping');
      await readUntil(socket, 'PING');
      return { socket, closed: new Promise((r) => socket.on('close', r)) };
    };
    const stillOpen = async (socket: net.Socket, word: string): Promise<void> => {
      socket.write(word);
      expect(await readUntil(socket, word.toUpperCase())).toContain(word.toUpperCase());
    };
    const denyAll = { action: 'DENY' as const, rules: [{ clauses: [] }] };

    // Another namespace's policy, and a selector policy the server does not list: nothing is cut.
    const first = await open();
    env.mesh.apply.policy(policy('deny-other', { namespace: 'other', scope: 'NAMESPACE', ...denyAll }));
    env.mesh.apply.policy(policy('deny-selected', { scope: 'WORKLOAD_SELECTOR', ...denyAll }));
    await stillOpen(first.socket, 'unrelated');

    // The server's workload now lists the selector policy (a workload change): cut.
    const server = env.mesh.stores[1]!.workload('server')!;
    env.mesh.apply.workload({ ...server, authorizationPolicies: ['default/deny-selected'] });
    await first.closed;
    env.mesh.apply.workload(server);

    // A namespace policy of the server's namespace: cut; removing it lets new connections through.
    const second = await open();
    env.mesh.apply.policy(policy('deny-here', { scope: 'NAMESPACE', ...denyAll }));
    await second.closed;
    env.mesh.apply.policy('default/deny-here');

    // A GLOBAL policy outside the root namespace acts as a namespace policy of its own namespace.
    const third = await open();
    env.mesh.apply.policy(policy('global-other', { namespace: 'other', scope: 'GLOBAL', ...denyAll }));
    await stillOpen(third.socket, 'still');
    // A GLOBAL policy of the root namespace applies mesh-wide: cut.
    env.mesh.apply.policy(policy('deny-mesh', { namespace: 'istio-system', scope: 'GLOBAL', ...denyAll }));
    await third.closed;
    env.mesh.apply.policy('istio-system/deny-mesh');

    // Replacing a denying selector policy by an allowing one re-checks with the new version.
    env.mesh.apply.workload({ ...server, authorizationPolicies: ['default/deny-selected'] });
    await expect(dial(env, env.vip, 80)).rejects.toThrow(/reply 2/);
    env.mesh.apply.policy(policy('deny-selected', { scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [] }));
    const fourth = await open();
    await stillOpen(fourth.socket, 'allowed');
    fourth.socket.destroy();
    await expect.poll(() => env.mesh.logs[1]!.filter((l) => l.includes('policy rejection')).length).toBe(4);
  });

  it('refuses SOCKS5 from an address that is not a pod on this node, and passes non-mesh destinations through', async () => {
    const env = await setup();
    await expect(
      connectViaSocks5(
        { host: env.vip, port: 80 },
        { proxyHost: env.mesh.ip(1), proxyPort: env.socksPort, localAddress: env.mesh.ip(99) },
      ),
    ).rejects.toThrow(/reply 2/);
    const outside = await app(env.mesh.ip(150), 9999);
    const socket = await dial(env, env.mesh.ip(150), 9999);
    socket.write('plain');
    expect(await readUntil(socket, 'PLAIN')).toBe('PLAIN');
    socket.destroy();
    expect(outside.peers).toEqual([env.clientIp]);
  });
});
