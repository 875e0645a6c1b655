import type { ConversionOptions, ConversionResult } from './convert-authorization-policy.js';
import type { ValidationIssue } from './errors.js';
import type { MtlsMode, PeerAuthentication } from './resource-types.js';
import type { WireMatch, WireRule, WireScope } from './wire-types.js';

/** Prefix of the names of wire policies converted from PeerAuthentication. */
export const PEER_AUTHENTICATION_POLICY_PREFIX = 'converted_peer_authentication_';

/** Options of {@link peerAuthenticationToWire}. */
export interface PeerAuthenticationOptions extends ConversionOptions {
  /**
   * The mode inherited from the namespace or mesh-wide PeerAuthentication,
   * used where this one says UNSET. Default PERMISSIVE.
   */
  readonly inheritedMode?: MtlsMode;
}

const MODES = new Set(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
const PRESENCE: WireMatch = { notPrincipals: [{ presence: {} }] };

/**
 * Converts a PeerAuthentication into the DENY policy ztunnel enforces, as
 * Istio does in ambient mode: STRICT denies connections without a peer
 * identity (plaintext), except on ports set PERMISSIVE; PERMISSIVE with
 * STRICT ports denies plaintext on those ports only. DISABLE is not
 * supported in ambient: it is treated as PERMISSIVE, with a warning.
 * The policy is named `converted_peer_authentication_<name>`; a selector
 * policy must be listed on the workloads it selects.
 * @example
 * ```ts
 * const r = peerAuthenticationToWire({ metadata: { name: 'strict', namespace: 'foo' }, spec: { mtls: { mode: 'STRICT' } } });
 * // r.authorization: DENY, rules: [{ clauses: [{ matches: [{ notPrincipals: [{ presence: {} }] }] }] }]
 * ```
 */
export function peerAuthenticationToWire(
  resource: PeerAuthentication,
  options: PeerAuthenticationOptions = {},
): ConversionResult {
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const name = resource?.metadata?.name;
  const namespace = resource?.metadata?.namespace;
  if (typeof name !== 'string' || name === '') {
    errors.push({
      path: 'metadata.name',
      code: 'AUTHZ_ERR_MISSING_NAME',
      message: 'metadata.name is required',
    });
  }
  if (typeof namespace !== 'string' || namespace === '') {
    errors.push({
      path: 'metadata.namespace',
      code: 'AUTHZ_ERR_MISSING_NAMESPACE',
      message: 'metadata.namespace is required',
    });
  }
  const spec = resource?.spec ?? {};
  const selected = Object.keys(spec.selector?.matchLabels ?? {}).length > 0;
  const declared = spec.mtls?.mode ?? 'UNSET';
  if (!MODES.has(declared)) {
    errors.push({
      path: 'spec.mtls.mode',
      code: 'AUTHZ_ERR_INVALID_MTLS_MODE',
      message: `unknown mTLS mode ${JSON.stringify(declared)}`,
    });
  }
  const portModes: [number, MtlsMode][] = [];
  for (const [port, setting] of Object.entries(spec.portLevelMtls ?? {})) {
    const path = `spec.portLevelMtls["${port}"]`;
    const mode = setting?.mode ?? 'UNSET';
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      errors.push({
        path,
        code: 'AUTHZ_ERR_INVALID_PORT',
        message: `${JSON.stringify(port)} is not a port number (1..65535)`,
      });
    } else if (!MODES.has(mode)) {
      errors.push({
        path: `${path}.mode`,
        code: 'AUTHZ_ERR_INVALID_MTLS_MODE',
        message: `unknown mTLS mode ${JSON.stringify(mode)}`,
      });
    } else {
      portModes.push([Number(port), mode]);
    }
  }
  if (portModes.length > 0 && !selected) {
    errors.push({
      path: 'spec.portLevelMtls',
      code: 'AUTHZ_ERR_PORT_LEVEL_WITHOUT_SELECTOR',
      message: 'portLevelMtls needs a workload selector',
    });
  }
  if (errors.length > 0) return { status: 'invalid', errors };

  const disabled = (path: string): void => {
    warnings.push({
      path,
      code: 'AUTHZ_ERR_MTLS_DISABLE_IGNORED',
      message: 'DISABLE is not supported in ambient mode (ztunnel always sends mTLS); treated as PERMISSIVE',
    });
  };
  if (declared === 'DISABLE') disabled('spec.mtls.mode');
  const inherited = options.inheritedMode === 'STRICT' ? 'STRICT' : 'PERMISSIVE';
  const top = declared === 'STRICT' ? 'STRICT' : declared === 'UNSET' ? inherited : 'PERMISSIVE';
  const rules: WireRule[] = [];
  const exceptions: number[] = [];
  const strictPorts: number[] = [];
  for (const [port, mode] of portModes.sort((a, b) => a[0] - b[0])) {
    if (mode === 'DISABLE') disabled(`spec.portLevelMtls["${port}"].mode`);
    const effective = mode === 'STRICT' ? 'STRICT' : mode === 'UNSET' ? top : 'PERMISSIVE';
    if (top === 'STRICT' && effective !== 'STRICT') exceptions.push(port);
    if (top !== 'STRICT' && effective === 'STRICT') strictPorts.push(port);
  }
  if (top === 'STRICT') {
    rules.push({
      clauses: [
        { matches: [exceptions.length > 0 ? { ...PRESENCE, notDestinationPorts: exceptions } : PRESENCE] },
      ],
    });
  } else if (strictPorts.length > 0) {
    rules.push({ clauses: [{ matches: [{ ...PRESENCE, destinationPorts: strictPorts }] }] });
  }
  if (rules.length === 0) {
    return {
      status: 'skipped',
      reason: 'plaintext is accepted on every port: nothing for ztunnel to deny',
      warnings,
    };
  }
  const rootNamespace = options.rootNamespace ?? 'istio-system';
  const scope: WireScope = selected
    ? 'WORKLOAD_SELECTOR'
    : namespace === rootNamespace
      ? 'GLOBAL'
      : 'NAMESPACE';
  return {
    status: 'converted',
    authorization: {
      name: `${PEER_AUTHENTICATION_POLICY_PREFIX}${name}`,
      namespace: namespace!,
      scope,
      action: 'DENY',
      rules,
      dryRun: false,
    },
    warnings,
  };
}
