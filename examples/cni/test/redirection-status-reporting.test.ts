import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestNodeAgent } from '@amesh/cni-redirect/node';
import { type RunningControlPlane, startControlPlane } from '@amesh/example-control-plane';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlaneStatusReporter, startNodeAgent } from '../src/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A private loopback address per test, so parallel runs never collide. */
function loopback(): string {
  return `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.1`;
}

const podYaml = (name: string, node: string, ip: string, labels = '{ app: x }') => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop, labels: ${labels} }
spec: { nodeName: ${node}, serviceAccountName: ${name} }
status: { phase: Running, podIP: ${ip} }
`;
const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio.io/dataplane-mode: ambient } }
`;

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function controlPlane(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-cni-status-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const host = loopback();
  const logs: string[] = [];
  const start = (): Promise<RunningControlPlane> =>
    startControlPlane({
      configDir: dir,
      grpcAddress: `${host}:0`,
      httpHost: host,
      httpPort: 15014,
      nodeTokens: { t1: 'node1', t2: 'node2' },
      debounceMs: 10,
      log: (l) => logs.push(l),
    });
  const m = {
    dir,
    cp: await start(),
    base: `http://${host}:15014`,
    logs,
    tunnel: (name: string): string | undefined => {
      const address = m.cp.translator.addresses().get(`Kubernetes//Pod/shop/${name}`) as
        | { workload?: { tunnelProtocol?: string } }
        | undefined;
      return address?.workload?.tunnelProtocol;
    },
    /** Stops the control plane (it forgets every reported status). */
    stop: () => m.cp.close(),
    /** Starts a fresh control plane on the same address and directory. */
    async restart(): Promise<void> {
      m.cp = await start();
    },
  };
  cleanups.push(() => m.cp.close());
  return m;
}

