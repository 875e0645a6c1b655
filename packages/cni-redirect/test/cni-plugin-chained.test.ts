import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryPodSource } from '../src/index.js';
import {
  createSocketInNetns,
  inspectPodRules,
  NodeAgent,
  type RedirectionStatus,
  removePodRules,
} from '../src/node/index.js';
import { CniTopology, cniEnv, type TestPod } from './helpers/cni-topology.js';
import { FakeZtunnel } from './helpers/fake-ztunnel.js';
import { cniSkipReason } from './helpers/privileges.js';

const PLUGIN = fileURLToPath(new URL('../bin/amesh-cni.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../dist/node/cni-main.js', import.meta.url)));
const skipReason = cniSkipReason ?? (BUILT ? undefined : 'needs the built plugin (npm run build)');
const AMBIENT = { 'istio.io/dataplane-mode': 'ambient' };

function connectFrom(netnsPath: string, host: string, port: number): Promise<string> {
  const socket = createSocketInNetns(netnsPath, { family: net.isIP(host) === 6 ? 6 : 4 });
  return new Promise((resolve, reject) => {
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      answer += d;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.connect({ host, port });
  });
}

/** Resolves once `condition` holds; checks on every timer tick (no fixed sleep), fails after 20 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.skipIf(skipReason !== undefined)(
  `amesh-cni chained after bridge/host-local, with the node agent and a ztunnel ${skipReason ? `(skipped: ${skipReason})` : ''}`,
  () => {
    let topology: CniTopology;
    let dir: string;
    let agent: NodeAgent;
    let ztunnel: FakeZtunnel;
    const source = new InMemoryPodSource();
    const statuses: { name: string; status: RedirectionStatus | undefined }[] = [];
    let counter = 0;

    const pluginConfig = (pod: TestPod, extra: Record<string, unknown> = {}) => ({
      cniVersion: '1.0.0',
      name: 'amesh-test',
      type: 'amesh-cni',
      agentSocket: join(dir, 'cni.sock'),
      agentTimeoutMs: 20_000,
      prevResult: pod.result,
      ...extra,
    });
    const runAmesh = (command: string, pod: TestPod, config: unknown = pluginConfig(pod), env = {}) =>
      topology.runPlugin([process.execPath, PLUGIN], cniEnv(command, pod, env), config);

    /** A new pod wired by bridge, known to the pod source with these labels. */
    async function newPod(
      labels: Record<string, string>,
      namespace = 'default',
    ): Promise<TestPod & { uid: string }> {
      counter += 1;
      const pod = await topology.addPod(`p${counter}`);
      const uid = `uid-${topology.suffix}-${counter}`;
      source.upsert({ uid, name: pod.name, namespace, labels, serviceAccount: 'sa1' });
      return { ...pod, uid };
    }

    beforeAll(async () => {
      topology = new CniTopology();
      dir = mkdtempSync(join(tmpdir(), 'amesh-agent-'));
      source.setNamespaceLabels('default', {});
      agent = await NodeAgent.start({
        podSource: source,
        cniSocketPath: join(dir, 'cni.sock'),
        zdsSocketPath: join(dir, 'ztunnel.sock'),
        ackTimeoutMs: 10_000,
        reportStatus: (pod, status) => statuses.push({ name: pod.name, status }),
      });
      ztunnel = new FakeZtunnel();
      await ztunnel.connect(join(dir, 'ztunnel.sock'));
      await ztunnel.waitFor((r) => r.type === 'snapshot-sent');
    });

    afterEach(() => {
      ztunnel.refuse = undefined;
    });

    afterAll(async () => {
      await agent?.uninstall().catch(() => {});
      await ztunnel?.close().catch(() => {});
      await topology?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('ADD for an enrolled pod: rules installed, ztunnel acked Add, status enabled, prevResult passed through', async () => {
      const pod = await newPod(AMBIENT);
      const out = await runAmesh('ADD', pod);
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toEqual(pod.result);
      expect(await inspectPodRules(pod.netnsPath)).toBe('present');
      expect(ztunnel.requests).toContainEqual({
        type: 'add',
        uid: pod.uid,
        // SOCK_SEQPACKET: the netns came as an fd (SCM_RIGHTS), opened by ztunnel through its own fd table…
        netnsPath: expect.stringMatching(/^\/proc\/self\/fd\/\d+$/),
        workloadInfo: { name: pod.name, namespace: 'default', serviceAccount: 'sa1' },
      });
      // …and it is the pod's namespace.
      expect(ztunnel.pods.get(pod.uid)?.netnsInode).toBe(statSync(pod.netnsPath).ino);
      expect(agent.captureState(pod.uid)).toEqual({ phase: 'enabled', netnsPath: pod.netnsPath });
      expect(statuses.filter((s) => s.name === pod.name).map((s) => s.status)).toEqual([
        'pending',
        'enabled',
      ]);
      // Traffic: outbound to any address reaches ztunnel's 15001 with the original destination.
      expect(await connectFrom(pod.netnsPath, '203.0.113.9', 5432)).toBe('15001');
      expect(ztunnel.seen.at(-1)).toEqual({
        port: 15001,
        destination: { address: '203.0.113.9', port: 5432, family: 4, redirected: true },
      });
      // Inbound to the pod reaches 15006, HBONE reaches 15008.
      expect(await connectFrom(topology.nodeNetnsPath, pod.ipv4, 80)).toBe('15006');
      expect(await connectFrom(topology.nodeNetnsPath, pod.ipv4, 15008)).toBe('15008');
    });

    it('CHECK passes for a captured pod and fails with a CNI error when its rules are gone', async () => {
      const pod = await newPod(AMBIENT);
      expect((await runAmesh('ADD', pod)).code).toBe(0);
      const ok = await runAmesh('CHECK', pod);
      expect(ok).toMatchObject({ code: 0, stdout: '' });
      await removePodRules(pod.netnsPath);
      const bad = await runAmesh('CHECK', pod);
      expect(bad.code).not.toBe(0);
      expect(JSON.parse(bad.stdout)).toMatchObject({
        cniVersion: '1.0.0',
        code: 100,
        msg: 'pod capture check failed',
      });
      expect(JSON.parse(bad.stdout).details).toMatch(/rules are absent/);
    });

    it('ADD for a pod that is not enrolled, or opted out, passes through and installs nothing', async () => {
      const plain = await newPod({});
      const out = await runAmesh('ADD', plain);
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toEqual(plain.result);
      expect(await inspectPodRules(plain.netnsPath)).toBe('absent');

      source.setNamespaceLabels('optout-ns', AMBIENT);
      const optedOut = await newPod({ 'istio.io/dataplane-mode': 'none' }, 'optout-ns');
      const out2 = await runAmesh('ADD', optedOut, pluginConfig(optedOut), {
        CNI_ARGS: `K8S_POD_NAMESPACE=optout-ns;K8S_POD_NAME=${optedOut.name}`,
      });
      expect(out2.code).toBe(0);
      expect(await inspectPodRules(optedOut.netnsPath)).toBe('absent');
      expect(agent.captureState(optedOut.uid)).toBeUndefined();
      expect(ztunnel.requests.some((r) => r.type === 'add' && r.uid === optedOut.uid)).toBe(false);
    });

    it('DEL removes the rules, tells ztunnel Del and clears the status', async () => {
      const pod = await newPod(AMBIENT);
      expect((await runAmesh('ADD', pod)).code).toBe(0);
      const out = await runAmesh('DEL', pod);
      expect(out).toMatchObject({ code: 0, stdout: '' });
      expect(await inspectPodRules(pod.netnsPath)).toBe('absent');
      expect(ztunnel.requests).toContainEqual({ type: 'del', uid: pod.uid });
      expect(agent.captureState(pod.uid)).toBeUndefined();
      expect(statuses.filter((s) => s.name === pod.name).at(-1)).toEqual({
        name: pod.name,
        status: undefined,
      });
      // DEL again (and DEL without a netns) still succeeds, as the spec asks.
      expect((await runAmesh('DEL', pod)).code).toBe(0);
      expect((await runAmesh('DEL', { ...pod, netnsPath: '' })).code).toBe(0);
    });

    it('un-enrolling a pod (label change) removes its rules; re-enrolling restores them', async () => {
      const pod = await newPod(AMBIENT);
      expect((await runAmesh('ADD', pod)).code).toBe(0);
      source.upsert({
        uid: pod.uid,
        name: pod.name,
        namespace: 'default',
        labels: { 'istio.io/dataplane-mode': 'none' },
      });
      await agent.whenIdle();
      expect(await inspectPodRules(pod.netnsPath)).toBe('absent');
      expect(ztunnel.requests).toContainEqual({ type: 'del', uid: pod.uid });
      expect(agent.captureState(pod.uid)).toBeUndefined();
      source.upsert({ uid: pod.uid, name: pod.name, namespace: 'default', labels: {} });
      source.setNamespaceLabels('default', AMBIENT);
      await agent.whenIdle();
      expect(await inspectPodRules(pod.netnsPath)).toBe('present');
      expect(agent.captureState(pod.uid)?.phase).toBe('enabled');
      source.setNamespaceLabels('default', {});
      await agent.whenIdle();
      expect(await inspectPodRules(pod.netnsPath)).toBe('absent');
    });

    it('ADD fails with code 100 and the reason when ztunnel refuses the pod (status stays pending)', async () => {
      const pod = await newPod(AMBIENT);
      ztunnel.refuse = { uid: pod.uid, message: 'no certificate for sa1' };
      const out = await runAmesh('ADD', pod);
      expect(out.code).not.toBe(0);
      const error = JSON.parse(out.stdout);
      expect(error).toMatchObject({ cniVersion: '1.0.0', code: 100, msg: 'pod capture failed' });
      expect(error.details).toMatch(/no certificate for sa1/);
      expect(agent.captureState(pod.uid)).toMatchObject({ phase: 'pending' });
      expect(statuses.filter((s) => s.name === pod.name).at(-1)?.status).toBe('pending');
    });

    it('ADD waits for a ztunnel that is not connected yet, and succeeds once it connects and acks', async () => {
      await ztunnel.disconnect();
      await until(() => !agent.ztunnelConnected);
      const pod = await newPod(AMBIENT);
      const add = runAmesh('ADD', pod);
      await until(() => statuses.some((s) => s.name === pod.name && s.status === 'pending'));
      expect(agent.captureState(pod.uid)).toMatchObject({
        phase: 'pending',
        reason: 'ztunnel is not connected',
      });
      await ztunnel.connect(join(dir, 'ztunnel.sock'));
      const out = await add;
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toEqual(pod.result);
      expect(agent.captureState(pod.uid)?.phase).toBe('enabled');
      expect(ztunnel.pods.has(pod.uid)).toBe(true);
    });

    it('ADD fails with code 11 when ztunnel does not ack within the configured timeout', async () => {
      await ztunnel.disconnect();
      await until(() => !agent.ztunnelConnected);
      try {
        const pod = await newPod(AMBIENT);
        const out = await runAmesh('ADD', pod, pluginConfig(pod, { agentTimeoutMs: 300 }));
        expect(out.code).not.toBe(0);
        expect(JSON.parse(out.stdout)).toMatchObject({ code: 11, msg: 'amesh node agent unavailable' });
        expect(JSON.parse(out.stdout).details).toMatch(/CNI_ERR_TIMEOUT/);
        // The rules stay (fail closed: traffic is captured, never bypasses the mesh).
        expect(await inspectPodRules(pod.netnsPath)).toBe('present');
      } finally {
        await ztunnel.connect(join(dir, 'ztunnel.sock'));
        await until(() => agent.ztunnelConnected);
      }
    });

    it('ADD fails with code 11 (try again later) when the node agent is unreachable', async () => {
      const pod = await newPod(AMBIENT);
      const out = await runAmesh('ADD', pod, pluginConfig(pod, { agentSocket: join(dir, 'missing.sock') }));
      expect(out.code).not.toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({
        cniVersion: '1.0.0',
        code: 11,
        msg: 'amesh node agent unavailable',
      });
      // DEL with the agent unreachable still succeeds.
      expect(
        (await runAmesh('DEL', pod, pluginConfig(pod, { agentSocket: join(dir, 'missing.sock') }))).code,
      ).toBe(0);
    });

    it('malformed config or missing fields give the spec’s error JSON and a non-zero exit', async () => {
      const pod = await newPod({});
      const cases: [unknown, Record<string, string>, number][] = [
        ['{"cniVersion": "1.0.0",', {}, 6],
        [{ ...pluginConfig(pod), cniVersion: '2.0.0' }, {}, 1],
        [{ ...pluginConfig(pod), name: undefined }, {}, 7],
        [{ ...pluginConfig(pod), prevResult: undefined }, {}, 7],
        [pluginConfig(pod), { CNI_IFNAME: '' }, 4],
        [pluginConfig(pod), { CNI_CONTAINERID: '' }, 4],
        [pluginConfig(pod), { CNI_COMMAND: 'BOGUS' }, 4],
      ];
      for (const [config, env, code] of cases) {
        const out = await runAmesh('ADD', pod, config, env);
        expect(out.code, JSON.stringify({ config, env })).not.toBe(0);
        const error = JSON.parse(out.stdout);
        expect(error.code).toBe(code);
        expect(typeof error.msg).toBe('string');
        expect(error.cniVersion).toMatch(/^\d+\.\d+\.\d+$/);
      }
      const version = await runAmesh('VERSION', pod, { cniVersion: '1.0.0' });
      expect(JSON.parse(version.stdout)).toEqual({
        cniVersion: '1.0.0',
        supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'],
      });
    });
  },
);
