import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryPodSource } from '../src/index.js';
import {
  createSocketInNetns,
  listenServerInNetns,
  NodeAgent,
  type RedirectionStatus,
  ZtunnelAgentClient,
  type ZtunnelPod,
} from '../src/node/index.js';
import { addonSkipReason } from './helpers/privileges.js';

const PEERS = fileURLToPath(new URL('./fixtures/istio-peers/', import.meta.url));
const python = spawnSync('python3', ['-c', 'import socket; socket.send_fds']);
const skipReason =
  addonSkipReason ?? (python.status === 0 ? undefined : 'needs python3 ≥ 3.9 (socket.send_fds)');

/** A Python peer and the JSON lines it printed. */
class PythonPeer {
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly child: ChildProcessWithoutNullStreams;

  constructor(script: string, args: string[]) {
    this.child = spawn('python3', [join(PEERS, script), ...args]);
    let partial = '';
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => this.stderr.push(d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Resolves with the first line matching; rejects if the peer exits first. */
  async line(test: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.lines.find(test);
      if (found) return found;
      if (this.child.exitCode !== null)
        throw new Error(`python peer exited (${this.child.exitCode}): ${this.stderr.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

describe.skipIf(skipReason !== undefined)(
  `zds over SOCK_SEQPACKET with SCM_RIGHTS against independent Python peers (Istio's wire format)${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    const netnsName = `amzds${process.pid.toString(36)}`;
    const netnsPath = `/var/run/netns/${netnsName}`;
    let dir: string;
    const cleanups: (() => unknown)[] = [];

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'amesh-zds-py-'));
      spawnSync('ip', ['netns', 'delete', netnsName], { stdio: 'ignore' });
      expect(spawnSync('ip', ['netns', 'add', netnsName]).status).toBe(0);
      expect(spawnSync('ip', ['-n', netnsName, 'link', 'set', 'lo', 'up']).status).toBe(0);
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });
    afterAll(() => {
      spawnSync('ip', ['netns', 'delete', netnsName], { stdio: 'ignore' });
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('Python as Istio’s node agent: our ztunnel client takes the netns fd, listens inside that namespace, acks, and drops a fd-less Add', async () => {
      const socketPath = join(dir, 'agent.sock');
      const agent = new PythonPeer('istio_node_agent.py', [
        socketPath,
        netnsPath,
        'Kubernetes//Pod/shop/pod-a',
      ]);
      cleanups.push(() => agent.kill());
      await agent.line((l) => l.step === 'listening');

      const servers = new Map<string, net.Server>();
      const served: ZtunnelPod[] = [];
      const stopped: string[] = [];
      const client = new ZtunnelAgentClient({
        socketPath,
        backoff: { initialMs: 50, maxMs: 200 },
        handler: {
          serve: async (pod) => {
            served.push(pod);
            const server = net.createServer((socket) => socket.end('in-pod'));
            await listenServerInNetns(server, pod.netnsPath, { host: '127.0.0.1', port: 15008 });
            servers.set(pod.uid, server);
          },
          stop: async (uid) => {
            stopped.push(uid);
            const server = servers.get(uid);
            servers.delete(uid);
            await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
          },
        },
      });
      cleanups.push(async () => {
        await client.close();
        client.releasePods();
        for (const s of servers.values()) s.close();
      });
      const stoppedWhenSynced: string[][] = [];
      client.on('state', (s) => {
        if (s.state === 'synced') stoppedWhenSynced.push([...stopped]);
      });
      client.start();

      expect(await agent.line((l) => l.step === 'hello')).toEqual({ step: 'hello', hex: '0801' });
      const sent = await agent.line((l) => l.step === 'sending-add');
      expect(await agent.line((l) => l.step === 'ack-add')).toEqual({ step: 'ack-add', error: '' });
      expect(served).toHaveLength(1);
      const pod = served[0]!;
      expect(pod.uid).toBe('Kubernetes//Pod/shop/pod-a');
      expect(pod.workloadInfo).toEqual({ name: 'pod-a', namespace: 'shop', serviceAccount: 'sa-a' });
      // The path is our copy of the fd Python passed, and it is the pod's namespace.
      expect(pod.netnsPath).toMatch(/^\/proc\/self\/fd\/\d+$/);
      expect(statSync(pod.netnsPath).ino).toBe(sent.inode);
      expect(statSync(pod.netnsPath).ino).toBe(statSync(netnsPath).ino);
      // The listener opened through that fd lives in the pod's namespace: reachable from inside it.
      const greeting = await new Promise<string>((resolve, reject) => {
        const socket = createSocketInNetns(netnsPath, { family: 4 });
        let got = '';
        socket.on('data', (d) => (got += d.toString()));
        socket.on('end', () => resolve(got));
        socket.on('error', reject);
        socket.connect({ host: '127.0.0.1', port: 15008 });
      });
      expect(greeting).toBe('in-pod');

      agent.child.stdin.write('go\n');
      expect(await agent.line((l) => l.step === 'ack-snapshot')).toEqual({ step: 'ack-snapshot', error: '' });
      // Python goes on without waiting: look at what held when the snapshot completed.
      expect(stoppedWhenSynced).toEqual([[]]);
      expect(await agent.line((l) => l.step === 'ack-del')).toEqual({ step: 'ack-del', error: '' });
      expect(stopped).toEqual(['Kubernetes//Pod/shop/pod-a']);
      expect(client.pods()).toEqual([]);
      // Its netns fd was closed with it: the path no longer leads to the pod's namespace.
      let inode: number | undefined;
      try {
        inode = statSync(pod.netnsPath).ino;
      } catch {
        inode = undefined;
      }
      expect(inode).not.toBe(statSync(netnsPath).ino);
      const after = await agent.line((l) => l.step === 'after-add-without-fd');
      expect(after.closed).toBe(true);
      expect(await agent.exited).toBe(0);
    });

    it('Python as Istio’s ztunnel: our node agent sends the snapshot with the netns fd in SCM_RIGHTS and reads its acks', async () => {
      const source = new InMemoryPodSource();
      source.setNamespaceLabels('shop', { 'istio.io/dataplane-mode': 'ambient' });
      source.upsert({
        uid: 'Kubernetes//Pod/shop/pod-b',
        name: 'pod-b',
        namespace: 'shop',
        labels: {},
        serviceAccount: 'sa-b',
        netnsPath,
      });
      const statuses: [string, RedirectionStatus | undefined][] = [];
      const errors: string[] = [];
      const zdsSocketPath = join(dir, 'ztunnel.sock');
      const agent = await NodeAgent.start({
        podSource: source,
        cniSocketPath: join(dir, 'cni.sock'),
        zdsSocketPath,
        reportStatus: (pod, status) => statuses.push([pod.name, status]),
        onError: (error) => errors.push(error.message),
      });
      cleanups.push(() => agent.uninstall());
      const ztunnel = new PythonPeer('istio_ztunnel.py', [zdsSocketPath]);
      cleanups.push(() => ztunnel.kill());

      const add = await ztunnel.line((l) => l.type === 'add');
      expect(add).toMatchObject({
        uid: 'Kubernetes//Pod/shop/pod-b',
        info: { '1': 'pod-b', '2': 'shop', '3': 'sa-b' },
        fds: 1,
        inodes: [statSync(netnsPath).ino],
        // Istio's AddWorkload fields only: no amesh netns path (field 1000) on this transport.
        fields: [1, 2],
      });
      expect(await ztunnel.line((l) => l.type === 'snapshot-sent')).toEqual({
        type: 'snapshot-sent',
        hex: '1a00',
      });
      await agent.whenIdle();
      await expect.poll(() => agent.captureState('Kubernetes//Pod/shop/pod-b')?.phase).toBe('enabled');
      expect(statuses).toEqual([['pod-b', 'enabled']]);

      // Del: Python acks with an error, which the agent reports instead of losing it.
      source.delete('Kubernetes//Pod/shop/pod-b');
      await agent.whenIdle();
      expect(await ztunnel.line((l) => l.type === 'del')).toEqual({
        type: 'del',
        uid: 'Kubernetes//Pod/shop/pod-b',
        fds: 0,
      });
      expect(errors.some((e) => e.includes('ztunnel refused: netns busy'))).toBe(true);
      await agent.uninstall();
      expect(await ztunnel.line((l) => l.type === 'eof')).toEqual({ type: 'eof' });
      expect(await ztunnel.exited).toBe(0);
    });
  },
);
