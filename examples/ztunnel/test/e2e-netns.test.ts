import { execFile, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import type net from 'node:net';
import { bindDgramInNetns } from '@amesh/cni-redirect/node';
import { DnsRcode, encodeDnsMessage, parseDnsMessage } from '@amesh/dns-proxy';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  e2eSkipReason,
  Mesh,
  type MeshNode,
  type MeshPod,
  netnsNames,
  nftTables,
  PREFIX,
  removeLeftovers,
  rootLinkNames,
  sh,
} from './netns-harness.js';

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`netns end-to-end mesh test skipped: ${skipReason}`);

const AMBIENT = { 'istio.io/dataplane-mode': 'ambient' };
const SPIFFE = 'spiffe://cluster.local/ns/shop/sa';
const BANNER = 'SSH-2.0-amesh-e2e\r\n';

/** Resolves once `check` returns a truthy value (polled on timer ticks, no fixed sleep); fails after `timeoutMs`. */
async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Writes `text` and resolves with the answer once it is as long as `text`; rejects on close, error or 10 s. */
function roundTrip(socket: net.Socket, text: string): Promise<string> {
  return readUntil(
    socket,
    (got) => got.length >= text.length,
    () => socket.write(text),
  );
}

/** Resolves with what arrived once `done(got)` holds; rejects if the socket closes first. */
function readUntil(socket: net.Socket, done: (got: string) => boolean, start?: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData).off('close', onClose).off('error', onError);
      if (error) reject(error);
      else resolve(got);
    };
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (done(got)) finish();
    };
    const onClose = (): void => finish(new Error(`closed after ${JSON.stringify(got)}`));
    const onError = (error: Error): void => finish(error);
    const timer = setTimeout(
      () => finish(new Error(`no complete answer in 10 s, got ${JSON.stringify(got)}`)),
      10_000,
    );
    socket.on('data', onData).on('close', onClose).on('error', onError);
    start?.();
  });
}