const put = (url: string, body: string, token?: string) =>
  fetch(url, {
    method: 'PUT',
    body,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

describe('redirection status: node agent → control plane', () => {
  it('the endpoint overlays the annotation: enabled serves the pod as HBONE, pending and DELETE do not', async () => {
    const m = await controlPlane({ 'ns.yaml': NAMESPACE, 'a.yaml': podYaml('a', 'node1', '10.9.0.5') });
    const url = `${m.base}/v1/namespaces/shop/pods/a/redirection`;
    expect(m.tunnel('a')).toBe('NONE');
    expect((await put(url, 'enabled', 't1')).status).toBe(204);
    expect(m.tunnel('a')).toBe('HBONE');
    expect((await put(url, 'pending\n', 't1')).status).toBe(204);
    expect(m.tunnel('a')).toBe('NONE');
    expect((await put(url, 'enabled', 't1')).status).toBe(204);
    const del = await fetch(url, { method: 'DELETE', headers: { authorization: 'Bearer t1' } });
    expect(del.status).toBe(204);
    expect(m.tunnel('a')).toBe('NONE');
    const pod = m.cp.translator.resources().get('Pod/shop/a') as { metadata: { annotations?: object } };
    expect(pod.metadata.annotations ?? {}).not.toHaveProperty(['ambient.istio.io/redirection']);
  });

  it('the reported status wins over the file and survives edits of the pod’s file', async () => {
    const m = await controlPlane({ 'ns.yaml': NAMESPACE, 'a.yaml': podYaml('a', 'node1', '10.9.0.5') });
    expect((await put(`${m.base}/v1/namespaces/shop/pods/a/redirection`, 'enabled', 't1')).status).toBe(204);
    writeAtomic(join(m.dir, 'b.yaml'), podYaml('a2', 'node1', '10.9.0.6'));
    writeAtomic(join(m.dir, 'a.yaml'), podYaml('a', 'node1', '10.9.0.7', '{ app: y }'));
    await expect
      .poll(() => {
        const a = m.cp.translator.addresses().get('Kubernetes//Pod/shop/a') as
          | { workload: { addresses: Uint8Array[]; tunnelProtocol: string } }
          | undefined;
        return a ? `${[...a.workload.addresses[0]!].join('.')} ${a.workload.tunnelProtocol}` : undefined;
      })
      .toBe('10.9.0.7 HBONE');
  });

  it('refuses without a node token (401), for another node’s pod (403), unknown pods (404), bad bodies (400), other methods (405)', async () => {
    const m = await controlPlane({ 'ns.yaml': NAMESPACE, 'a.yaml': podYaml('a', 'node1', '10.9.0.5') });
    const url = `${m.base}/v1/namespaces/shop/pods/a/redirection`;
    expect((await put(url, 'enabled')).status).toBe(401);
    expect((await put(url, 'enabled', 'nope')).status).toBe(401);
    expect((await put(url, 'enabled', 't2')).status).toBe(403);
    expect((await put(`${m.base}/v1/namespaces/shop/pods/ghost/redirection`, 'enabled', 't1')).status).toBe(
      404,
    );
    expect((await put(url, 'on', 't1')).status).toBe(400);
    expect((await put(url, 'x'.repeat(100_000), 't1')).status).toBe(400);
    expect((await fetch(url)).status).toBe(405);
    expect(m.tunnel('a')).toBe('NONE');
    // Other paths still reach the metrics endpoint.
    expect((await fetch(`${m.base}/metrics`)).status).toBe(200);
  });

  it('the reporter sends the latest status per pod, and retries until the control plane knows the pod', async () => {
    const m = await controlPlane({ 'ns.yaml': NAMESPACE });
    const logs: string[] = [];
    const reporter = new ControlPlaneStatusReporter({
      controlPlane: m.base,
      token: 't1',
      retryDelayMs: 10,
      log: (l) => logs.push(l),
    });
    cleanups.push(() => reporter.close());
    const ref = { uid: 'Kubernetes//Pod/shop/late', namespace: 'shop', name: 'late' };
    reporter.report(ref, 'pending');
    reporter.report(ref, 'enabled');
    await expect.poll(() => logs.some((l) => /answered 404 .*will retry/.test(l))).toBe(true);
    writeAtomic(join(m.dir, 'late.yaml'), podYaml('late', 'node1', '10.9.0.8'));
    await reporter.whenIdle();
    expect(reporter.acknowledged('shop', 'late')).toBe('enabled');
    expect(m.tunnel('late')).toBe('HBONE');
    reporter.report(ref, undefined);
    await reporter.whenIdle();
    expect(reporter.acknowledged('shop', 'late')).toBe('none');
    expect(m.tunnel('late')).toBe('NONE');
  });

  it('the reporter drops a status the control plane refuses (wrong node) instead of retrying forever', async () => {
    const m = await controlPlane({ 'ns.yaml': NAMESPACE, 'a.yaml': podYaml('a', 'node1', '10.9.0.5') });
    const logs: string[] = [];
    const reporter = new ControlPlaneStatusReporter({
      controlPlane: m.base,
      token: 't2',
      log: (l) => logs.push(l),
    });
    cleanups.push(() => reporter.close());
    reporter.report({ uid: 'u', namespace: 'shop', name: 'a' }, 'enabled');
    await reporter.whenIdle();
    expect(reporter.acknowledged('shop', 'a')).toBeUndefined();
    expect(logs.join('\n')).toMatch(/answered 403 for shop\/a enabled: pod shop\/a is not on node node2$/m);
    expect(m.tunnel('a')).toBe('NONE');
  });

  it('after a control plane restart the reporter re-sends every status: on the first success after a failure', async () => {
    const m = await controlPlane({
      'ns.yaml': NAMESPACE,
      'a.yaml': podYaml('a', 'node1', '10.9.0.5'),
      'b.yaml': podYaml('b', 'node1', '10.9.0.6'),
    });
    const logs: string[] = [];
    const reporter = new ControlPlaneStatusReporter({
      controlPlane: m.base,
      token: 't1',
      retryDelayMs: 10,
      resyncIntervalMs: 0,
      log: (l) => logs.push(l),
    });
    cleanups.push(() => reporter.close());
    const ref = (name: string) => ({ uid: `Kubernetes//Pod/shop/${name}`, namespace: 'shop', name });
    reporter.report(ref('a'), 'enabled');
    await reporter.whenIdle();
    expect(m.tunnel('a')).toBe('HBONE');
    await m.stop();
    // While it is down, a change for b fails and is retried; a's status is not sent again yet.
    reporter.report(ref('b'), 'enabled');
    await expect
      .poll(() => logs.some((l) => /cannot report shop\/b enabled: .*will retry/.test(l)))
      .toBe(true);
    // A fresh control plane knows no status: a can only be HBONE again if it was re-sent.
    await m.restart();
    await expect.poll(() => `${m.tunnel('a')} ${m.tunnel('b')}`, { timeout: 20_000 }).toBe('HBONE HBONE');
    expect(logs).toContain('status: resyncing 2 pod(s) (control plane reachable again)');
  });

  it('after a control plane restart nobody noticed, the periodic resync restores every status', async () => {
    const m = await controlPlane({ 'ns.yaml': NAMESPACE, 'a.yaml': podYaml('a', 'node1', '10.9.0.5') });
    const logs: string[] = [];
    const reporter = new ControlPlaneStatusReporter({
      controlPlane: m.base,
      token: 't1',
      resyncIntervalMs: 200,
      log: (l) => logs.push(l),
    });
    cleanups.push(() => reporter.close());
    reporter.report({ uid: 'Kubernetes//Pod/shop/a', namespace: 'shop', name: 'a' }, 'enabled');
    await reporter.whenIdle();
    expect(m.tunnel('a')).toBe('HBONE');
    await m.stop();
    await m.restart();
    await expect.poll(() => m.tunnel('a'), { timeout: 20_000 }).toBe('HBONE');
    expect(logs).toContain('status: resyncing 1 pod(s) (periodic)');
    // Removed pods are not re-sent.
    reporter.report({ uid: 'Kubernetes//Pod/shop/a', namespace: 'shop', name: 'a' }, undefined);
    await reporter.whenIdle();
    expect(reporter.resync()).toBe(0);
    expect(
      () => new ControlPlaneStatusReporter({ controlPlane: m.base, token: 't1', resyncIntervalMs: -1 }),
    ).toThrow(RangeError);
  });

  it('startNodeAgent serves the CNI plugin from the config directory and removes its sockets on close', async () => {
    const m = await controlPlane({ 'ns.yaml': NAMESPACE, 'a.yaml': podYaml('a', 'node1', '10.9.0.5') });
    const dir = mkdtempSync(join(tmpdir(), 'amesh-cni-agent-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const logs: string[] = [];
    const running = await startNodeAgent({
      node: 'node1',
      configDir: m.dir,
      cniSocket: join(dir, 'cni.sock'),
      zdsSocket: join(dir, 'zds.sock'),
      controlPlane: m.base,
      token: 't1',
      log: (l) => logs.push(l),
    });
    expect(running.pods.list().map((p) => p.uid)).toEqual(['Kubernetes//Pod/shop/a']);
    // A pod the config does not place on this node is passed through by the agent.
    const answer = await requestNodeAgent(
      join(dir, 'cni.sock'),
      {
        command: 'ADD',
        containerId: 'c1',
        netns: '/var/run/netns/none',
        ifname: 'eth0',
        podNamespace: 'shop',
        podName: 'elsewhere',
        ips: [],
      },
      5_000,
    );
    expect(answer).toEqual({ ok: true, outcome: 'not-enrolled' });
    await running.close();
    expect(existsSync(join(dir, 'cni.sock'))).toBe(false);
    expect(existsSync(join(dir, 'zds.sock'))).toBe(false);
    expect(logs[0]).toMatch(/^node agent for node1 started/);
  });

  it('startNodeAgent refuses a control plane URL without a token', async () => {
    await expect(
      startNodeAgent({
        node: 'n',
        configDir: tmpdir(),
        cniSocket: '/nonexistent/c.sock',
        zdsSocket: '/nonexistent/z.sock',
        controlPlane: 'http://127.0.0.1:1',
      }),
    ).rejects.toThrow(/needs the node token/);
  });
});
