import { AmeshError } from '@amesh/errors';

/** Stable codes of {@link TelemetryError}. */
export type TelemetryErrorCode =
  | 'TELEMETRY_ERR_INVALID_NAME'
  | 'TELEMETRY_ERR_DUPLICATE_METRIC'
  | 'TELEMETRY_ERR_LABELS'
  | 'TELEMETRY_ERR_VALUE';

/** Error thrown by the metrics registry on a misuse that would corrupt the exposition. */
export class TelemetryError extends AmeshError<TelemetryErrorCode> {}