/** Sends `text` on a fresh connection: the echoed answer, or `refused` when the mesh closes it instead. */
async function attempt(mesh: Mesh, from: MeshPod, host: string, port: number, text: string): Promise<string> {
  const socket = mesh.connectFrom(from, host, port);
  try {
    return await roundTrip(socket, text);
  } catch {
    return 'refused';
  } finally {
    socket.destroy();
  }
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

const logLines = (node: MeshNode): string[] => node.ztunnel?.lines ?? [];

describe.skipIf(skipReason !== undefined)(
  `netns end-to-end: two node namespaces, CNI-wired pods, control plane, node agents and ztunnels${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let mesh: Mesh;
    let n1: MeshNode;
    let n2: MeshNode;
    let client: MeshPod;
    let near: MeshPod;
    let far: MeshPod;
    let legacy: MeshPod;
    const farPeers: string[] = [];
    let rootTablesBefore: string[] = [];
    let rootLinksBefore: string[] = [];
    let destroyed = false;
    /** The resolver outside the mesh (in node1's namespace) the ztunnels forward other names to. */
    let upstream: dgram.Socket | undefined;

    beforeAll(async () => {
      removeLeftovers();
      rootTablesBefore = nftTables(null);
      rootLinksBefore = rootLinkNames();
      mesh = new Mesh();
      [n1, n2] = mesh.nodes;
      mesh.createNodes();
      mesh.namespaces.set('shop', AMBIENT);
      mesh.namespaces.set('legacy', {});
      client = mesh.declarePod({ name: 'client', namespace: 'shop', node: 1, serviceAccount: 'client' });
      near = mesh.declarePod({ name: 'near', namespace: 'shop', node: 1, serviceAccount: 'near' });
      far = mesh.declarePod({ name: 'far', namespace: 'shop', node: 2, serviceAccount: 'far' });
      legacy = mesh.declarePod({ name: 'legacy', namespace: 'legacy', node: 2 });
      mesh.services.push(
        {
          name: 'near',
          namespace: 'shop',
          vip: mesh.vip(10),
          selector: { app: 'near' },
          ports: [{ name: 'tcp-echo', port: 80, targetPort: 8080 }],
        },
        {
          name: 'far',
          namespace: 'shop',
          vip: mesh.vip(20),
          selector: { app: 'far' },
          ports: [
            { name: 'tcp-echo', port: 80, targetPort: 8080 },
            { name: 'tcp-ssh', port: 22, targetPort: 2222 },
          ],
        },
      );
      // The pods are scheduled (known to the config, no IP yet) before their sandboxes exist.
      mesh.writeConfig();
      upstream = await startUpstream(n1.netnsPath, n1.linkIp);
      mesh.dnsUpstream = `${n1.linkIp}:${upstream.address().port}`;
      await mesh.startControlPlane();
      await Promise.all(mesh.nodes.map((n) => mesh.startNodeAgent(n)));
      await Promise.all(mesh.nodes.map((n) => mesh.startZtunnel(n)));
      // CNI ADD per pod (one node's pods in order, nodes in parallel), then the "kubelet" reports IPs.
      await Promise.all(
        mesh.nodes.map(async (node) => {
          for (const pod of mesh.pods.values()) if (pod.node === node) await mesh.createPod(pod);
        }),
      );
      mesh.writeConfig();

      const echo = (socket: net.Socket): void => {
        socket.on('data', (d) => socket.write(d.toString().toUpperCase()));
        socket.on('end', () => socket.end());
      };
      await mesh.serve(near, 8080, echo);
      await mesh.serve(far, 8080, (socket) => {
        farPeers.push(socket.remoteAddress ?? '');
        echo(socket);
      });
      await mesh.serve(far, 2222, (socket) => socket.write(BANNER));
      await mesh.serve(legacy, 9090, (socket) => socket.end(`${socket.remoteAddress}\n`));

      // Ready: each ztunnel serves its enrolled pods with their IPs and sees the others as HBONE workloads.
      const enrolled = [client, near, far];
      await until(
        'ztunnels to serve their pods with IPs and know every enrolled workload as HBONE',
        async () => {
          for (const node of mesh.nodes) {
            const dump = await mesh.configDump(node);
            for (const pod of enrolled) {
              const uid = `Kubernetes//Pod/shop/${pod.name}`;
              const w = dump.workloads.find((x) => x.uid === uid);
              if (w?.tunnelProtocol !== 'HBONE') return false;
              if (pod.node === node && !dump.pods.some((p) => p.uid === uid && p.ips.includes(pod.ip!)))
                return false;
            }
          }
          return true;
        },
        30_000,
      );
    }, 120_000);

    afterEach((context) => {
      if (!mesh || context.task.result?.state !== 'fail') return;
      const processes = [mesh.controlPlane, ...mesh.nodes.flatMap((n) => [n.agent, n.ztunnel])];
      for (const p of processes) if (p) console.warn(`--- ${p.name} (last lines)\n${p.tail(40)}`);
    });

    afterAll(async () => {
      upstream?.close();
      if (mesh && !destroyed) {
        const problems = await mesh.destroy();
        if (problems.length > 0) console.warn(`cleanup problems:\n${problems.join('\n')}`);
      }
    });

    it('enrols pods through the chained CNI plugin: rules in each enrolled pod, status reported, none in the non-mesh pod', async () => {
      for (const pod of [client, near, far]) {
        expect(nftTables(pod.netns)).toContain('inet amesh');
      }
      expect(nftTables(legacy.netns)).not.toContain('inet amesh');
      // Log lines travel through the children's stdout pipes: wait for them rather than assume they arrived.
      await until('node1’s agent to report client enabled', () =>
        n1.agent!.lines.some((l) => l.includes('status: reported shop/client enabled')),
      );
      await until('node2’s agent to report far enabled', () =>
        n2.agent!.lines.some((l) => l.includes('status: reported shop/far enabled')),
      );
      await until('the control plane to log far’s status', () =>
        mesh.controlPlane!.lines.some((l) =>
          l.includes('redirection: shop/far is enabled (reported by node2)'),
        ),
      );
    });

    it('same node: client → near service VIP goes through ztunnel with both identities in the connection log', async () => {
      const socket = mesh.connectFrom(client, mesh.vip(10), 80);
      expect(await roundTrip(socket, 'hello near')).toBe('HELLO NEAR');
      socket.end();
      await closed(socket);
      const line = await until('node1 inbound connection log', () =>
        logLines(n1).find(
          (l) =>
            l.includes('direction="inbound"') && l.includes(`${SPIFFE}/near`) && l.includes('bytes_sent='),
        ),
      );
      expect(line).toContain(`src.identity="${SPIFFE}/client"`);
      expect(line).toContain(`dst.identity="${SPIFFE}/near"`);
      expect(line).toContain(`src.addr=${client.ip}:`);
      expect(line).toContain(`dst.hbone_addr=${near.ip}:8080`);
      expect(line).not.toContain('error=');
    });

    it('cross node: client → far service VIP goes over HBONE across the veth link, identities logged by node2', async () => {
      const rxBefore = vethRxBytes(n2);
      const socket = mesh.connectFrom(client, mesh.vip(20), 80);
      expect(await roundTrip(socket, 'hello far')).toBe('HELLO FAR');
      socket.end();
      await closed(socket);
      const line = await until('node2 inbound connection log', () =>
        logLines(n2).find(
          (l) =>
            l.includes('direction="inbound"') && l.includes(`${SPIFFE}/client`) && l.includes('bytes_sent='),
        ),
      );
      expect(line).toContain(`dst.identity="${SPIFFE}/far"`);
      // The tunnel came from the client pod's own address (dialled inside its namespace) to far's 15008.
      expect(line).toContain(`src.addr=${client.ip}:`);
      expect(line).toContain(`dst.addr=${far.ip}:15008`);
      expect(line).toContain(`dst.hbone_addr=${far.ip}:8080`);
      expect(line).toContain('src.workload="client"');
      expect(vethRxBytes(n2)).toBeGreaterThan(rxBefore);
      const outbound = await until('node1 outbound connection log', () =>
        logLines(n1).find(
          (l) => l.includes('direction="outbound"') && l.includes(`dst.hbone_addr=${far.ip}:8080`),
        ),
      );
      expect(outbound).toContain(`dst.addr=${far.ip}:15008`);
      expect(outbound).toContain('dst.service="far.shop.svc.cluster.local"');
    });

    it('a server-speaks-first protocol works through the mesh (the banner arrives before the client writes)', async () => {
      const socket = mesh.connectFrom(client, mesh.vip(20), 22);
      const banner = await readUntil(socket, (got) => got.includes('\n'));
      expect(banner).toBe(BANNER);
      socket.destroy();
    });

    it('DNS: a pod resolves mesh names through its ztunnel’s proxy (a c-ares client in the pod), reaches the VIP, and other names go upstream', async () => {
      // Any server address off the pod's loopback: the pod's rules redirect UDP 53 to ztunnel's 15053.
      const server = mesh.vip(53);
      expect(await resolve4In(client.netnsPath, server, 'far.shop.svc.cluster.local')).toEqual([
        mesh.vip(20),
      ]);
      expect(await resolve4In(client.netnsPath, server, 'near.shop')).toEqual([mesh.vip(10)]);
      expect(await resolve4In(client.netnsPath, server, 'outside.example')).toEqual(['192.0.2.7']);
      expect(await resolve4In(client.netnsPath, server, 'nowhere.example')).toEqual({ error: 'ENOTFOUND' });
      const [vip] = (await resolve4In(client.netnsPath, server, 'far.shop.svc.cluster.local')) as string[];
      const socket = mesh.connectFrom(client, vip!, 80);
      expect(await roundTrip(socket, 'found by name')).toBe('FOUND BY NAME');
      socket.end();
      await closed(socket);

      // Istio's DNS families on node1's 15020, labelled with the asking workload; promtool accepts them.
      const res = await mesh.httpGet(n1.netnsPath, n1.linkIp, 15020, '/metrics');
      const count = (name: string): number =>
        res.body
          .split('\n')
          .filter((l) => l.startsWith(`${name}{request_query_type="a",request_protocol="udp"`))
          .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
      expect(count('istio_dns_requests_total')).toBe(5);
      expect(count('istio_dns_upstream_requests_total')).toBe(2);
      expect(count('istio_dns_upstream_failures_total')).toBe(0);
      expect(res.body).toMatch(/^istio_dns_requests_total\{.*source_canonical_service="client"/m);
      const promtool = spawnSync('promtool', ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
      if (!promtool.error) expect(`${promtool.status} ${promtool.stdout}${promtool.stderr}`).toBe('0 ');
    });

    it('a DENY policy written to the config directory cuts the open connection and refuses new ones', async () => {
      const socket = mesh.connectFrom(client, mesh.vip(20), 80);
      expect(await roundTrip(socket, 'before')).toBe('BEFORE');
      const cut = closed(socket);
      mesh.writeFile(
        'deny-client.yaml',
        `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-client, namespace: shop }
spec:
  selector: { matchLabels: { app: far } }
  action: DENY
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/shop/sa/client"] } }] }]
`,
      );
      await cut;
      expect(await attempt(mesh, client, mesh.vip(20), 80, 'again')).toBe('refused');
      await until('the DENY in node2’s log', () =>
        logLines(n2).some((l) => /policy rejection: .*shop\/deny-client/.test(l)),
      );
      // Other sources are not affected: near still reaches far.
      expect(await attempt(mesh, near, mesh.vip(20), 80, 'from near')).toBe('FROM NEAR');
      mesh.removeFile('deny-client.yaml');
      await until(
        'the policy removal to reach node2',
        async () => (await attempt(mesh, client, mesh.vip(20), 80, 'after')) === 'AFTER',
      );
    });

    it('STRICT PeerAuthentication rejects plaintext from a non-mesh pod; PERMISSIVE accepts it', async () => {
      // PERMISSIVE (the default): legacy's plaintext reaches far through ztunnel's inbound capture (15006).
      expect(await attempt(mesh, legacy, far.ip!, 8080, 'plain')).toBe('PLAIN');
      await until('a plaintext inbound log on node2', () =>
        logLines(n2).find((l) => l.includes('direction="inbound"') && l.includes(`src.addr=${legacy.ip}:`)),
      );
      mesh.writeFile(
        'strict.yaml',
        `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: shop }
spec: { mtls: { mode: STRICT } }
`,
      );
      await until(
        'STRICT to reach node2',
        async () => (await attempt(mesh, legacy, far.ip!, 8080, 'plain')) === 'refused',
      );
      await until('the plaintext rejection in node2’s log', () =>
        logLines(n2).some((l) => l.includes(`src.addr=${legacy.ip}:`) && l.includes('policy rejection')),
      );
      // mTLS traffic from mesh pods is still allowed under STRICT.
      expect(await attempt(mesh, client, mesh.vip(20), 80, 'mtls')).toBe('MTLS');
      mesh.writeFile(
        'strict.yaml',
        `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: shop }
spec: { mtls: { mode: PERMISSIVE } }
`,
      );
      await until(
        'PERMISSIVE to reach node2',
        async () => (await attempt(mesh, legacy, far.ip!, 8080, 'plain')) === 'PLAIN',
      );
      mesh.removeFile('strict.yaml');
    });

    it('a non-mesh destination passes through, from the client pod’s own address', async () => {
      const socket = mesh.connectFrom(client, legacy.ip!, 9090);
      const seen = await readUntil(socket, (got) => got.includes('\n'));
      socket.destroy();
      expect(seen.trim()).toBe(client.ip);
      const line = await until('node1 passthrough log', () =>
        logLines(n1).find(
          (l) => l.includes('direction="outbound"') && l.includes(`dst.addr=${legacy.ip}:9090`),
        ),
      );
      expect(line).not.toContain('dst.identity');
    });

    it('metrics on 15020 show the traffic with Istio labels, and promtool accepts them', async () => {
      const res = await mesh.httpGet(n2.netnsPath, n2.linkIp, 15020, '/metrics');
      expect(res.status).toBe(200);
      const opened = res.body
        .split('\n')
        .filter(
          (l) => l.startsWith('istio_tcp_connections_opened_total{') && l.includes('reporter="destination"'),
        );
      expect(opened.some((l) => l.includes(`source_principal="${SPIFFE}/client"`))).toBe(true);
      expect(opened.some((l) => l.includes(`destination_principal="${SPIFFE}/far"`))).toBe(true);
      expect(res.body).toMatch(/^istio_tcp_received_bytes_total\{.*\} [1-9]/m);
      const promtool = spawnSync('promtool', ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
      if (promtool.error)
        console.warn(`promtool not found: metrics format not checked (${promtool.error.message})`);
      else expect(`${promtool.status} ${promtool.stdout}${promtool.stderr}`).toBe('0 ');
    });

    it('a restarted ztunnel gets its pods back from the node agent’s snapshot and carries mTLS traffic again', async () => {
      expect(await n2.ztunnel!.stop()).toBe(0);
      // Nothing listens in far's namespace now: captured traffic is refused, never let through.
      expect(await attempt(mesh, legacy, far.ip!, 8080, 'while down')).toBe('refused');
      await mesh.startZtunnel(n2);
      await until('the new node2 ztunnel to serve far with its IP', async () =>
        (await mesh.configDump(n2)).pods.some(
          (p) => p.uid === 'Kubernetes//Pod/shop/far' && p.ips.includes(far.ip!),
        ),
      );
      await until('far to be HBONE again on node1', async () =>
        (await mesh.configDump(n1)).workloads.some(
          (w) => w.uid === 'Kubernetes//Pod/shop/far' && w.tunnelProtocol === 'HBONE',
        ),
      );
      expect(await attempt(mesh, client, mesh.vip(20), 80, 'restarted')).toBe('RESTARTED');
      const line = await until('the new node2 ztunnel’s inbound log', () =>
        logLines(n2).find((l) => l.includes('direction="inbound"') && l.includes('bytes_sent=')),
      );
      expect(line).toContain(`src.identity="${SPIFFE}/client"`);
      expect(line).toContain(`dst.identity="${SPIFFE}/far"`);
    });

    it('a restarted node agent: an open connection through ztunnel survives, ztunnel resyncs without reopening, and a new pod is captured', async () => {
      const socket = mesh.connectFrom(client, mesh.vip(20), 80);
      expect(await roundTrip(socket, 'before')).toBe('BEFORE');
      const syncs = (): number => logLines(n1).filter((l) => l.includes('node agent: synced')).length;
      const syncedBefore = syncs();
      const retries = (): number =>
        logLines(n1).filter((l) => l.startsWith('node agent: not connected')).length;
      const retriesBefore = retries();
      // A crash: no uninstall, the pods' rules stay; ztunnel keeps serving and keeps retrying.
      await n1.agent!.kill();
      await until('node1’s ztunnel to notice the agent is gone', () => retries() > retriesBefore);
      expect(await roundTrip(socket, 'agent away')).toBe('AGENT AWAY');
      await mesh.startNodeAgent(n1);
      await until('node1’s ztunnel to resync with the new agent', () => syncs() > syncedBefore);
      // The snapshot replayed client and near: already served in the same namespace, nothing reopened.
      expect(
        logLines(n1).some((l) => l.includes('pod Kubernetes//Pod/shop/client already served (unchanged)')),
      ).toBe(true);
      expect(await roundTrip(socket, 'after restart')).toBe('AFTER RESTART');
      // Istio's transport: the agent passed each pod's netns as an fd (SCM_RIGHTS) over SOCK_SEQPACKET.
      const client1 = (await mesh.configDump(n1)).pods.find((p) => p.uid === 'Kubernetes//Pod/shop/client');
      expect(client1?.netns).toMatch(/^\/proc\/self\/fd\/\d+$/);
      socket.end();
      await closed(socket);

      // A pod created after the restart is captured by the new agent and served by the same ztunnel.
      const late = mesh.declarePod({ name: 'late', namespace: 'shop', node: 1, serviceAccount: 'late' });
      mesh.writeConfig();
      await mesh.createPod(late);
      mesh.writeConfig();
      // The agent may read the new pod from the config directory just after its ADD: then it captures it
      // on that change (with the netns the ADD reported) instead of during the ADD.
      await until('late’s rules', () => nftTables(late.netns).includes('inet amesh'));
      await until('node1 to serve late with its IP', async () =>
        (await mesh.configDump(n1)).pods.some(
          (p) => p.uid === 'Kubernetes//Pod/shop/late' && p.ips.includes(late.ip!),
        ),
      );
      // The new pod's certificate and far's address reach node1 independently: wait for the first success.
      await until(
        'late to reach far through the mesh',
        async () => (await attempt(mesh, late, mesh.vip(20), 80, 'from late')) === 'FROM LATE',
      );
      const line = await until('node2’s inbound log for late', () =>
        logLines(n2).find((l) => l.includes('direction="inbound"') && l.includes(`${SPIFFE}/late`)),
      );
      expect(line).toContain(`dst.identity="${SPIFFE}/far"`);
    });

    it('un-enrolling a pod removes its rules and restores direct traffic to it', async () => {
      far.labels = { ...far.labels, 'istio.io/dataplane-mode': 'none' };
      mesh.writeConfig();
      await until('far’s rules to be removed', () => !nftTables(far.netns).includes('inet amesh'));
      await until('node2 to stop serving far', async () =>
        (await mesh.configDump(n2)).pods.every((p) => p.uid !== 'Kubernetes//Pod/shop/far'),
      );
      await until('far to be a plain (non-HBONE) workload on node1', async () =>
        (await mesh.configDump(n1)).workloads.some(
          (w) => w.uid === 'Kubernetes//Pod/shop/far' && w.tunnelProtocol === 'NONE',
        ),
      );
      await until('node2’s agent to report far no longer captured', () =>
        n2.agent!.lines.some((l) => l.includes('status: reported shop/far none')),
      );
      // The non-mesh pod reaches far directly; the client's ztunnel sends plain TCP from the client's address.
      farPeers.length = 0;
      expect(await attempt(mesh, legacy, far.ip!, 8080, 'direct')).toBe('DIRECT');
      expect(await attempt(mesh, client, mesh.vip(20), 80, 'plain tcp')).toBe('PLAIN TCP');
      expect(farPeers).toEqual([legacy.ip, client.ip]);
    });

    it('uninstall removes every rule, pod, node namespace and link, and leaves the machine as it was', async () => {
      const pods = [...mesh.pods.values()];
      // Agents uninstall on SIGTERM: every pod table goes before the pods are deleted.
      await n1.ztunnel!.stop();
      await n2.ztunnel!.stop();
      expect(await n1.agent!.stop()).toBe(0);
      expect(await n2.agent!.stop()).toBe(0);
      for (const pod of pods) expect(nftTables(pod.netns)).not.toContain('inet amesh');
      destroyed = true;
      const problems = await mesh.destroy();
      expect(problems).toEqual([]);
      expect(netnsNames().filter((n) => n.startsWith(mesh.id))).toEqual([]);
      expect(rootLinkNames().filter((l) => l.startsWith(mesh.id))).toEqual([]);
      // Other suites may change the machine's own namespace meanwhile: compare only what could be ours.
      expect(rootLinkNames().filter((l) => !rootLinksBefore.includes(l) && l.startsWith(PREFIX))).toEqual([]);
      const amesh = (tables: string[]) => tables.filter((t) => t.includes('amesh'));
      expect(amesh(nftTables(null))).toEqual(amesh(rootTablesBefore));
      expect(existsSync(mesh.stateDir)).toBe(false);
    });
  },
);

/** Bytes node2 received on its veth end (the only way between the nodes). */
/**
 * `resolve4` by Node's c-ares resolver run inside a pod's namespace (the
 * client a pod would use), against `server` on port 53: the addresses, or
 * `{ error: code }`.
 */
function resolve4In(netnsPath: string, server: string, name: string): Promise<string[] | { error: string }> {
  const script = `const { Resolver } = require('node:dns').promises;
    const r = new Resolver({ timeout: 4000, tries: 1 });
    r.setServers([process.argv[1]]);
    r.resolve4(process.argv[2]).then((a) => console.log(JSON.stringify(a.sort())), (e) => console.log(JSON.stringify({ error: e.code })));`;
  return new Promise((resolve, reject) => {
    execFile(
      'nsenter',
      [`--net=${netnsPath}`, process.execPath, '-e', script, server, name],
      { timeout: 15_000 },
      (error, stdout) =>
        error ? reject(error) : resolve(JSON.parse(stdout) as string[] | { error: string }),
    );
  });
}

/** A resolver for names outside the mesh: `outside.example` is 192.0.2.7, anything else NXDOMAIN. */
async function startUpstream(netnsPath: string, host: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await bindDgramInNetns(socket, netnsPath, { port: 0, host });
  socket.on('message', (bytes, from) => {
    const query = parseDnsMessage(bytes);
    const question = query.questions[0];
    const known = question?.name.toLowerCase() === 'outside.example';
    const answers =
      known && question?.type === 1
        ? [{ kind: 'A' as const, name: question.name, class: 1, ttl: 60, address: '192.0.2.7' }]
        : [];
    const flags = { ...query.flags, qr: true, ra: true, rcode: known ? 0 : DnsRcode.NXDOMAIN };
    socket.send(
      encodeDnsMessage({ ...query, flags, answers, authorities: [], additionals: [] }),
      from.port,
      from.address,
    );
  });
  return socket;
}

function vethRxBytes(node: MeshNode): number {
  const json = JSON.parse(sh('ip', ['-n', node.netns, '-s', '-j', 'link', 'show', node.veth])) as {
    stats64: { rx: { bytes: number } };
  }[];
  return json[0]!.stats64.rx.bytes;
}
