import { conditionKeyInfo } from './condition-keys.js';
import type { ValidationIssue } from './errors.js';
import { tryParseCidr } from './ip-address.js';
import {
  type AuthorizationPolicy,
  type AuthorizationRule,
  DRY_RUN_ANNOTATION,
  type Operation,
  type Source,
} from './resource-types.js';

/** Where a policy is enforced, which decides whether HTTP attributes are a problem. */
export type Enforcement = 'ztunnel' | 'waypoint' | 'auto';

/** Options of {@link validateAuthorizationPolicy}. */
export interface ValidateOptions {
  /**
   * `auto` (default): a policy with `targetRefs` is enforced by a waypoint,
   * any other by ztunnel (L4 only).
   */
  readonly enforcement?: Enforcement;
  /** Report HTTP attributes in a ztunnel-enforced policy as errors instead of warnings. */
  readonly strictL4?: boolean;
}

/** Result of validation: every problem at once, with paths. */
export interface ValidationResult {
  /** True when `errors` is empty (warnings do not make a policy invalid). */
  readonly valid: boolean;
  readonly errors: readonly ValidationIssue[];
  /** Things that work, but not as a user may expect (for example HTTP fields ztunnel ignores). */
  readonly warnings: readonly ValidationIssue[];
}

/** An HTTP-only part of a rule, which ztunnel cannot see. */
export interface L7Part {
  readonly path: string;
  readonly what: string;
}

