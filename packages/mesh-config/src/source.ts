import type { ConfigIssue } from './issues.js';
import type { ConfigChange } from './resources.js';

/**
 * What a {@link ConfigSource} reports:
 * - `change`: resources upserted or removed (validated; only what changed);
 * - `issues`: parse or validation problems; the last good config stays in place;
 *   `scope` names what the issues replace (a file path, or a Kubernetes resource key),
 *   and an empty `issues` list clears earlier issues of that scope;
 * - `synced`: the initial state has been delivered;
 * - `error`: the backend failed (for example the API server is unreachable);
 *   the source keeps retrying.
 */
export type ConfigSourceEvent =
  | { readonly type: 'change'; readonly change: ConfigChange }
  | { readonly type: 'issues'; readonly scope: string; readonly issues: readonly ConfigIssue[] }
  | { readonly type: 'synced' }
  | { readonly type: 'error'; readonly error: Error };

/** Receives {@link ConfigSourceEvent}s. */
export type ConfigSourceListener = (event: ConfigSourceEvent) => void;

/**
 * One interface for every config source (a YAML directory, Kubernetes, ...).
 * `start` delivers the initial state as one `change` then `synced`, and
 * resolves once that happened; later edits arrive as further events.
 */
export interface ConfigSource {
  /** A short name for logs, for example `directory:/etc/amesh` or `kubernetes`. */
  readonly name: string;
  /** Starts watching; resolves after the initial state was delivered. */
  start(listener: ConfigSourceListener): Promise<void>;
  /** Stops watching and releases every handle. Idempotent. */
  close(): Promise<void>;
}
