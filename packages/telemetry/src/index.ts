/**
 * Prometheus metrics with Istio's names and labels, and connection logs in
 * ztunnel's format. Pure; the HTTP endpoint lives in `@amesh/telemetry/node`.
 * @packageDocumentation
 */
export { CONNECTION_LOG_FIELDS, formatConnectionLog } from './connection-log.js';
export type { ConnectionLogFields } from './connection-log.js';
export { TelemetryError } from './errors.js';
export type { TelemetryErrorCode } from './errors.js';
export {
  createIstioDnsMetrics,
  createIstioHttpMetrics,
  createIstioTcpMetrics,
  ISTIO_DNS_DURATION_BUCKETS_S,
  ISTIO_DNS_LABELS,
  ISTIO_DURATION_BUCKETS_MS,
  ISTIO_HTTP_LABELS,
  ISTIO_PEER_LABELS,
  ISTIO_SIZE_BUCKETS_BYTES,
  istioHttpLabels,
  istioTcpLabels,
  UNKNOWN,
} from './istio.js';
export type {
  IstioDnsLabel,
  IstioDnsMetrics,
  IstioHttpLabel,
  IstioHttpMetrics,
  IstioPeerLabel,
  IstioTcpMetrics,
} from './istio.js';
export { MetricsRegistry } from './registry.js';
export type { Counter, Gauge, Histogram, HistogramDefinition, Labels, MetricDefinition } from './registry.js';
