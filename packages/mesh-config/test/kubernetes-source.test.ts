import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshTranslator, resourceKey } from '../src/index.js';
import { KUBERNETES_KINDS, KubernetesSource } from '../src/node/index.js';
import { recorder } from './event-recorder.js';
import { KubeApiDouble } from './kube-api-double.js';

// The source is tested against a list/watch double on loopback (below), not a live cluster.

const TOKEN = 'test-token';

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: 'double', server, skipTLSVerify: true }, { name: 'amesh', token: TOKEN });
  return kc;
}

function pod(name: string, ip: string, labels: Record<string, string> = { app: 'web' }) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels, annotations: { 'ambient.istio.io/redirection': 'enabled' } },
    spec: { nodeName: 'node-1', serviceAccountName: 'web', containers: [{ name: 'app', image: 'nginx' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}

describe('KubernetesSource against a list/watch API server double', () => {
  let api: KubeApiDouble | undefined;
  let source: KubernetesSource | undefined;
  afterEach(async () => {
    await source?.close();
    await api?.close();
    source = undefined;
    api = undefined;
  });

  async function setup(
    kinds: readonly ('Namespace' | 'Pod' | 'Service' | 'AuthorizationPolicy' | 'Gateway')[] = [
      'Namespace',
      'Pod',
      'Service',
      'AuthorizationPolicy',
      'Gateway',
    ],
  ) {
    api = new KubeApiDouble(TOKEN);
    for (const kind of kinds) {
      const info = KUBERNETES_KINDS[kind];
      api.serve(info.path, kind, info.apiVersion);
    }
    const url = await api.listen();
    api.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } },
    });
    api.put(pod('web-1', '10.1.0.1'));
    api.put(pod('web-2', '10.1.0.2'));
    const served = new Set<string>(kinds);
    const put = (o: Record<string, unknown>) => {
      if (served.has(o.kind as string)) api!.put(o);
    };
    put({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        selector: { app: 'web' },
        clusterIP: '10.96.0.1',
        clusterIPs: ['10.96.0.1'],
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      },
    });
    put({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'allow-web', namespace: 'shop' },
      spec: { selector: { matchLabels: { app: 'web' } }, rules: [{}] },
    });
    const r = recorder();
    source = new KubernetesSource({ kubeConfig: kubeConfig(url), kinds, retryDelayMs: () => 5, pageSize: 1 });
    await source.start(r.listener);
    return r;
  }

  it('lists every kind (paginated, with the bearer token), emits one change, then synced', async () => {
    const r = await setup();
    const initial = await r.next('change');
    expect(initial.change.upserted.map(resourceKey).sort()).toEqual([
      'AuthorizationPolicy/shop/allow-web',
      'Namespace//shop',
      'Pod/shop/web-1',
      'Pod/shop/web-2',
      'Service/shop/web',
    ]);
    await r.next('synced');
    const lists = api!.requests.filter((q) => q.path === '/api/v1/pods' && q.query.watch === undefined);
    expect(lists.map((q) => q.query.continue ?? '')).toEqual(['', '1']); // two pages of one (limit=1)
    expect(new Set(api!.requests.map((q) => q.authorization))).toEqual(new Set([`Bearer ${TOKEN}`]));

    // End to end: cluster objects → ztunnel Address resources.
    const t = new MeshTranslator();
    t.apply(initial.change);
    const w = t.addresses().get('Kubernetes//Pod/shop/web-1')!;
    expect('workload' in w && w.workload).toMatchObject({
      tunnelProtocol: 'HBONE',
      serviceAccount: 'web',
      services: {
        'shop/web.shop.svc.cluster.local': {
          ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'HTTP11' }],
        },
      },
      authorizationPolicies: ['shop/allow-web'],
    });
  });

  it('watches from the list resourceVersion with bookmarks allowed, and streams changes', async () => {
    const r = await setup();
    await r.next('change');
    await until(() => api!.openWatches() === 5);
    const watches = api!.requests.filter((q) => q.query.watch === 'true');
    expect(
      watches.every((q) => q.query.allowWatchBookmarks === 'true' && Number(q.query.resourceVersion) > 100),
    ).toBe(true);

    api!.put(pod('web-1', '10.1.0.11'));
    const modified = await r.next('change');
    expect(
      modified.change.upserted.map((x) => [
        resourceKey(x),
        (x as { status?: { podIP?: string } }).status?.podIP,
      ]),
    ).toEqual([['Pod/shop/web-1', '10.1.0.11']]);
    api!.delete('Pod', 'shop', 'web-2');
    expect((await r.next('change')).change.removed).toEqual([
      { kind: 'Pod', namespace: 'shop', name: 'web-2' },
    ]);
  });

  it('a bookmark moves the resume point: after a drop the watch resumes from the bookmark', async () => {
    const r = await setup(['Namespace', 'Pod']);
    await r.next('change');
    await until(() => api!.openWatches() === 2);
    // Unrelated writes advance the global resourceVersion; only bookmarks tell the pod watch about it.
    api!.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
    await r.next('change');
    const rv = api!.resourceVersion();
    expect(api!.bookmark()).toBe(2);
    expect(source!.resourceVersion('Pod')).not.toBe(String(rv));
    await until(() => source!.resourceVersion('Pod') === String(rv));
    const before = api!.requests.length;
    api!.dropWatches();
    await until(() => api!.openWatches() === 2);
    const resumed = api!.requests.slice(before).filter((q) => q.path === '/api/v1/pods');
    expect(resumed.map((q) => [q.query.watch, q.query.resourceVersion])).toEqual([['true', String(rv)]]);
  });

  it('a dropped connection loses nothing: changes made while disconnected arrive after the resume', async () => {
    const r = await setup(['Namespace', 'Pod']);
    await r.next('change');
    await until(() => api!.openWatches() === 2);
    api!.dropWatches();
    api!.put(pod('web-3', '10.1.0.3'));
    api!.delete('Pod', 'shop', 'web-1');
    const { upserted, removed } = await r.changesUntil(
      (u, d) => u.includes('Pod/shop/web-3') && d.includes('Pod/shop/web-1'),
    );
    expect(upserted).toEqual(['Pod/shop/web-3']);
    expect(removed).toEqual(['Pod/shop/web-1']);
    await until(() => api!.openWatches() === 2);
  });

  it('410 Gone after compaction: re-lists and reports the deletions it missed', async () => {
    const r = await setup(['Namespace', 'Pod']);
    await r.next('change');
    await until(() => api!.openWatches() === 2);
    const listsBefore = api!.requests.filter((q) => q.path === '/api/v1/pods' && !q.query.watch).length;
    api!.dropWatches();
    api!.put(pod('web-4', '10.1.0.4'));
    api!.delete('Pod', 'shop', 'web-2');
    api!.compact(); // the missed events are gone from history: a resume must fail with 410
    const { upserted, removed } = await r.changesUntil(
      (u, d) => u.includes('Pod/shop/web-4') && d.includes('Pod/shop/web-2'),
    );
    expect(removed).toEqual(['Pod/shop/web-2']);
    expect(upserted).toContain('Pod/shop/web-4');
    const lists = api!.requests.filter((q) => q.path === '/api/v1/pods' && !q.query.watch).length;
    expect(lists).toBeGreaterThan(listsBefore);
  });

  it('an invalid object is reported with its field path and the last good version is kept', async () => {
    const r = await setup(['Namespace', 'Pod']);
    await r.next('change');
    const bad = pod('web-1', '10.1.0.300');
    api!.put(bad);
    const issues = await r.next('issues');
    expect(issues.scope).toBe('Pod/shop/web-1');
    expect(issues.issues.map((i) => [i.resource, i.path, i.origin?.source])).toEqual([
      ['Pod shop/web-1', 'status.podIP', 'kubernetes'],
      ['Pod shop/web-1', 'status.podIPs[0].ip', 'kubernetes'],
    ]);
    api!.put(pod('web-1', '10.1.0.21'));
    expect((await r.next('issues')).issues).toEqual([]);
    expect((await r.next('change')).change.upserted.map(resourceKey)).toEqual(['Pod/shop/web-1']);
  });

  it('a kind the server does not serve (CRD not installed) counts as empty and is reported', async () => {
    api = new KubeApiDouble(TOKEN);
    const info = KUBERNETES_KINDS.Namespace;
    api.serve(info.path, 'Namespace', info.apiVersion);
    const url = await api.listen();
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } });
    const r = recorder();
    source = new KubernetesSource({
      kubeConfig: kubeConfig(url),
      kinds: ['Namespace', 'HTTPRoute'],
      retryDelayMs: () => 5,
    });
    await source.start(r.listener);
    expect((await r.next('change')).change.upserted.map(resourceKey)).toEqual(['Namespace//a']);
    const error = await r.next('error');
    expect(error.error.message).toMatch(/HTTPRoute list\/watch failed: .*404/);
  });

  it('reports errors and retries while the API server refuses, then syncs', async () => {
    api = new KubeApiDouble('other-token');
    const info = KUBERNETES_KINDS.Namespace;
    api.serve(info.path, 'Namespace', info.apiVersion);
    const url = await api.listen();
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } });
    const r = recorder();
    source = new KubernetesSource({
      kubeConfig: kubeConfig(url),
      kinds: ['Namespace'],
      retryDelayMs: () => 5,
    });
    const started = source.start(r.listener);
    const error = await r.next('error');
    expect(error.error).toMatchObject({ code: 'MESHCFG_ERR_SOURCE' });
    expect(error.error.message).toMatch(/401/);
    api.acceptToken(TOKEN);
    await started;
    expect((await r.next('change')).change.upserted.map(resourceKey)).toEqual(['Namespace//a']);
    await r.next('synced');
  });

  it('close before the initial sync rejects start with MESHCFG_ERR_SOURCE', async () => {
    api = new KubeApiDouble('other-token');
    const info = KUBERNETES_KINDS.Namespace;
    api.serve(info.path, 'Namespace', info.apiVersion);
    const url = await api.listen();
    const r = recorder();
    source = new KubernetesSource({
      kubeConfig: kubeConfig(url),
      kinds: ['Namespace'],
      retryDelayMs: () => 5,
    });
    const started = source.start(r.listener);
    await r.next('error');
    await source.close();
    await expect(started).rejects.toMatchObject({ code: 'MESHCFG_ERR_SOURCE' });
  });

  it('patches a pod annotation with a JSON merge patch (RFC 7386) and the watch brings the change back', async () => {
    const r = await setup(['Namespace', 'Pod']);
    await r.next('change');
    await r.next('synced');
    await source!.patchPodAnnotations('shop', 'web-1', {
      'ambient.istio.io/redirection': null,
      'x.io/y': 'z',
    });
    const patch = api!.requests.find((q) => q.method === 'PATCH')!;
    expect(patch).toMatchObject({
      path: '/api/v1/namespaces/shop/pods/web-1',
      contentType: 'application/merge-patch+json',
      authorization: `Bearer ${TOKEN}`,
    });
    expect(JSON.parse(patch.body)).toEqual({
      metadata: { annotations: { 'ambient.istio.io/redirection': null, 'x.io/y': 'z' } },
    });
    const changed = await r.next('change', (e) => e.change.upserted.some((x) => x.metadata.name === 'web-1'));
    expect(changed.change.upserted[0]!.metadata.annotations).toEqual({ 'x.io/y': 'z' });
    await expect(source!.patchPodAnnotations('shop', 'nope', { a: 'b' })).rejects.toMatchObject({
      code: 'MESHCFG_ERR_SOURCE',
      message: expect.stringMatching(/shop\/nope.*404/),
    });
  });
});