const SOURCE_STRING_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
] as const;
const SOURCE_IP_FIELDS = ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const;
const SOURCE_FIELDS = [...SOURCE_STRING_FIELDS, ...SOURCE_IP_FIELDS] as const;
const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
] as const;
const L7_SOURCE_FIELDS = [
  'requestPrincipals',
  'notRequestPrincipals',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;
const L7_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const ACTIONS = new Set(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']);

/**
 * Validates an AuthorizationPolicy resource and reports every problem at
 * once with its path: bad CIDR, unknown condition key, empty `values`,
 * misplaced wildcard, bad port, CUSTOM without provider, selector together
 * with targetRefs, and (as warnings, or errors with `strictL4`) HTTP fields
 * in a policy only ztunnel enforces.
 * @example
 * ```ts
 * const { valid, errors } = validateAuthorizationPolicy(policy);
 * for (const e of errors) console.log(`${e.path}: ${e.message}`);
 * ```
 */
export function validateAuthorizationPolicy(
  policy: AuthorizationPolicy,
  options: ValidateOptions = {},
): ValidationResult {
  const shape = shapeIssues(policy);
  // Wrong types (from hand-written YAML) make every later check meaningless: report them alone.
  if (shape.length > 0) return { valid: false, errors: shape, warnings: [] };
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const error = (path: string, code: string, message: string): void => {
    errors.push({ path, code, message });
  };
  const metadata = policy?.metadata;
  if (typeof metadata?.name !== 'string' || metadata.name === '') {
    error('metadata.name', 'AUTHZ_ERR_MISSING_NAME', 'metadata.name is required');
  }
  if (typeof metadata?.namespace !== 'string' || metadata.namespace === '') {
    error('metadata.namespace', 'AUTHZ_ERR_MISSING_NAMESPACE', 'metadata.namespace is required');
  }
  const spec = policy?.spec ?? {};
  const action = spec.action ?? 'ALLOW';
  if (!ACTIONS.has(action)) {
    error(
      'spec.action',
      'AUTHZ_ERR_INVALID_ACTION',
      `action must be ALLOW, DENY, AUDIT or CUSTOM, got ${JSON.stringify(action)}`,
    );
  }
  if (action === 'CUSTOM' && (typeof spec.provider?.name !== 'string' || spec.provider.name === '')) {
    error('spec.provider.name', 'AUTHZ_ERR_MISSING_PROVIDER', 'a CUSTOM policy needs provider.name');
  }
  if (action !== 'CUSTOM' && spec.provider !== undefined) {
    error('spec.provider', 'AUTHZ_ERR_UNEXPECTED_PROVIDER', 'provider is only allowed with action CUSTOM');
  }
  const refs = spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
  if (spec.targetRef !== undefined && spec.targetRefs !== undefined) {
    error('spec.targetRef', 'AUTHZ_ERR_TARGET_CONFLICT', 'set targetRef or targetRefs, not both');
  }
  if (spec.selector !== undefined && refs.length > 0) {
    error('spec.selector', 'AUTHZ_ERR_TARGET_CONFLICT', 'set selector or targetRefs, not both');
  }
  refs.forEach((ref, i) => {
    const path = spec.targetRefs ? `spec.targetRefs[${i}]` : 'spec.targetRef';
    if (typeof ref?.kind !== 'string' || ref.kind === '')
      error(`${path}.kind`, 'AUTHZ_ERR_INVALID_TARGET_REF', 'kind is required');
    if (typeof ref?.name !== 'string' || ref.name === '')
      error(`${path}.name`, 'AUTHZ_ERR_INVALID_TARGET_REF', 'name is required');
  });
  const dryRun = metadata?.annotations?.[DRY_RUN_ANNOTATION];
  if (dryRun !== undefined && dryRun !== 'true' && dryRun !== 'false') {
    error(
      `metadata.annotations["${DRY_RUN_ANNOTATION}"]`,
      'AUTHZ_ERR_INVALID_DRY_RUN',
      `must be "true" or "false", got ${JSON.stringify(dryRun)}`,
    );
  }
  if (dryRun === 'true' && (action === 'AUDIT' || action === 'CUSTOM')) {
    warnings.push({
      path: `metadata.annotations["${DRY_RUN_ANNOTATION}"]`,
      code: 'AUTHZ_ERR_DRY_RUN_IGNORED',
      message: `dry-run is supported for ALLOW and DENY only; this ${action} policy is enforced`,
    });
  }

  (spec.rules ?? []).forEach((rule, r) => {
    validateRule(rule, `spec.rules[${r}]`, error);
  });

  const enforcement = options.enforcement ?? 'auto';
  const atZtunnel = enforcement === 'ztunnel' || (enforcement === 'auto' && refs.length === 0);
  if (atZtunnel) {
    const l4 = options.strictL4 ? errors : warnings;
    if (action === 'AUDIT' || action === 'CUSTOM') {
      l4.push({
        path: 'spec.action',
        code: 'AUTHZ_ERR_L7_AT_L4',
        message: `ztunnel does not enforce ${action} policies; attach the policy to a waypoint with targetRefs`,
      });
    } else {
      (spec.rules ?? []).forEach((rule, r) => {
        for (const part of l7Parts(rule, `spec.rules[${r}]`)) {
          l4.push({
            path: part.path,
            code: 'AUTHZ_ERR_L7_AT_L4',
            message: l7Message(part, action === 'DENY'),
          });
        }
      });
    }
  }
  return { valid: errors.length === 0, errors, warnings };
}

/** The words of the warning for an HTTP-only part of a rule enforced by ztunnel. */
export function l7Message(part: L7Part, deny: boolean): string {
  return deny
    ? `${part.what} is an HTTP attribute ztunnel cannot see; it is ignored and the DENY rule keeps only its L4 parts (so it denies more)`
    : `${part.what} is an HTTP attribute ztunnel cannot see; this ALLOW rule is dropped and never matches`;
}

/** The HTTP-only parts of a rule, with paths (`...from[0].source.requestPrincipals`). */
export function l7Parts(rule: AuthorizationRule, base: string): L7Part[] {
  const parts: L7Part[] = [];
  (rule.from ?? []).forEach((from, f) => {
    for (const field of L7_SOURCE_FIELDS) {
      if ((from?.source?.[field]?.length ?? 0) > 0) {
        parts.push({ path: `${base}.from[${f}].source.${field}`, what: `source.${field}` });
      }
    }
  });
  (rule.to ?? []).forEach((to, t) => {
    for (const field of L7_OPERATION_FIELDS) {
      if ((to?.operation?.[field]?.length ?? 0) > 0) {
        parts.push({ path: `${base}.to[${t}].operation.${field}`, what: `operation.${field}` });
      }
    }
  });
  (rule.when ?? []).forEach((condition, w) => {
    const info = conditionKeyInfo(condition?.key ?? '');
    if (info === undefined || info.info.layer === 'L7') {
      parts.push({ path: `${base}.when[${w}]`, what: `condition ${JSON.stringify(condition?.key)}` });
    }
  });
  return parts;
}

type Report = (path: string, code: string, message: string) => void;

function validateRule(rule: AuthorizationRule, base: string, error: Report): void {
  if (rule === null || typeof rule !== 'object') {
    error(base, 'AUTHZ_ERR_INVALID_RULE', 'a rule must be an object');
    return;
  }
  if (rule.from !== undefined) {
    if (rule.from.length === 0)
      error(`${base}.from`, 'AUTHZ_ERR_EMPTY_FROM', '`from` must not be empty; omit it to match any source');
    rule.from.forEach((from, f) => {
      validateSource(from?.source, `${base}.from[${f}].source`, error);
    });
  }
  if (rule.to !== undefined) {
    if (rule.to.length === 0)
      error(`${base}.to`, 'AUTHZ_ERR_EMPTY_TO', '`to` must not be empty; omit it to match any operation');
    rule.to.forEach((to, t) => {
      validateOperation(to?.operation, `${base}.to[${t}].operation`, error);
    });
  }
  (rule.when ?? []).forEach((condition, w) => {
    const path = `${base}.when[${w}]`;
    const parsed = conditionKeyInfo(condition?.key ?? '');
    if (parsed === undefined) {
      error(
        `${path}.key`,
        'AUTHZ_ERR_UNKNOWN_CONDITION_KEY',
        `unknown condition key ${JSON.stringify(condition?.key)}`,
      );
    }
    const values = condition?.values ?? [];
    const notValues = condition?.notValues ?? [];
    if (values.length === 0 && notValues.length === 0) {
      error(path, 'AUTHZ_ERR_EMPTY_VALUES', 'a condition needs at least one of values or notValues');
    }
    const kind = parsed?.info.kind ?? 'string';
    for (const [field, list] of [
      ['values', values],
      ['notValues', notValues],
    ] as const) {
      list.forEach((value, i) => {
        validateValue(value, kind, `${path}.${field}[${i}]`, error);
      });
    }
  });
}

function validateSource(source: Source | undefined, base: string, error: Report): void {
  if (source === undefined || source === null) {
    error(base, 'AUTHZ_ERR_EMPTY_SOURCE', '`from` needs a source');
    return;
  }
  if (!SOURCE_FIELDS.some((f) => source[f] !== undefined && source[f]!.length > 0)) {
    error(base, 'AUTHZ_ERR_EMPTY_SOURCE', '`source` must set at least one field');
  }
  for (const field of SOURCE_STRING_FIELDS) {
    (source[field] ?? []).forEach((value, i) => {
      const path = `${base}.${field}[${i}]`;
      validateValue(value, 'string', path, error);
      if (
        (field === 'serviceAccounts' || field === 'notServiceAccounts') &&
        typeof value === 'string' &&
        !/^[^/*]+\/[^/*]+$/.test(value)
      ) {
        error(
          path,
          'AUTHZ_ERR_INVALID_SERVICE_ACCOUNT',
          `service accounts are written <namespace>/<name>, got ${JSON.stringify(value)}`,
        );
      }
    });
  }
  for (const field of SOURCE_IP_FIELDS) {
    (source[field] ?? []).forEach((value, i) => {
      validateValue(value, 'ip', `${base}.${field}[${i}]`, error);
    });
  }
}

function validateOperation(operation: Operation | undefined, base: string, error: Report): void {
  if (operation === undefined || operation === null) {
    error(base, 'AUTHZ_ERR_EMPTY_OPERATION', '`to` needs an operation');
    return;
  }
  if (!OPERATION_FIELDS.some((f) => operation[f] !== undefined && operation[f]!.length > 0)) {
    error(base, 'AUTHZ_ERR_EMPTY_OPERATION', '`operation` must set at least one field');
  }
  for (const field of OPERATION_FIELDS) {
    const kind = field === 'ports' || field === 'notPorts' ? 'port' : 'string';
    (operation[field] ?? []).forEach((value, i) => {
      const path = `${base}.${field}[${i}]`;
      validateValue(value, kind, path, error);
      if ((field === 'paths' || field === 'notPaths') && typeof value === 'string' && value.includes('{')) {
        error(path, 'AUTHZ_ERR_UNSUPPORTED_PATH_TEMPLATE', 'path templates ({*}, {**}) are not supported');
      }
    });
  }
}

function validateValue(value: unknown, kind: 'string' | 'ip' | 'port', path: string, error: Report): void {
  if (typeof value !== 'string' || value === '') {
    error(path, 'AUTHZ_ERR_EMPTY_VALUE', 'values must be non-empty strings');
    return;
  }
  if (kind === 'ip') {
    if (tryParseCidr(value) === undefined) {
      error(path, 'AUTHZ_ERR_INVALID_CIDR', `${JSON.stringify(value)} is not an IP address or CIDR block`);
    }
  } else if (kind === 'port') {
    if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65535) {
      error(path, 'AUTHZ_ERR_INVALID_PORT', `${JSON.stringify(value)} is not a port number (0..65535)`);
    }
  } else if (value.length > 1 && value.slice(1, -1).includes('*')) {
    error(
      path,
      'AUTHZ_ERR_INVALID_WILDCARD',
      `"*" is only allowed at the start or the end: ${JSON.stringify(value)}`,
    );
  } else if (value.length > 1 && value.startsWith('*') && value.endsWith('*')) {
    error(
      path,
      'AUTHZ_ERR_INVALID_WILDCARD',
      `"*" may be at the start or the end, not both: ${JSON.stringify(value)}`,
    );
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Type errors: objects, arrays and strings where the resource schema has them. */
function shapeIssues(policy: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const wrong = (path: string, expected: string): void => {
    issues.push({ path, code: 'AUTHZ_ERR_INVALID_TYPE', message: `must be ${expected}` });
  };
  const object = (value: unknown, path: string, optional = true): value is Record<string, unknown> => {
    if (value === undefined && optional) return false;
    if (!isObject(value)) {
      wrong(path, 'an object');
      return false;
    }
    return true;
  };
  const strings = (value: unknown, path: string): void => {
    if (value === undefined) return;
    if (!Array.isArray(value)) {
      wrong(path, 'a list of strings');
      return;
    }
    value.forEach((v, i) => {
      if (typeof v !== 'string') wrong(`${path}[${i}]`, 'a string');
    });
  };
  const list = (value: unknown, path: string, each: (item: unknown, path: string) => void): void => {
    if (value === undefined) return;
    if (!Array.isArray(value)) {
      wrong(path, 'a list');
      return;
    }
    value.forEach((item, i) => {
      each(item, `${path}[${i}]`);
    });
  };
  const stringMap = (value: unknown, path: string): void => {
    if (!object(value, path)) return;
    for (const [k, v] of Object.entries(value))
      if (typeof v !== 'string') wrong(`${path}["${k}"]`, 'a string');
  };
  const optionalString = (value: unknown, path: string): void => {
    if (value !== undefined && typeof value !== 'string') wrong(path, 'a string');
  };
  if (!object(policy, '(policy)', false)) return issues;
  if (object(policy.metadata, 'metadata', false)) {
    optionalString(policy.metadata.name, 'metadata.name');
    optionalString(policy.metadata.namespace, 'metadata.namespace');
    if (policy.metadata.annotations !== undefined)
      stringMap(policy.metadata.annotations, 'metadata.annotations');
  }
  const spec = policy.spec;
  if (!object(spec, 'spec')) return issues;
  optionalString(spec.action, 'spec.action');
  if (object(spec.selector, 'spec.selector') && spec.selector.matchLabels !== undefined) {
    stringMap(spec.selector.matchLabels, 'spec.selector.matchLabels');
  }
  if (object(spec.provider, 'spec.provider')) optionalString(spec.provider.name, 'spec.provider.name');
  const ref = (value: unknown, path: string): void => {
    if (!object(value, path, false)) return;
    for (const field of ['group', 'kind', 'name', 'namespace'])
      optionalString(value[field], `${path}.${field}`);
  };
  if (spec.targetRef !== undefined) ref(spec.targetRef, 'spec.targetRef');
  list(spec.targetRefs, 'spec.targetRefs', ref);
  list(spec.rules, 'spec.rules', (rule, path) => {
    if (!object(rule, path, false)) return;
    list(rule.from, `${path}.from`, (from, fromPath) => {
      if (object(from, fromPath, false) && object(from.source, `${fromPath}.source`)) {
        for (const field of SOURCE_FIELDS) strings(from.source[field], `${fromPath}.source.${field}`);
      }
    });
    list(rule.to, `${path}.to`, (to, toPath) => {
      if (object(to, toPath, false) && object(to.operation, `${toPath}.operation`)) {
        for (const field of OPERATION_FIELDS) strings(to.operation[field], `${toPath}.operation.${field}`);
      }
    });
    list(rule.when, `${path}.when`, (condition, conditionPath) => {
      if (!object(condition, conditionPath, false)) return;
      if (typeof condition.key !== 'string') wrong(`${conditionPath}.key`, 'a string');
      strings(condition.values, `${conditionPath}.values`);
      strings(condition.notValues, `${conditionPath}.notValues`);
    });
  });
  return issues;
}
