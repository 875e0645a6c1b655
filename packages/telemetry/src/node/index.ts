/**
 * Node glue: serve a {@link MetricsRegistry} over HTTP.
 * @packageDocumentation
 */
export { metricsRequestListener } from './metrics-http.js';
