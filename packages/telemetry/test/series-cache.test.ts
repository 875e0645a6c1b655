import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createIstioTcpMetrics, istioTcpLabels, MetricsRegistry, TelemetryError } from '../src/index.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

describe('series lookup by frozen label object', () => {
  it('counts a shared frozen label set and an equal unfrozen one into the same series', () => {
    const registry = new MetricsRegistry();
    const tcp = createIstioTcpMetrics(registry);
    const shared = Object.freeze(istioTcpLabels({ reporter: 'source', source_workload: 'sleep' }));
    for (let i = 0; i < 3; i++) tcp.opened.inc(shared);
    tcp.opened.inc({ ...shared });
    tcp.sent.inc(shared, 10);
    tcp.sent.inc(shared, 5);
    expect(tcp.opened.get(shared)).toBe(4);
    expect(tcp.opened.get({ ...shared })).toBe(4);
    expect(tcp.sent.get(shared)).toBe(15);
    const lines = registry.render().split('\n');
    expect(lines.filter((l) => l.startsWith('istio_tcp_connections_opened_total{'))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith('istio_tcp_connections_opened_total{'))).toMatch(/ 4$/);
    if (hasPromtool) {
      const run = spawnSync('promtool', ['check', 'metrics'], { input: registry.render(), encoding: 'utf8' });
      expect(`${run.stdout}${run.stderr}`).toBe('');
      expect(run.status).toBe(0);
    }
  });

  it('keeps distinct frozen label sets apart', () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: 'demo_total', help: 'Demo.', labels: ['a'] });
    const x = Object.freeze({ a: 'x' });
    const y = Object.freeze({ a: 'y' });
    c.inc(x);
    c.inc(y, 2);
    c.inc(x);
    expect(c.get(x)).toBe(2);
    expect(c.get(y)).toBe(2);
    expect(registry.render()).toContain('demo_total{a="x"} 2\ndemo_total{a="y"} 2\n');
  });

  it('does not trust an unfrozen object that changed between calls', () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: 'demo_total', help: 'Demo.', labels: ['a'] });
    const labels = { a: 'x' };
    c.inc(labels);
    labels.a = 'y';
    c.inc(labels);
    expect(c.get({ a: 'x' })).toBe(1);
    expect(c.get({ a: 'y' })).toBe(1);
  });

  it('re-creates a removed gauge series instead of writing to the removed one', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'demo_open', help: 'Demo.', labels: ['a'] });
    const x = Object.freeze({ a: 'x' });
    g.set(x, 5);
    g.remove(x);
    expect(registry.render()).not.toContain('demo_open{');
    g.add(x, 1);
    expect(g.get(x)).toBe(1);
    expect(registry.render()).toContain('demo_open{a="x"} 1\n');
  });

  it('still refuses a frozen label set with a label missing, every time', () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: 'demo_total', help: 'Demo.', labels: ['a', 'b'] });
    const partial = Object.freeze({ a: 'x' }) as unknown as { a: string; b: string };
    expect(() => c.inc(partial)).toThrow(TelemetryError);
    expect(() => c.inc(partial)).toThrow(TelemetryError);
    expect(registry.render()).not.toContain('demo_total{');
  });

  it('observes a histogram through a frozen label set', () => {
    const registry = new MetricsRegistry();
    const h = registry.histogram({ name: 'demo_ms', help: 'Demo.', labels: ['a'], buckets: [1, 10] });
    const x = Object.freeze({ a: 'x' });
    h.observe(x, 0.5);
    h.observe(x, 5);
    h.observe({ a: 'x' }, 50);
    expect(h.get(x)).toEqual({ count: 3, sum: 55.5 });
  });
});
