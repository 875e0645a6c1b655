import {
  type Check,
  CompiledPolicy,
  type CompiledRule,
  exactNamespaceKey,
  ipCheck,
  portCheck,
  principalNamespaceKey,
  serviceAccountNamespaceKey,
  stringCheck,
  withNamespaceKeys,
} from './compiled-policy.js';
import { invalidPolicy, type ValidationIssue } from './errors.js';
import { type Cidr, cidrFromBytes } from './ip-address.js';
import { fromWireStringMatch, type StringPattern } from './string-pattern.js';
import type {
  WireAddress,
  WireAuthorization,
  WireMatch,
  WireServiceAccountMatch,
  WireStringMatch,
} from './wire-types.js';

const SCOPES = new Set(['GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR']);
const ACTIONS = new Set(['ALLOW', 'DENY']);

/**
 * Checks a wire-form `Authorization` and reports every problem with its path
 * (for an xDS NACK): bad enum, StringMatch without exactly one form, address
 * not 4 or 16 bytes, prefix too long, port out of range.
 */
export function validateWireAuthorization(auth: WireAuthorization): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (path: string, code: string, message: string): void => {
    issues.push({ path, code, message });
  };
  if (typeof auth?.name !== 'string' || auth.name === '')
    add('name', 'AUTHZ_ERR_MISSING_NAME', 'name is required');
  if (typeof auth?.namespace !== 'string' || auth.namespace === '') {
    add('namespace', 'AUTHZ_ERR_MISSING_NAMESPACE', 'namespace is required');
  }
  if (auth?.scope !== undefined && !SCOPES.has(auth.scope)) {
    add('scope', 'AUTHZ_ERR_INVALID_SCOPE', `unknown scope ${JSON.stringify(auth.scope)}`);
  }
  if (auth?.action !== undefined && !ACTIONS.has(auth.action)) {
    add(
      'action',
      'AUTHZ_ERR_INVALID_ACTION',
      `ztunnel knows ALLOW and DENY, got ${JSON.stringify(auth.action)}`,
    );
  }
  if (auth === null || typeof auth !== 'object') {
    add('(authorization)', 'AUTHZ_ERR_INVALID_TYPE', 'must be an object');
    return issues;
  }
  const list = <T>(value: readonly T[] | undefined, path: string): readonly T[] => {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    add(path, 'AUTHZ_ERR_INVALID_TYPE', 'must be a list');
    return [];
  };
  const isObject = (value: unknown, path: string): boolean => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return true;
    add(path, 'AUTHZ_ERR_INVALID_TYPE', 'must be an object');
    return false;
  };
  list(auth.rules, 'rules').forEach((rule, r) => {
    if (!isObject(rule, `rules[${r}]`)) return;
    list(rule.clauses, `rules[${r}].clauses`).forEach((clause, c) => {
      if (!isObject(clause, `rules[${r}].clauses[${c}]`)) return;
      list(clause.matches, `rules[${r}].clauses[${c}].matches`).forEach((match, m) => {
        const base = `rules[${r}].clauses[${c}].matches[${m}]`;
        if (!isObject(match, base)) return;
        for (const field of STRING_FIELDS) {
          list(match[field], `${base}.${field}`).forEach((s, i) => {
            if (s === null || typeof s !== 'object' || fromWireStringMatch(s) === undefined) {
              add(
                `${base}.${field}[${i}]`,
                'AUTHZ_ERR_INVALID_STRING_MATCH',
                'a StringMatch needs exactly one of exact, prefix, suffix, presence',
              );
            }
          });
        }
        for (const field of ADDRESS_FIELDS) {
          list(match[field], `${base}.${field}`).forEach((a, i) => {
            const problem = addressProblem(a);
            if (problem) add(`${base}.${field}[${i}]`, 'AUTHZ_ERR_INVALID_CIDR', problem);
          });
        }
        for (const field of PORT_FIELDS) {
          list(match[field], `${base}.${field}`).forEach((p, i) => {
            if (!Number.isInteger(p) || p < 0 || p > 65535) {
              add(`${base}.${field}[${i}]`, 'AUTHZ_ERR_INVALID_PORT', `port ${p} is outside 0..65535`);
            }
          });
        }
        for (const field of ACCOUNT_FIELDS) {
          list(match[field], `${base}.${field}`).forEach((s, i) => {
            if (
              typeof s?.namespace !== 'string' ||
              s.namespace === '' ||
              typeof s.serviceAccount !== 'string' ||
              s.serviceAccount === ''
            ) {
              add(
                `${base}.${field}[${i}]`,
                'AUTHZ_ERR_INVALID_SERVICE_ACCOUNT',
                'a ServiceAccountMatch needs a namespace and a serviceAccount',
              );
            }
          });
        }
      });
    });
  });
  return issues;
}

/**
 * Compiles a wire-form `Authorization` (what ztunnel receives over xDS).
 * @throws {AuthzError} `AUTHZ_ERR_INVALID_POLICY` with every problem in `issues`
 * @example
 * ```ts
 * const policy = compileWireAuthorization({ name: 'deny-bar', namespace: 'foo', scope: 'NAMESPACE',
 *   action: 'DENY', rules: [{ clauses: [{ matches: [{ namespaces: [{ exact: 'bar' }] }] }] }] });
 * ```
 */
