/** How the values of a condition key are written and compared. */
export type ConditionValueKind = 'string' | 'ip' | 'port';

/** What Istio documents about one `when` condition key. */
export interface ConditionKeyInfo {
  /** `string`: Istio string patterns; `ip`: addresses or CIDR blocks; `port`: decimal port numbers. */
  readonly kind: ConditionValueKind;
  /** `L4` keys are the ones ztunnel can enforce. */
  readonly layer: 'L4' | 'L7';
}

/**
 * The fixed condition keys of Istio's AuthorizationPolicy (`when[].key`).
 * Two more are parameterised: `request.headers[<name>]` and
 * `request.auth.claims[<name>]` (nested: `request.auth.claims[a][b]`), both L7 strings.
 */
export const CONDITION_KEYS: Readonly<Record<string, ConditionKeyInfo>> = Object.freeze({
  'source.ip': { kind: 'ip', layer: 'L4' },
  'source.namespace': { kind: 'string', layer: 'L4' },
  'source.principal': { kind: 'string', layer: 'L4' },
  'destination.ip': { kind: 'ip', layer: 'L4' },
  'destination.port': { kind: 'port', layer: 'L4' },
  'remote.ip': { kind: 'ip', layer: 'L7' },
  'request.auth.principal': { kind: 'string', layer: 'L7' },
  'request.auth.audiences': { kind: 'string', layer: 'L7' },
  'request.auth.presenter': { kind: 'string', layer: 'L7' },
  'connection.sni': { kind: 'string', layer: 'L7' },
});

/** A condition key understood by {@link conditionKeyInfo}. */
export type ParsedConditionKey =
  | { readonly key: string; readonly info: ConditionKeyInfo; readonly type: 'fixed' }
  | {
      readonly key: string;
      readonly info: ConditionKeyInfo;
      readonly type: 'header';
      readonly header: string;
    }
  | {
      readonly key: string;
      readonly info: ConditionKeyInfo;
      readonly type: 'claim';
      readonly path: readonly string[];
    };

const HEADER = /^request\.headers\[([^\][]+)\]$/;
const CLAIM = /^request\.auth\.claims((?:\[[^\][]+\])+)$/;

/**
 * Parses a condition key; `undefined` for a key Istio does not document.
 * @example
 * ```ts
 * conditionKeyInfo('request.headers[x-user]'); // { type: 'header', header: 'x-user', ... }
 * ```
 */
export function conditionKeyInfo(key: string): ParsedConditionKey | undefined {
  const fixed = Object.hasOwn(CONDITION_KEYS, key) ? CONDITION_KEYS[key] : undefined;
  if (fixed) return { key, info: fixed, type: 'fixed' };
  const header = HEADER.exec(key);
  if (header)
    return { key, info: { kind: 'string', layer: 'L7' }, type: 'header', header: header[1]!.toLowerCase() };
  const claim = CLAIM.exec(key);
  if (claim) {
    const path = claim[1]!.slice(1, -1).split('][');
    return { key, info: { kind: 'string', layer: 'L7' }, type: 'claim', path };
  }
  return undefined;
}
