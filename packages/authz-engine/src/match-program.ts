import type { EvalContext } from './eval-context.js';
import type { Cidr, IpAddress } from './ip-address.js';
import type { StringPattern } from './string-pattern.js';

/**
 * What a check tests, in a form the program compiler can inline: the L4
 * attributes every ztunnel decision looks at. A check without a plan is
 * called through its `find` function.
 */
export type CheckPlan =
  | { readonly kind: 'port'; readonly ports: readonly number[] }
  | { readonly kind: 'ip'; readonly address: 'source' | 'destination'; readonly cidrs: readonly Cidr[] }
  | {
      readonly kind: 'string';
      readonly subject: 'principal' | 'source-namespace';
      readonly patterns: readonly StringPattern[];
    };

/** The parts of a check the program needs. */
export interface ProgramCheck {
  readonly negated: boolean;
  readonly find: (ctx: EvalContext) => number;
  readonly plan?: CheckPlan;
}

/** Rules as the program compiler reads them: OR of rules, AND of clauses, OR of matches, AND of checks. */
export interface ProgramRule {
  readonly clauses: readonly { readonly matches: readonly { readonly checks: readonly ProgramCheck[] }[] }[];
}

/**
 * A policy's rules flattened into one array of small integers, inline
 * constants (ports, address words, strings) and, for checks with no plan,
 * the check itself. Why: evaluating a policy through nested rule, clause,
 * match and check objects and a closure per check reads a dozen scattered
 * heap objects; with a mesh's worth of policies they are cold in the cache,
 * and those reads, not the comparisons, were most of the cost of a decision.
 *
 * Layout (every `end` is the index just past the element):
 * rule `[ruleEnd, clause…]`, clause `[clauseEnd, match…]` (no match = passes),
 * match `[matchEnd, check…]` (no check = passes), check `[checkEnd, op, negated, operands…]`.
 */
export type MatchProgram = readonly unknown[];

const OP_CALL = 0;
const OP_PORT = 1;
const OP_PORT_SET = 2;
const OP_IP = 3;
const OP_STRING = 4;

const SUBJECT_PRINCIPAL = 0;
const SUBJECT_NAMESPACE = 1;

const PATTERN_PREFIX = 1;
const PATTERN_SUFFIX = 2;
const PATTERN_PRESENCE = 3;

/** Port lists longer than this are looked up in a Set rather than scanned. */
const MAX_INLINE_PORTS = 8;
/** Exact values beyond this many are looked up in a Set rather than compared one by one. */
const MAX_INLINE_EXACT = 4;

/** Flattens rules into a {@link MatchProgram}. */
export function compileProgram(rules: readonly ProgramRule[]): MatchProgram {
  const code: unknown[] = [];
  for (const rule of rules) {
    const ruleAt = code.push(0) - 1;
    for (const clause of rule.clauses) {
      const clauseAt = code.push(0) - 1;
      for (const match of clause.matches) {
        const matchAt = code.push(0) - 1;
        for (const check of match.checks) {
          const checkAt = code.push(0) - 1;
          emitCheck(code, check);
          code[checkAt] = code.length;
        }
        code[matchAt] = code.length;
      }
      code[clauseAt] = code.length;
    }
    code[ruleAt] = code.length;
  }
  return code;
}

function emitCheck(code: unknown[], check: ProgramCheck): void {
  const plan = check.plan;
  const negated = check.negated ? 1 : 0;
  if (plan === undefined) {
    code.push(OP_CALL, negated, check);
    return;
  }
  switch (plan.kind) {
    case 'port':
      if (plan.ports.length > MAX_INLINE_PORTS) code.push(OP_PORT_SET, negated, new Set(plan.ports));
      else code.push(OP_PORT, negated, plan.ports.length, ...plan.ports);
      return;
    case 'ip':
      code.push(OP_IP, negated, plan.address === 'source' ? 0 : 1, plan.cidrs.length);
      for (const cidr of plan.cidrs) {
        // Words as signed 32-bit integers: small integers inline in the array, never boxed numbers.
        code.push(cidr.family, ...cidr.words.map((w) => w | 0), ...cidr.masks.map((m) => m | 0));
      }
      return;
    case 'string': {
      const exact = plan.patterns.filter((p) => p.kind === 'exact').map((p) => p.value);
      const others = plan.patterns.filter((p) => p.kind !== 'exact');
      code.push(OP_STRING, negated, plan.subject === 'principal' ? SUBJECT_PRINCIPAL : SUBJECT_NAMESPACE);
      if (exact.length > MAX_INLINE_EXACT) code.push(-1, new Set(exact));
      else code.push(exact.length, ...exact);
      code.push(others.length);
      for (const p of others) {
        code.push(
          p.kind === 'prefix' ? PATTERN_PREFIX : p.kind === 'suffix' ? PATTERN_SUFFIX : PATTERN_PRESENCE,
          p.value,
        );
      }
      return;
    }
  }
}