export function compileWireAuthorization(auth: WireAuthorization): CompiledPolicy {
  const issues = validateWireAuthorization(auth);
  if (issues.length > 0) throw invalidPolicy('Authorization', auth?.namespace, auth?.name, issues);
  const rules: CompiledRule[] = (auth.rules ?? []).map((rule) => ({
    clauses: (rule.clauses ?? []).map((clause, c) => ({
      label: `clauses[${c}]`,
      matches: (clause.matches ?? []).map((match) => ({ checks: compileMatch(match) })),
    })),
  }));
  return new CompiledPolicy({
    namespace: auth.namespace,
    name: auth.name,
    action: auth.action ?? 'ALLOW',
    dryRun: auth.dryRun === true,
    target: { kind: 'wire', scope: auth.scope ?? 'GLOBAL' },
    rules,
  });
}

const STRING_FIELDS = ['namespaces', 'notNamespaces', 'principals', 'notPrincipals'] as const;
const ADDRESS_FIELDS = ['sourceIps', 'notSourceIps', 'destinationIps', 'notDestinationIps'] as const;
const PORT_FIELDS = ['destinationPorts', 'notDestinationPorts'] as const;
const ACCOUNT_FIELDS = ['serviceAccounts', 'notServiceAccounts'] as const;

function compileMatch(match: WireMatch): Check[] {
  const checks: Check[] = [];
  // Cheap checks first: ports and addresses are plain numbers.
  const ports = (field: 'destinationPorts' | 'notDestinationPorts', negated: boolean): void => {
    const values = match[field];
    if (values && values.length > 0) checks.push(portCheck(field, negated, values));
  };
  ports('destinationPorts', false);
  ports('notDestinationPorts', true);
  const addresses = (field: (typeof ADDRESS_FIELDS)[number], negated: boolean): void => {
    const values = match[field];
    if (!values || values.length === 0) return;
    const source = field === 'sourceIps' || field === 'notSourceIps';
    checks.push(
      ipCheck(
        source ? 'source IP' : 'destination IP',
        field,
        negated,
        values.map(toCidr),
        source ? (ctx) => ctx.sourceIp : (ctx) => ctx.destinationIp,
        undefined,
        source ? 'source' : 'destination',
      ),
    );
  };
  addresses('sourceIps', false);
  addresses('notSourceIps', true);
  addresses('destinationIps', false);
  addresses('notDestinationIps', true);
  const strings = (field: (typeof STRING_FIELDS)[number], negated: boolean): void => {
    const values = match[field];
    if (!values || values.length === 0) return;
    const principal = field === 'principals' || field === 'notPrincipals';
    const patterns = values.map(toPattern);
    const check = stringCheck(
      principal ? 'source principal' : 'source namespace',
      field,
      negated,
      patterns,
      principal ? (ctx) => ctx.principal() : (ctx) => ctx.sourceNamespace(),
      { subject: principal ? 'principal' : 'source-namespace' },
    );
    checks.push(withNamespaceKeys(check, patterns, principal ? principalNamespaceKey : exactNamespaceKey));
  };
  strings('namespaces', false);
  strings('notNamespaces', true);
  strings('principals', false);
  strings('notPrincipals', true);
  const accounts = (field: (typeof ACCOUNT_FIELDS)[number], negated: boolean): void => {
    const values = match[field];
    if (!values || values.length === 0) return;
    const patterns = values.map(accountPattern);
    const check = stringCheck('source service account', field, negated, patterns, (ctx) => {
      const ns = ctx.sourceNamespace();
      const sa = ctx.sourceServiceAccount();
      return ns === undefined || sa === undefined ? undefined : `${ns}/${sa}`;
    });
    checks.push(withNamespaceKeys(check, patterns, serviceAccountNamespaceKey));
  };
  accounts('serviceAccounts', false);
  accounts('notServiceAccounts', true);
  return checks;
}

function toCidr(address: WireAddress): Cidr {
  // proto3: a zero length is absent from protobufjs `toObject` output.
  return cidrFromBytes(address.address, address.length ?? 0);
}

function toPattern(match: WireStringMatch): StringPattern {
  return fromWireStringMatch(match)!;
}

function accountPattern(account: WireServiceAccountMatch): StringPattern {
  const text = `${account.namespace}/${account.serviceAccount}`;
  return { kind: 'exact', value: text, text };
}

function addressProblem(address: WireAddress): string | undefined {
  if (address === null || typeof address !== 'object' || !(address.address instanceof Uint8Array)) {
    return 'an Address needs address bytes';
  }
  const bytes = address.address.length;
  if (bytes !== 4 && bytes !== 16) return `an address has 4 or 16 bytes, got ${bytes}`;
  const max = bytes * 8;
  const length = address.length ?? 0;
  if (!Number.isInteger(length) || length < 0 || length > max) {
    return `prefix length ${length} is outside 0..${max}`;
  }
  return undefined;
}
