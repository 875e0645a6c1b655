import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A tiny JSON/text HTTP endpoint: path → handler returning a body (object → JSON). */
export type Routes = Readonly<Record<string, () => { status?: number; body: unknown; type?: string }>>;

/** Serves `routes` on host:port; 404 elsewhere, 405 for anything but GET/HEAD. */
export async function serveRoutes(host: string, port: number, routes: Routes): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (!route) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    }
    try {
      const { status = 200, body, type } = route();
      const text = typeof body === 'string' ? body : `${JSON.stringify(body, jsonReplacer, 2)}\n`;
      res.writeHead(status, {
        'content-type': type ?? (typeof body === 'string' ? 'text/plain' : 'application/json'),
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Bytes (IPs in xDS resources) print as text. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    if (value.length === 4) return Array.from(value).join('.');
    if (value.length === 16) {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((value[i]! << 8) | value[i + 1]!).toString(16));
      return groups.join(':');
    }
    return Buffer.from(value).toString('base64');
  }
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') {
    return jsonReplacer(_key, Uint8Array.from((value as { data: number[] }).data));
  }
  return value;
}
