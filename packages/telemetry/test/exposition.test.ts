import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  createIstioDnsMetrics,
  createIstioHttpMetrics,
  createIstioTcpMetrics,
  istioHttpLabels,
  istioTcpLabels,
  MetricsRegistry,
  TelemetryError,
} from '../src/index.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

function promtoolCheck(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function populated(withHttp = true): MetricsRegistry {
  const registry = new MetricsRegistry();
  const tcp = createIstioTcpMetrics(registry);
  const labels = istioTcpLabels({
    reporter: 'destination',
    source_workload: 'sleep',
    source_principal: 'spiffe://cluster.local/ns/foo/sa/sleep',
    destination_workload: 'echo "v1"\\path\nnext',
    connection_security_policy: 'mutual_tls',
  });
  tcp.opened.inc(labels);
  tcp.received.inc(labels, 1024);
  tcp.sent.inc(labels, 2048);
  tcp.closed.inc(labels);
  if (!withHttp) return registry;
  const http = createIstioHttpMetrics(registry);
  const h = istioHttpLabels({ reporter: 'waypoint', response_code: '200' });
  http.requests.inc(h);
  http.duration.observe(h, 3.2);
  http.duration.observe(h, 7000);
  http.requestBytes.observe(h, 512);
  http.responseBytes.observe(h, 1e12);
  return registry;
}

describe('Prometheus text exposition', () => {
  it('renders HELP, TYPE and one line per series with escaped label values', () => {
    const text = populated().render();
    expect(text).toContain('# TYPE istio_tcp_connections_opened_total counter\n');
    expect(text).toContain('destination_workload="echo \\"v1\\"\\\\path\\nnext"');
    expect(text).toMatch(/^istio_tcp_received_bytes_total\{reporter="destination",.*\} 1024$/m);
    expect(text).toMatch(/source_app="unknown"/);
    expect(text).toMatch(/response_flags="-"/);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('renders cumulative histogram buckets, +Inf, sum and count', () => {
    const text = populated().render();
    const buckets = text
      .split('\n')
      .filter((l) => l.startsWith('istio_request_duration_milliseconds_bucket'));
    const value = (le: string) =>
      Number(
        buckets
          .find((l) => l.includes(`le="${le}"`))!
          .split(' ')
          .pop(),
      );
    expect(value('1')).toBe(0);
    expect(value('5')).toBe(1);
    expect(value('5000')).toBe(1);
    expect(value('10000')).toBe(2);
    expect(value('+Inf')).toBe(2);
    expect(text).toMatch(/^istio_request_duration_milliseconds_sum\{.*\} 7003\.2$/m);
    expect(text).toMatch(/^istio_response_bytes_bucket\{.*le="1000000000"\} 0$/m);
    expect(text).toMatch(/^istio_response_bytes_bucket\{.*le="\+Inf"\} 1$/m);
  });

  it.skipIf(!hasPromtool)(
    'ztunnel TCP metrics pass `promtool check metrics` cleanly (needs Debian prometheus)',
    () => {
      expect(promtoolCheck(populated(false).render())).toEqual({ status: 0, output: '' });
    },
  );

  it.skipIf(!hasPromtool)("HTTP metrics parse; the one lint is the unit in Istio's own metric name", () => {
    const result = promtoolCheck(populated().render());
    // Exit 3 = lint findings only (a parse error exits 1). Istio names the metric in milliseconds; we keep its name.
    expect(result.output.trim()).toBe(
      'istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"',
    );
    expect(result.status).toBe(3);
  });

  it.skipIf(!hasPromtool)('promtool really rejects a broken exposition (the check can fail)', () => {
    expect(promtoolCheck('# TYPE x counter\nx{a="b} 1\n').status).toBe(1);
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/promtool/);
  });

  it.skipIf(!hasPromtool)('ztunnel DNS metrics pass `promtool check metrics` cleanly', () => {
    const registry = new MetricsRegistry();
    const dns = createIstioDnsMetrics(registry);
    const labels = {
      request_query_type: 'a',
      request_protocol: 'udp',
      source_canonical_service: 'sleep',
      source_canonical_revision: 'latest',
    };
    dns.requests.inc(labels);
    dns.upstreamRequests.inc(labels);
    dns.upstreamFailures.inc(labels);
    dns.upstreamDuration.observe(labels, 0.004);
    const text = registry.render();
    expect(text).toMatch(/^istio_dns_upstream_request_duration_seconds_bucket\{.*le="0\.005"\} 1$/m);
    expect(text).toContain('# TYPE istio_dns_requests_total counter\n');
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });

  it('renders an empty registry as an empty exposition', () => {
    expect(new MetricsRegistry().render()).toBe('');
  });
});

describe('registry rules', () => {
  it('rejects bad names, duplicate names and reserved labels', () => {
    const registry = new MetricsRegistry();
    expect(() => registry.counter({ name: '1bad', help: 'x', labels: [] })).toThrow(TelemetryError);
    expect(() => registry.counter({ name: 'ok_total', help: 'x', labels: ['__name'] })).toThrow(
      /invalid label/,
    );
    expect(() => registry.counter({ name: 'ok_total', help: 'x', labels: ['a', 'a'] })).toThrow(/twice/);
    expect(() => registry.histogram({ name: 'h', help: 'x', labels: ['le'], buckets: [1] })).toThrow(
      /invalid label/,
    );
    expect(() => registry.histogram({ name: 'h', help: 'x', labels: [], buckets: [2, 1] })).toThrow(
      /ascending/,
    );
    registry.counter({ name: 'ok_total', help: 'x', labels: [] });
    try {
      registry.gauge({ name: 'ok_total', help: 'x', labels: [] });
      expect.unreachable();
    } catch (error) {
      expect((error as TelemetryError).code).toBe('TELEMETRY_ERR_DUPLICATE_METRIC');
    }
  });

  it('refuses a missing label and a negative counter increment', () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: 'c_total', help: 'x', labels: ['a', 'b'] });
    expect(() => c.inc({ a: '1' } as never)).toThrow(/label b is missing/);
    expect(() => c.inc({ a: '1', b: '2' }, -1)).toThrow(/cannot grow/);
    c.inc({ a: '1', b: '2' }, 2);
    expect(c.get({ a: '1', b: '2' })).toBe(2);
    expect(registry.render()).toContain('c_total{a="1",b="2"} 2\n');
  });

  it('keeps label sets apart even when values contain separators', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'g', help: 'x', labels: ['a', 'b'] });
    g.set({ a: 'x,b="y"', b: '' }, 1);
    g.set({ a: 'x', b: 'y' }, 2);
    g.add({ a: 'x', b: 'y' }, 3);
    expect(g.get({ a: 'x', b: 'y' })).toBe(5);
    expect(g.get({ a: 'x,b="y"', b: '' })).toBe(1);
    g.remove({ a: 'x', b: 'y' });
    expect(registry.render()).not.toContain('g{a="x",b="y"}');
  });

  it('fills Istio labels with unknown, tcp and - by default', () => {
    const labels = istioTcpLabels({ reporter: 'source', source_app: '' });
    expect(labels.source_app).toBe('unknown');
    expect(labels.request_protocol).toBe('tcp');
    expect(labels.response_flags).toBe('-');
    expect(Object.keys(labels)).toHaveLength(23);
  });
});
