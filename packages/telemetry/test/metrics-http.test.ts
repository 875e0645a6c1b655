import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../src/index.js';
import { metricsRequestListener } from '../src/node/index.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(registry: MetricsRegistry): Promise<string> {
  server = createServer(metricsRequestListener(registry));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('metrics endpoint', () => {
  it('serves the registry on /metrics and /stats/prometheus with the 0.0.4 content type', async () => {
    const registry = new MetricsRegistry();
    registry.counter({ name: 'hits_total', help: 'Hits.', labels: [] }).inc({}, 3);
    const base = await serve(registry);
    for (const path of ['/metrics', '/stats/prometheus?x=1']) {
      const res = await fetch(base + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await res.text()).toBe('# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total 3\n');
    }
    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
