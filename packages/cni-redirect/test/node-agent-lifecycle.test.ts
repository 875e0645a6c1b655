import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryPodSource } from '../src/index.js';
import { inspectPodRules, NodeAgent, type RedirectionStatus, requestNodeAgent } from '../src/node/index.js';
import { CniTopology, type TestPod } from './helpers/cni-topology.js';
import { FakeZtunnel } from './helpers/fake-ztunnel.js';
import { sh } from './helpers/netns.js';
import { cniSkipReason } from './helpers/privileges.js';

const AMBIENT = { 'istio.io/dataplane-mode': 'ambient' };

describe.skipIf(cniSkipReason !== undefined)(
  `node agent lifecycle: running pods, ztunnel (re)connects, pod deletion, uninstall ${cniSkipReason ? `(skipped: ${cniSkipReason})` : ''}`,
  () => {
    let topology: CniTopology;
    let dir: string;
    const pods: TestPod[] = [];

    beforeAll(async () => {
      topology = new CniTopology();
      dir = mkdtempSync(join(tmpdir(), 'amesh-agent-'));
      for (const name of ['r1', 'r2', 'r3']) pods.push(await topology.addPod(name));
    });

    afterAll(async () => {
      await topology?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('enrols running pods, waits for ztunnel, snapshots on (re)connect, handles deletion, and uninstalls cleanly', async () => {
      const [a, b, c] = pods as [TestPod, TestPod, TestPod];
      const source = new InMemoryPodSource();
      source.setNamespaceLabels('ns1', AMBIENT);
      source.upsert({ uid: 'a', name: 'a', namespace: 'ns1', labels: {}, netnsPath: a.netnsPath });
      source.upsert({
        uid: 'b',
        name: 'b',
        namespace: 'ns1',
        labels: { 'istio.io/dataplane-mode': 'none' },
        netnsPath: b.netnsPath,
      });
      source.upsert({ uid: 'c', name: 'c', namespace: 'ns2', labels: AMBIENT, netnsPath: c.netnsPath });
      const statuses = new Map<string, RedirectionStatus | undefined>();
      const zdsSocketPath = join(dir, 'z.sock');
      const cniSocketPath = join(dir, 'c.sock');
      const agent = await NodeAgent.start({
        podSource: source,
        cniSocketPath,
        zdsSocketPath,
        reportStatus: (pod, status) => statuses.set(pod.uid, status),
      });
      const ztunnel = new FakeZtunnel();
      try {
        // Already-running enrolled pods get rules at once; no status is reported until ztunnel acks
        // (after an agent restart the control plane keeps the last one, and ztunnel still serves the pod).
        expect(await inspectPodRules(a.netnsPath)).toBe('present');
        expect(await inspectPodRules(b.netnsPath)).toBe('absent');
        expect(await inspectPodRules(c.netnsPath)).toBe('present');
        expect(agent.captureState('a')).toEqual({
          phase: 'pending',
          netnsPath: a.netnsPath,
          reason: 'ztunnel is not connected',
        });
        expect(statuses.has('a')).toBe(false);

        // ztunnel connects: snapshot = Add per captured pod, then SnapshotSent; all acked.
        await ztunnel.connect(zdsSocketPath);
        await ztunnel.waitFor((r) => r.type === 'snapshot-sent');
        await agent.whenIdle();
        expect(
          ztunnel.requests
            .map((r) =>
              r.type === 'add' || r.type === 'del' || r.type === 'keep' ? `${r.type}:${r.uid}` : r.type,
            )
            .sort(),
        ).toEqual(['add:a', 'add:c', 'snapshot-sent'].sort());
        expect(ztunnel.requests.at(-1)).toEqual({ type: 'snapshot-sent' });
        expect(statuses.get('a')).toBe('enabled');
        expect(statuses.get('c')).toBe('enabled');
        expect(agent.ztunnelConnected).toBe(true);

        // ztunnel restarts: a new connection gets a fresh snapshot.
        await ztunnel.disconnect();
        ztunnel.requests.length = 0;
        await ztunnel.connect(zdsSocketPath);
        await ztunnel.waitFor((r) => r.type === 'snapshot-sent');
        expect(ztunnel.requests.filter((r) => r.type === 'add')).toHaveLength(2);

        // A pod deleted from the source: ztunnel gets Del, status cleared.
        source.delete('c');
        await agent.whenIdle();
        await ztunnel.waitFor((r) => r.type === 'del' && r.uid === 'c');
        expect(statuses.get('c')).toBeUndefined();
        expect(agent.capturedPods()).toEqual(['a']);

        // Opting b back in (remove the opt-out label) captures it.
        source.upsert({ uid: 'b', name: 'b', namespace: 'ns1', labels: {}, netnsPath: b.netnsPath });
        await agent.whenIdle();
        expect(agent.captureState('b')?.phase).toBe('enabled');

        // Uninstall: every table gone, ztunnel told Del for each, sockets removed.
        await agent.uninstall();
        for (const pod of [a, b, c]) {
          expect(sh('nsenter', [`--net=${pod.netnsPath}`, 'nft', 'list', 'tables']).trim()).toBe('');
        }
        expect(ztunnel.requests).toContainEqual({ type: 'del', uid: 'a' });
        expect(ztunnel.requests).toContainEqual({ type: 'del', uid: 'b' });
        expect(statuses.get('a')).toBeUndefined();
        expect(statuses.get('b')).toBeUndefined();
        expect(existsSync(zdsSocketPath)).toBe(false);
        expect(existsSync(cniSocketPath)).toBe(false);
        expect(await ztunnel.disconnect()).toBeUndefined();
      } finally {
        await agent.uninstall().catch(() => {});
        await ztunnel.close();
      }
    });

    it('a restarted agent (close keeps the rules) re-adopts running pods; uninstall then removes them', async () => {
      const [a] = pods as [TestPod];
      const source = new InMemoryPodSource();
      source.upsert({ uid: 'a', name: 'a', namespace: 'ns1', labels: AMBIENT, netnsPath: a.netnsPath });
      const options = {
        podSource: source,
        cniSocketPath: join(dir, 'c2.sock'),
        zdsSocketPath: join(dir, 'z2.sock'),
      };
      const first = await NodeAgent.start(options);
      expect(await inspectPodRules(a.netnsPath)).toBe('present');
      await first.close();
      expect(await inspectPodRules(a.netnsPath)).toBe('present');
      const second = await NodeAgent.start(options);
      try {
        expect(second.captureState('a')).toMatchObject({ phase: 'pending', netnsPath: a.netnsPath });
        expect(sh('nsenter', [`--net=${a.netnsPath}`, 'nft', 'list', 'tables']).trim()).toBe(
          'table inet amesh',
        );
      } finally {
        await second.uninstall();
      }
      expect(await inspectPodRules(a.netnsPath)).toBe('absent');
    });

    it('a crashed agent restarted with its state file re-adopts a pod known only from CNI ADD, and ztunnel gets it back without a pending flap', async () => {
      const [, , c] = pods as [TestPod, TestPod, TestPod];
      const source = new InMemoryPodSource();
      source.setNamespaceLabels('ns3', AMBIENT);
      // The source knows the pod but not its netns (like a YAML directory): only CNI ADD tells it.
      source.upsert({ uid: 'c', name: 'c', namespace: 'ns3', labels: {} });
      const statuses: [string, RedirectionStatus | undefined][] = [];
      const options = {
        podSource: source,
        cniSocketPath: join(dir, 'c3.sock'),
        zdsSocketPath: join(dir, 'z3.sock'),
        stateFile: join(dir, 'state', 'agent.json'),
        reportStatus: (pod: { uid: string }, status: RedirectionStatus | undefined) =>
          statuses.push([pod.uid, status]),
      };
      const first = await NodeAgent.start(options);
      const ztunnel = new FakeZtunnel();
      let second: NodeAgent | undefined;
      try {
        await ztunnel.connect(options.zdsSocketPath);
        const answer = await requestNodeAgent(
          options.cniSocketPath,
          {
            command: 'ADD',
            containerId: 'c',
            netns: c.netnsPath,
            ifname: 'eth0',
            podNamespace: 'ns3',
            podName: 'c',
            ips: [],
          },
          10_000,
        );
        expect(answer).toEqual({ ok: true, outcome: 'captured' });
        await first.whenIdle();
        // A crash leaves rules and the state file; close() does the same minus the crash.
        await first.close();
        await ztunnel.disconnect();
        expect(JSON.parse(readFileSync(options.stateFile, 'utf8'))).toEqual({
          version: 1,
          netns: { 'ns3/c': c.netnsPath },
        });
        statuses.length = 0;
        ztunnel.requests.length = 0;

        second = await NodeAgent.start(options);
        expect(second.captureState('c')).toMatchObject({ phase: 'pending', netnsPath: c.netnsPath });
        await ztunnel.connect(options.zdsSocketPath);
        await ztunnel.waitFor((r) => r.type === 'snapshot-sent');
        await second.whenIdle();
        expect(ztunnel.requests.map((r) => (r.type === 'add' ? `add:${r.uid}` : r.type))).toEqual([
          'add:c',
          'snapshot-sent',
        ]);
        expect(second.captureState('c')?.phase).toBe('enabled');
        // Only `enabled`: the control plane never saw the pod fall back to `pending`.
        expect(statuses).toEqual([['c', 'enabled']]);
        await second.uninstall();
        expect(existsSync(options.stateFile)).toBe(false);
        expect(await inspectPodRules(c.netnsPath)).toBe('absent');
      } finally {
        await second?.uninstall().catch(() => {});
        await first.uninstall().catch(() => {});
        await ztunnel.close();
      }
    });

    it('leaves no namespace, link or table behind after the topology is torn down', async () => {
      const names = [topology.nodeName, ...pods.map((p) => p.netnsName)];
      const bridge = topology.bridge;
      await topology.cleanup();
      const remaining = sh('ip', ['netns', 'list']);
      for (const name of names) expect(remaining).not.toContain(name);
      expect(sh('ip', ['link', 'show'])).not.toContain(bridge);
      // The agent only ever writes inside pod namespaces: the host has no amesh table.
      expect(sh('nft', ['list', 'tables'])).not.toMatch(/^table inet amesh$/m);
      expect(existsSync(topology.dataDir)).toBe(false);
    });
  },
);
