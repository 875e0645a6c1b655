import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { MetricsRegistry } from '../registry.js';

/** Content type of the Prometheus text exposition format 0.0.4. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * An `http.createServer` listener that serves the registry on `/metrics` and
 * `/stats/prometheus` (Istio's path), 405 for methods other than GET/HEAD,
 * 404 elsewhere.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * createServer(metricsRequestListener(registry)).listen(15020);
 * ```
 */
export function metricsRequestListener(registry: MetricsRegistry): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/stats/prometheus') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const body = registry.render();
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
