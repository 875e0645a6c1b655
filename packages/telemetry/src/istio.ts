import type { Counter, Histogram, Labels, MetricsRegistry } from './registry.js';

/**
 * Label names of Istio's standard metrics, in Istio's order: the source and
 * destination families, then protocol, flags and security policy.
 */
export const ISTIO_PEER_LABELS = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_service',
  'destination_service_namespace',
  'destination_service_name',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
] as const;

/** One label of {@link ISTIO_PEER_LABELS}. */
export type IstioPeerLabel = (typeof ISTIO_PEER_LABELS)[number];

/** Labels of Istio's HTTP metrics: the peer labels plus response code and gRPC status. */
export const ISTIO_HTTP_LABELS = [...ISTIO_PEER_LABELS, 'response_code', 'grpc_response_status'] as const;

/** One label of {@link ISTIO_HTTP_LABELS}. */
export type IstioHttpLabel = (typeof ISTIO_HTTP_LABELS)[number];

/** Istio's value for a label the proxy does not know. */
export const UNKNOWN = 'unknown';

/**
 * Completes a partial label set the way Istio does: every missing label is
 * `unknown`, except `response_flags` (`-`) and `request_protocol` (`tcp`).
 */
export function istioTcpLabels(partial: Partial<Labels<IstioPeerLabel>>): Labels<IstioPeerLabel> {
  const labels = {} as Record<IstioPeerLabel, string>;
  for (const name of ISTIO_PEER_LABELS) labels[name] = nonEmpty(partial[name]) ?? UNKNOWN;
  labels.request_protocol = nonEmpty(partial.request_protocol) ?? 'tcp';
  labels.response_flags = nonEmpty(partial.response_flags) ?? '-';
  return labels;
}

/** Like {@link istioTcpLabels} for HTTP metrics (`request_protocol` defaults to `http`). */
export function istioHttpLabels(partial: Partial<Labels<IstioHttpLabel>>): Labels<IstioHttpLabel> {
  const labels = { ...istioTcpLabels(partial) } as Record<IstioHttpLabel, string>;
  labels.request_protocol = nonEmpty(partial.request_protocol) ?? 'http';
  labels.response_code = nonEmpty(partial.response_code) ?? UNKNOWN;
  labels.grpc_response_status = nonEmpty(partial.grpc_response_status) ?? '';
  return labels;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** ztunnel's four TCP counters, as {@link createIstioTcpMetrics} registers them. */
export interface IstioTcpMetrics {
  readonly opened: Counter<IstioPeerLabel>;
  readonly closed: Counter<IstioPeerLabel>;
  readonly sent: Counter<IstioPeerLabel>;
  readonly received: Counter<IstioPeerLabel>;
}

/**
 * Registers Istio's TCP metrics (`istio_tcp_connections_opened_total`,
 * `istio_tcp_connections_closed_total`, `istio_tcp_sent_bytes_total`,
 * `istio_tcp_received_bytes_total`) with the standard labels.
 */
export function createIstioTcpMetrics(registry: MetricsRegistry): IstioTcpMetrics {
  const labels = ISTIO_PEER_LABELS;
  return {
    opened: registry.counter({
      name: 'istio_tcp_connections_opened_total',
      help: 'The total number of TCP connections opened',
      labels,
    }),
    closed: registry.counter({
      name: 'istio_tcp_connections_closed_total',
      help: 'The total number of TCP connections closed',
      labels,
    }),
    sent: registry.counter({
      name: 'istio_tcp_sent_bytes_total',
      help: 'The size of total bytes sent during response in case of a TCP connection',
      labels,
    }),
    received: registry.counter({
      name: 'istio_tcp_received_bytes_total',
      help: 'The size of total bytes received during request in case of a TCP connection',
      labels,
    }),
  };
}

/** A waypoint's HTTP metrics, as {@link createIstioHttpMetrics} registers them. */
export interface IstioHttpMetrics {
  readonly requests: Counter<IstioHttpLabel>;
  readonly duration: Histogram<IstioHttpLabel>;
  readonly requestBytes: Histogram<IstioHttpLabel>;
  readonly responseBytes: Histogram<IstioHttpLabel>;
}

/** Istio's default duration buckets, in milliseconds. */
export const ISTIO_DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

/** Size buckets in bytes: powers of ten from 1 B to 1 GB. */
export const ISTIO_SIZE_BUCKETS_BYTES: readonly number[] = [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/**
 * Registers Istio's HTTP metrics (`istio_requests_total`,
 * `istio_request_duration_milliseconds`, `istio_request_bytes`,
 * `istio_response_bytes`) with the standard labels.
 */
export function createIstioHttpMetrics(registry: MetricsRegistry): IstioHttpMetrics {
  const labels = ISTIO_HTTP_LABELS;
  return {
    requests: registry.counter({ name: 'istio_requests_total', help: 'Total number of requests', labels }),
    duration: registry.histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Duration of requests in milliseconds',
      labels,
      buckets: ISTIO_DURATION_BUCKETS_MS,
    }),
    requestBytes: registry.histogram({
      name: 'istio_request_bytes',
      help: 'Size of HTTP requests in bytes',
      labels,
      buckets: ISTIO_SIZE_BUCKETS_BYTES,
    }),
    responseBytes: registry.histogram({
      name: 'istio_response_bytes',
      help: 'Size of HTTP responses in bytes',
      labels,
      buckets: ISTIO_SIZE_BUCKETS_BYTES,
    }),
  };
}

