import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** One collection the double serves. */
interface Collection {
  readonly path: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly objects: Map<string, Record<string, unknown>>;
}

interface WatchEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Record<string, unknown>;
}

interface Watcher {
  readonly collection: Collection;
  readonly res: http.ServerResponse;
  readonly bookmarks: boolean;
}

/** A request the double received, for assertions. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** The request body (PATCH), as text. */
  readonly body: string;
  readonly contentType: string | undefined;
  readonly query: Record<string, string>;
  readonly authorization: string | undefined;
}

/**
 * A local Kubernetes API server double, a real HTTP server on loopback
 * speaking list/watch JSON the way kube-apiserver does:
 * - one global, increasing resourceVersion; list answers carry it in
 *   `metadata.resourceVersion`, list items carry no `kind`/`apiVersion`;
 *   `limit` + `continue` paginate;
 * - `watch=true&resourceVersion=N` streams newline-delimited events with
 *   resourceVersion > N from the retained history, then live events;
 *   a resourceVersion older than the history (after {@link compact}) gets
 *   200 with one `ERROR` event carrying a `Status` 410 Expired, then EOF;
 *   `resourceVersion` empty or `0` sends synthetic ADDED events first;
 * - `allowWatchBookmarks=true` watchers receive `BOOKMARK` events on {@link bookmark};
 * - {@link dropWatches} destroys watch connections mid-stream;
 * - `PATCH` of one namespaced object (`.../namespaces/<ns>/<plural>/<name>`)
 *   with `application/merge-patch+json` (RFC 7386) stores it like {@link put};
 *   other patch types get 415;
 * - a bearer token is required when configured;
 * - HTTPS when given a key and certificate (the client then verifies it, as with a real cluster).
 */
export class KubeApiDouble {
  readonly requests: SeenRequest[] = [];
  private readonly server: http.Server | https.Server;
  private readonly scheme: 'http' | 'https';
  private readonly collections = new Map<string, Collection>();
  private readonly byKind = new Map<string, Collection>();
  private readonly history: (WatchEvent & { collection: Collection })[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private rv = 100;
  private oldestRetained = 0;
  private uid = 0;

  /**
   * @param token - the bearer token required, if any
   * @param tls - PEM key and certificate to serve HTTPS with
   */
  constructor(
    private token?: string,
    tls?: { readonly key: string; readonly cert: string },
  ) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.handle(req, res);
    this.scheme = tls ? 'https' : 'http';
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Serves `kind` objects at `path` (all namespaces). */
  serve(path: string, kind: string, apiVersion: string): this {
    const c: Collection = { path, kind, apiVersion, objects: new Map() };
    this.collections.set(path, c);
    this.byKind.set(kind, c);
    return this;
  }

  /** Changes the bearer token the server requires. */
  acceptToken(token: string): void {
    this.token = token;
  }

  /** Listens on 127.0.0.1 and returns the base URL. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `${this.scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The current resourceVersion. */
  resourceVersion(): number {
    return this.rv;
  }

  /** Creates or replaces an object (like `kubectl apply`), streaming ADDED/MODIFIED. */
  put(object: Record<string, unknown>): void {
    const c = this.collectionOf(object.kind as string);
    const meta = { ...(object.metadata as Record<string, unknown>) };
    const key = `${meta.namespace ?? ''}/${meta.name}`;
    const existing = c.objects.get(key);
    this.rv++;
    meta.resourceVersion = String(this.rv);
    meta.uid = (existing?.metadata as { uid?: string } | undefined)?.uid ?? `uid-${++this.uid}`;
    const stored = { ...object, apiVersion: c.apiVersion, kind: c.kind, metadata: meta };
    c.objects.set(key, stored);
    this.emit(c, { rv: this.rv, type: existing ? 'MODIFIED' : 'ADDED', object: stored });
  }

  /** Deletes an object, streaming DELETED with the final state. */
  delete(kind: string, namespace: string, name: string): void {
    const c = this.collectionOf(kind);
    const key = `${namespace}/${name}`;
    const existing = c.objects.get(key);
    if (!existing) throw new Error(`no ${kind} ${key}`);
    c.objects.delete(key);
    this.rv++;
    const object = {
      ...existing,
      metadata: { ...(existing.metadata as object), resourceVersion: String(this.rv) },
    };
    this.emit(c, { rv: this.rv, type: 'DELETED', object });
  }

  /** Forgets the watch history (etcd compaction): older resourceVersions now get 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.oldestRetained = this.rv;
  }

  /** Sends a BOOKMARK with the current resourceVersion to watchers that allowed bookmarks. */
  bookmark(): number {
    let sent = 0;
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      w.res.write(
        `${JSON.stringify({
          type: 'BOOKMARK',
          object: {
            kind: w.collection.kind,
            apiVersion: w.collection.apiVersion,
            metadata: { resourceVersion: String(this.rv) },
          },
        })}\n`,
      );
      sent++;
    }
    return sent;
  }