/** Index of the first rule of the program matching the request, or -1. */
export function runProgram(code: MatchProgram, ctx: EvalContext): number {
  const end = code.length;
  let pc = 0;
  let rule = 0;
  while (pc < end) {
    const ruleEnd = code[pc] as number;
    pc++;
    let ruleMatched = true;
    while (pc < ruleEnd) {
      const clauseEnd = code[pc] as number;
      pc++;
      let clauseMatched = pc === clauseEnd;
      while (pc < clauseEnd) {
        const matchEnd = code[pc] as number;
        pc++;
        let matchPassed = true;
        while (pc < matchEnd) {
          if (!checkPasses(code, pc, ctx)) {
            matchPassed = false;
            break;
          }
          pc = code[pc] as number;
        }
        if (matchPassed) {
          clauseMatched = true;
          break;
        }
        pc = matchEnd;
      }
      if (!clauseMatched) {
        ruleMatched = false;
        break;
      }
      pc = clauseEnd;
    }
    if (ruleMatched) return rule;
    pc = ruleEnd;
    rule++;
  }
  return -1;
}

/** Does the check at `at` pass? Positive checks need a value to match, negative ones need none to. */
function checkPasses(code: MatchProgram, at: number, ctx: EvalContext): boolean {
  const negated = code[at + 2] === 1;
  let found: boolean;
  switch (code[at + 1] as number) {
    case OP_PORT: {
      const port = ctx.port;
      const n = code[at + 3] as number;
      found = false;
      for (let i = at + 4; i < at + 4 + n; i++) {
        if (code[i] === port) {
          found = true;
          break;
        }
      }
      break;
    }
    case OP_PORT_SET:
      found = (code[at + 3] as ReadonlySet<number>).has(ctx.port);
      break;
    case OP_IP:
      found = ipFound(code, at + 4, code[at + 3] === 0 ? ctx.sourceIp : ctx.destinationIp);
      break;
    case OP_STRING:
      found = stringFound(code, at + 3, ctx);
      break;
    default:
      found = (code[at + 3] as ProgramCheck).find(ctx) >= 0;
  }
  return negated ? !found : found;
}

function ipFound(code: MatchProgram, at: number, ip: IpAddress): boolean {
  const family = ip.family;
  const words = ip.words;
  const count = code[at] as number;
  let pc = at + 1;
  for (let c = 0; c < count; c++) {
    const cidrFamily = code[pc] as number;
    const n = cidrFamily === 4 ? 1 : 4;
    if (cidrFamily === family) {
      let inside = true;
      for (let i = 0; i < n; i++) {
        if (((words[i]! ^ (code[pc + 1 + i] as number)) & (code[pc + 1 + n + i] as number)) !== 0) {
          inside = false;
          break;
        }
      }
      if (inside) return true;
    }
    pc += 1 + 2 * n;
  }
  return false;
}

function stringFound(code: MatchProgram, at: number, ctx: EvalContext): boolean {
  const value = code[at] === SUBJECT_PRINCIPAL ? ctx.principal() : ctx.sourceNamespace();
  if (value === undefined) return false;
  let pc = at + 1;
  const exact = code[pc] as number;
  if (exact < 0) {
    if ((code[pc + 1] as ReadonlySet<string>).has(value)) return true;
    pc += 2;
  } else {
    for (let i = 1; i <= exact; i++) if (code[pc + i] === value) return true;
    pc += 1 + exact;
  }
  const others = code[pc] as number;
  pc++;
  for (let i = 0; i < others; i++, pc += 2) {
    const kind = code[pc] as number;
    const pattern = code[pc + 1] as string;
    if (
      kind === PATTERN_PREFIX
        ? value.startsWith(pattern)
        : kind === PATTERN_SUFFIX
          ? value.endsWith(pattern)
          : kind === PATTERN_PRESENCE
            ? value.length > 0
            : false
    ) {
      return true;
    }
  }
  return false;
}