/** Labels of ztunnel's DNS metrics: the query type and transport (lower case), and the asking workload. */
export const ISTIO_DNS_LABELS = [
  'request_query_type',
  'request_protocol',
  'source_canonical_service',
  'source_canonical_revision',
] as const;

/** One label of {@link ISTIO_DNS_LABELS}. */
export type IstioDnsLabel = (typeof ISTIO_DNS_LABELS)[number];

/** ztunnel's DNS proxy metrics, as {@link createIstioDnsMetrics} registers them. */
export interface IstioDnsMetrics {
  readonly requests: Counter<IstioDnsLabel>;
  readonly upstreamRequests: Counter<IstioDnsLabel>;
  readonly upstreamFailures: Counter<IstioDnsLabel>;
  readonly upstreamDuration: Histogram<IstioDnsLabel>;
}

/** ztunnel's buckets for the upstream DNS duration, in seconds. */
export const ISTIO_DNS_DURATION_BUCKETS_S: readonly number[] = [0.001, 0.005, 0.01, 0.1, 1, 5];

/**
 * Registers ztunnel's DNS proxy metrics (`istio_dns_requests_total`,
 * `istio_dns_upstream_requests_total`, `istio_dns_upstream_failures_total`,
 * `istio_dns_upstream_request_duration_seconds`), which ztunnel marks unstable.
 */
export function createIstioDnsMetrics(registry: MetricsRegistry): IstioDnsMetrics {
  const labels = ISTIO_DNS_LABELS;
  return {
    requests: registry.counter({
      name: 'istio_dns_requests_total',
      help: 'Total number of DNS requests (unstable)',
      labels,
    }),
    upstreamRequests: registry.counter({
      name: 'istio_dns_upstream_requests_total',
      help: 'Total number of DNS requests forwarded to upstream (unstable)',
      labels,
    }),
    upstreamFailures: registry.counter({
      name: 'istio_dns_upstream_failures_total',
      help: 'Total number of DNS requests that failed to forward upstream (unstable)',
      labels,
    }),
    upstreamDuration: registry.histogram({
      name: 'istio_dns_upstream_request_duration_seconds',
      help: 'Total time in seconds Istio takes to get DNS response from upstream (unstable)',
      labels,
      buckets: ISTIO_DNS_DURATION_BUCKETS_S,
    }),
  };
}