  /** Number of open watch streams. */
  openWatches(): number {
    return this.watchers.size;
  }

  /** Destroys every watch connection mid-stream (no clean end of the chunked body). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy();
    this.watchers.clear();
  }

  /** Stops the server and destroys every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private collectionOf(kind: string): Collection {
    const c = this.byKind.get(kind);
    if (!c) throw new Error(`kind ${kind} not served`);
    return c;
  }

  private emit(collection: Collection, event: WatchEvent): void {
    this.history.push({ ...event, collection });
    for (const w of this.watchers) {
      if (w.collection === collection)
        w.res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.handleRequest(req, Buffer.concat(chunks).toString('utf8'), res));
  }

  private handleRequest(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      body,
      contentType: req.headers['content-type'],
      query,
      authorization: req.headers.authorization,
    });
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) {
      this.status(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    if (req.method === 'PATCH') {
      this.patch(url.pathname, req.headers['content-type'], body, res);
      return;
    }
    const c = this.collections.get(url.pathname);
    if (!c || req.method !== 'GET') {
      this.status(res, 404, 'NotFound', `the server could not find the requested resource`);
      return;
    }
    if (query.watch === 'true' || query.watch === '1') this.startWatch(c, query, res);
    else this.list(c, query, res);
  }

  private patch(path: string, contentType: string | undefined, body: string, res: http.ServerResponse): void {
    const match = /^(\/apis?\/.+?)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    const c = match ? this.collections.get(`${match[1]}/${match[3]}`) : undefined;
    const existing = c?.objects.get(`${match?.[2]}/${match?.[4]}`);
    if (!c || !existing) {
      this.status(res, 404, 'NotFound', `${path} not found`);
      return;
    }
    if (contentType !== 'application/merge-patch+json') {
      this.status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format`);
      return;
    }
    let patch: unknown;
    try {
      patch = JSON.parse(body);
    } catch {
      this.status(res, 400, 'BadRequest', 'invalid JSON');
      return;
    }
    this.put(mergePatch(existing, patch) as Record<string, unknown>);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(c.objects.get(`${match![2]}/${match![4]}`)));
  }

  private list(c: Collection, query: Record<string, string>, res: http.ServerResponse): void {
    const all = [...c.objects.values()].sort((a, b) => key(a).localeCompare(key(b)));
    const offset = query.continue ? Number(query.continue) : 0;
    const limit = query.limit ? Number(query.limit) : all.length;
    const page = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : undefined;
    // List items carry no kind/apiVersion, as kube-apiserver's typed lists.
    const items = page.map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: `${c.kind}List`,
        apiVersion: c.apiVersion,
        metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) },
        items,
      }),
    );
  }

  private startWatch(c: Collection, query: Record<string, string>, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const from = query.resourceVersion ? Number(query.resourceVersion) : 0;
    if (from === 0) {
      for (const object of c.objects.values()) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    } else if (from < this.oldestRetained) {
      res.end(
        `${JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: `too old resource version: ${from} (${this.oldestRetained})`,
            reason: 'Expired',
            code: 410,
          },
        })}\n`,
      );
      return;
    } else {
      for (const e of this.history) {
        if (e.collection === c && e.rv > from)
          res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    const watcher: Watcher = { collection: c, res, bookmarks: query.allowWatchBookmarks === 'true' };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason,
        code,
      }),
    );
  }
}

/** RFC 7386 JSON merge patch: objects merge recursively, `null` removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function key(o: Record<string, unknown>): string {
  const m = o.metadata as { namespace?: string; name: string };
  return `${m.namespace ?? ''}/${m.name}`;
}
