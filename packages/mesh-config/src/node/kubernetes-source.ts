import http from 'node:http';
import https from 'node:https';
import type {
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import { MeshConfigError } from '../errors.js';
import type { ConfigIssue } from '../issues.js';
import {
  type MeshResource,
  RESOURCE_KINDS,
  type ResourceKind,
  type ResourceRef,
  resourceKey,
} from '../resources.js';
import type { ConfigSource, ConfigSourceListener } from '../source.js';
import { validateResource } from '../validate.js';
import type { Timers } from './directory-source.js';

/** Where a kind lives on the API server. */
export interface KubernetesKindInfo {
  /** Collection path across all namespaces, for example `/api/v1/pods`. */
  readonly path: string;
  /** `apiVersion` filled into list items (the API server leaves it out). */
  readonly apiVersion: string;
}

/**
 * The API paths amesh watches: core kinds (`v1`), Istio (`networking.istio.io/v1`,
 * `security.istio.io/v1`) and Gateway API (`gateway.networking.k8s.io/v1`) custom resources.
 */
export const KUBERNETES_KINDS: Readonly<Record<ResourceKind, KubernetesKindInfo>> = {
  Namespace: { path: '/api/v1/namespaces', apiVersion: 'v1' },
  Pod: { path: '/api/v1/pods', apiVersion: 'v1' },
  Service: { path: '/api/v1/services', apiVersion: 'v1' },
  ServiceAccount: { path: '/api/v1/serviceaccounts', apiVersion: 'v1' },
  WorkloadEntry: {
    path: '/apis/networking.istio.io/v1/workloadentries',
    apiVersion: 'networking.istio.io/v1',
  },
  ServiceEntry: { path: '/apis/networking.istio.io/v1/serviceentries', apiVersion: 'networking.istio.io/v1' },
  DestinationRule: {
    path: '/apis/networking.istio.io/v1/destinationrules',
    apiVersion: 'networking.istio.io/v1',
  },
  AuthorizationPolicy: {
    path: '/apis/security.istio.io/v1/authorizationpolicies',
    apiVersion: 'security.istio.io/v1',
  },
  PeerAuthentication: {
    path: '/apis/security.istio.io/v1/peerauthentications',
    apiVersion: 'security.istio.io/v1',
  },
  RequestAuthentication: {
    path: '/apis/security.istio.io/v1/requestauthentications',
    apiVersion: 'security.istio.io/v1',
  },
  Gateway: {
    path: '/apis/gateway.networking.k8s.io/v1/gateways',
    apiVersion: 'gateway.networking.k8s.io/v1',
  },
  HTTPRoute: {
    path: '/apis/gateway.networking.k8s.io/v1/httproutes',
    apiVersion: 'gateway.networking.k8s.io/v1',
  },
};

/** Options of {@link KubernetesSource}. */
export interface KubernetesSourceOptions {
  /** Cluster, user and TLS settings (`KubeConfig.loadFromDefault()` or `loadFromCluster()`). */
  readonly kubeConfig: KubeConfig;
  /** Kinds to watch. Default: all of {@link RESOURCE_KINDS}. */
  readonly kinds?: readonly ResourceKind[];
  /** Delay before restarting a failed list/watch. Default: 500 ms doubling to 30 s. */
  readonly retryDelayMs?: (attempt: number) => number;
  /** Page size of list calls. Default 500. */
  readonly pageSize?: number;
  /** Timers for retries. Default: the global ones. */
  readonly timers?: Timers;
}

type ClientNode = typeof import('@kubernetes/client-node');

/** A `Watch` that asks for bookmarks, and never starts after its source closed. */
function bookmarkWatch(k8s: ClientNode, config: KubeConfig, isClosed: () => boolean): Watch {
  class BookmarkWatch extends k8s.Watch {
    override async watch(
      path: string,
      queryParams: Record<string, string | number | boolean | undefined>,
      callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
      done: (err: unknown) => void,
    ): Promise<AbortController> {
      if (isClosed()) {
        const c = new AbortController();
        c.abort();
        return c;
      }
      // Bookmarks keep our resourceVersion fresh, so a reconnect resumes instead of hitting 410 and re-listing.
      return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
    }
  }
  return new BookmarkWatch(config);
}

interface StatusError extends Error {
  statusCode?: number;
}

/**
 * Kubernetes as a {@link ConfigSource}: one `@kubernetes/client-node`
 * `ListWatch` informer per kind (list, then watch from the list's
 * resourceVersion, with bookmarks; `410 Gone` → re-list, with deletions
 * found by the re-list reported as removals; dropped connections are
 * resumed after a backoff). Every object is validated like a YAML file's;
 * an invalid object is reported as `issues` and its last good version kept.
 * Events of one tick are coalesced into one `change`.
 *
 * @example
 * ```ts
 * const kc = new KubeConfig(); kc.loadFromDefault();
 * const source = new KubernetesSource({ kubeConfig: kc });
 * await source.start((event) => { if (event.type === 'change') translator.apply(event.change); });
 * ```
 */
export class KubernetesSource implements ConfigSource {
  readonly name = 'kubernetes';
  private readonly kubeConfig: KubeConfig;
  private readonly kinds: readonly ResourceKind[];
  private readonly retryDelay: (attempt: number) => number;
  private readonly pageSize: number;
  private readonly timers: Timers;
  private readonly informers = new Map<ResourceKind, ListWatch<KubernetesObject>>();
  private readonly retryTimers = new Set<unknown>();
  private readonly pendingUpserts = new Map<string, MeshResource>();
  private readonly pendingRemovals = new Map<string, ResourceRef>();
  private readonly badObjects = new Set<string>();
  private flushScheduled = false;
  private synced = false;
  private listener: ConfigSourceListener | undefined;
  private closed = false;
  private onClosed: (() => void) | undefined;

  /** @param options - the kube config and what to watch */
  constructor(options: KubernetesSourceOptions) {
    this.kubeConfig = options.kubeConfig;
    this.kinds = options.kinds ?? RESOURCE_KINDS;
    this.retryDelay = options.retryDelayMs ?? ((attempt) => Math.min(30_000, 500 * 2 ** attempt));
    this.pageSize = options.pageSize ?? 500;
    this.timers = options.timers ?? {
      setTimeout: (cb, ms) => setTimeout(cb, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
  }

  /**
   * Lists every kind, emits the initial state as one `change`, then
   * `synced`; resolves then. While the API server is unreachable it emits
   * `error` events and keeps retrying.
   * @throws {MeshConfigError} `MESHCFG_ERR_SOURCE` when closed before the initial sync
   */
  async start(listener: ConfigSourceListener): Promise<void> {
    if (this.listener) throw new MeshConfigError('MESHCFG_ERR_SOURCE', 'kubernetes source already started');
    this.listener = listener;
    // Loaded on demand: users of the directory source alone never pay for the Kubernetes client.
    const k8s = await import('@kubernetes/client-node');
    if (this.closed)
      throw new MeshConfigError('MESHCFG_ERR_SOURCE', 'kubernetes source closed before the initial sync');
    const watch = bookmarkWatch(k8s, this.kubeConfig, () => this.closed);
    const synced = this.kinds.map((kind) => this.startKind(k8s, watch, kind));
    await new Promise<void>((resolve, reject) => {
      this.onClosed = () =>
        reject(new MeshConfigError('MESHCFG_ERR_SOURCE', 'kubernetes source closed before the initial sync'));
      Promise.all(synced).then(() => resolve(), reject);
    });
    this.onClosed = undefined;
    this.synced = true;
    this.flush(true);
    listener({ type: 'synced' });
  }

  /**
   * The resourceVersion a kind's watch would resume from (advanced by events
   * and bookmarks); empty before the first list or after a 410. For status pages.
   */
  resourceVersion(kind: ResourceKind): string {
    return this.informers.get(kind)?.latestResourceVersion() ?? '';
  }

  /** Stops every informer and retry. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.retryTimers) this.timers.clearTimeout(t);
    this.retryTimers.clear();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    this.onClosed?.();
  }

  private startKind(k8s: ClientNode, watch: Watch, kind: ResourceKind): Promise<void> {
    const info = KUBERNETES_KINDS[kind];
    let markSynced: () => void = () => {};
    const synced = new Promise<void>((resolve) => {
      markSynced = resolve;
    });
    let attempt = 0;
    const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      try {
        const list = await this.list(info);
        attempt = 0;
        // ListWatch adds the items right after this promise settles; synced after that.
        setImmediate(markSynced);
        return list;
      } catch (error) {
        if ((error as StatusError).statusCode === 404) setImmediate(markSynced); // kind not served (CRD missing)
        throw error;
      }
    };
    const informer: ListWatch<KubernetesObject> = new k8s.ListWatch<KubernetesObject>(
      info.path,
      watch,
      listFn,
      false,
    );
    const onObject = (obj: KubernetesObject): void => {
      attempt = 0;
      this.upsert(kind, info, obj);
    };
    informer.on('add', onObject);
    informer.on('update', onObject);
    informer.on('delete', (obj) => {
      attempt = 0;
      this.remove(kind, obj);
    });
    informer.on('error', (error: unknown) => {
      if (this.closed) return;
      const e = error instanceof Error ? error : new Error(String(error));
      this.listener?.({
        type: 'error',
        error: new MeshConfigError(
          'MESHCFG_ERR_SOURCE',
          `kubernetes ${kind} list/watch failed: ${e.message}`,
          [],
          { cause: e },
        ),
      });
      const handle = this.timers.setTimeout(() => {
        this.retryTimers.delete(handle);
        if (!this.closed) void informer.start();
      }, this.retryDelay(attempt++));
      this.retryTimers.add(handle);
    });
    this.informers.set(kind, informer);
    void informer.start();
    return synced;
  }

  /** A paginated list, raw JSON; list items get their kind and apiVersion back. */
  private async list(info: KubernetesKindInfo): Promise<KubernetesListObject<KubernetesObject>> {
    const items: KubernetesObject[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    do {
      const url = new URL(`${this.server()}${info.path}`);
      url.searchParams.set('limit', String(this.pageSize));
      if (token) url.searchParams.set('continue', token);
      const page = (await this.getJson(url)) as KubernetesListObject<KubernetesObject>;
      items.push(...(page.items ?? []));
      resourceVersion = page.metadata?.resourceVersion ?? '';
      token = (page.metadata as { continue?: string } | undefined)?.continue || undefined;
    } while (token);
    return { apiVersion: info.apiVersion, kind: 'List', metadata: { resourceVersion }, items };
  }

  private server(): string {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new MeshConfigError('MESHCFG_ERR_SOURCE', 'kube config has no current cluster');
    return cluster.server.replace(/\/$/, '');
  }

  private getJson(url: URL): Promise<unknown> {
    return this.requestJson('GET', url);
  }

  /**
   * Merge-patches a Pod's annotations through the API server (RFC 7386 JSON
   * merge patch, `application/merge-patch+json`, as Istio's CNI agent writes
   * `ambient.istio.io/redirection`): a string sets an annotation, `null`
   * removes it. The patched Pod comes back through the watch as a `change`.
   * Needs `patch` on `pods` in RBAC.
   * @throws {MeshConfigError} `MESHCFG_ERR_SOURCE` when the API server refuses (404 for a pod that does not exist) or is unreachable
   * @example
   * ```ts
   * await source.patchPodAnnotations('shop', 'web-1', { 'ambient.istio.io/redirection': 'enabled' });
   * ```
   */
  async patchPodAnnotations(
    namespace: string,
    name: string,
    annotations: Readonly<Record<string, string | null>>,
  ): Promise<void> {
    const url = new URL(
      `${this.server()}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
    );
    try {
      await this.requestJson('PATCH', url, {
        contentType: 'application/merge-patch+json',
        body: JSON.stringify({ metadata: { annotations } }),
      });
    } catch (cause) {
      throw new MeshConfigError(
        'MESHCFG_ERR_SOURCE',
        `kubernetes: cannot patch pod ${namespace}/${name}: ${(cause as Error).message}`,
        [],
        { cause },
      );
    }
  }

  private async requestJson(
    method: 'GET' | 'PATCH',
    url: URL,
    payload?: { readonly contentType: string; readonly body: string },
  ): Promise<unknown> {
    const options: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(options);
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (payload) {
        headers['content-type'] = payload.contentType;
        headers['content-length'] = Buffer.byteLength(payload.body);
      }
      const req = client.request(
        url,
        { ...options, method, headers: { ...options.headers, ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) {
              const error: StatusError = new Error(
                `${method} ${url.pathname} answered ${res.statusCode}: ${body.slice(0, 200)}`,
              );
              error.statusCode = res.statusCode ?? 0;
              reject(error);
              return;
            }
            try {
              resolve(JSON.parse(body));
            } catch (cause) {
              reject(new Error(`${method} ${url.pathname}: invalid JSON`, { cause }));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(payload?.body);
    });
  }

  private upsert(kind: ResourceKind, info: KubernetesKindInfo, obj: KubernetesObject): void {
    const raw = { ...obj, kind, apiVersion: obj.apiVersion ?? info.apiVersion };
    const scope = resourceKey(refOf(kind, obj));
    const result = validateResource(raw, { source: this.name });
    if (!result.ok) {
      this.badObjects.add(scope);
      this.emitIssues(scope, result.issues);
      return; // keep the last good version
    }
    if (this.badObjects.delete(scope)) this.emitIssues(scope, []);
    this.pendingRemovals.delete(scope);
    this.pendingUpserts.set(scope, result.resource);
    this.scheduleFlush();
  }

  private remove(kind: ResourceKind, obj: KubernetesObject): void {
    const ref = refOf(kind, obj);
    const scope = resourceKey(ref);
    if (this.badObjects.delete(scope)) this.emitIssues(scope, []);
    this.pendingUpserts.delete(scope);
    this.pendingRemovals.set(scope, ref);
    this.scheduleFlush();
  }

  private emitIssues(scope: string, issues: readonly ConfigIssue[]): void {
    if (!this.closed) this.listener?.({ type: 'issues', scope, issues });
  }

  private scheduleFlush(): void {
    // Before the initial sync, start() flushes everything at once.
    if (this.flushScheduled || !this.synced) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush(false);
    });
  }

  private flush(always: boolean): void {
    if (this.closed) return;
    if (!always && this.pendingUpserts.size === 0 && this.pendingRemovals.size === 0) return;
    const change = {
      upserted: [...this.pendingUpserts.values()],
      removed: [...this.pendingRemovals.values()],
    };
    this.pendingUpserts.clear();
    this.pendingRemovals.clear();
    this.listener?.({ type: 'change', change });
  }
}

function refOf(kind: ResourceKind, obj: KubernetesObject): ResourceRef {
  const namespace = kind === 'Namespace' ? '' : obj.metadata?.namespace || 'default';
  return { kind, namespace, name: obj.metadata?.name ?? '' };
}
