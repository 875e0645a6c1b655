import type { CompiledPolicy } from './compiled-policy.js';
import type { RuleHit } from './decision.js';
import type { EvalContext } from './eval-context.js';

/** The best (lowest key) matching policy found so far; mutated to avoid allocation. */
export interface Best {
  policy: CompiledPolicy | undefined;
  rule: number;
}

/** Eight lists sorted by key, one per category (action, plus 4 for dry-run). */
type Lists = CompiledPolicy[][];

const CATEGORIES = 8;

function newLists(): Lists {
  return Array.from({ length: CATEGORIES }, () => []);
}

/**
 * The policies of one scope (mesh-wide or one namespace), by category and
 * indexed: a policy that can only match peers of some source namespaces is
 * listed under those namespaces (the most selective key in a mesh of many
 * namespaces); else one that can only match some destination ports under
 * those ports; else it is scanned for every request. Add and remove touch
 * only the policy's own lists (xDS deltas).
 */
export class Bucket {
  private readonly all: Lists = newLists();
  private readonly any: Lists = newLists();
  private byPort: Map<number, Lists> | undefined;
  private byNamespace: Map<string, Lists> | undefined;
  /** Number of policies per category. */
  readonly counts: Int32Array = new Int32Array(CATEGORIES);
  /** Number of ALLOW, DENY and other (AUDIT, CUSTOM, dry-run) policies, as plain fields for the hot path. */
  allow = 0;
  deny = 0;
  others = 0;
  size = 0;
  /** Number of policies in `any` (bound to no port or namespace): most often none. */
  private anySize = 0;

  add(policy: CompiledPolicy): void {
    const c = policy.category;
    insertSorted(this.all[c]!, policy);
    if (policy.namespaces !== undefined) {
      this.byNamespace ??= new Map();
      for (const key of policy.namespaces) insertSorted(listsOf(this.byNamespace, key)[c]!, policy);
    } else if (policy.ports !== undefined) {
      this.byPort ??= new Map();
      for (const port of policy.ports) insertSorted(listsOf(this.byPort, port)[c]!, policy);
    } else {
      insertSorted(this.any[c]!, policy);
      this.anySize++;
    }
    this.counts[c]!++;
    this.tally(c, 1);
    this.size++;
  }

  remove(policy: CompiledPolicy): void {
    const c = policy.category;
    if (!removeSorted(this.all[c]!, policy)) return;
    if (policy.namespaces !== undefined) {
      for (const key of policy.namespaces) removeFrom(this.byNamespace, key, c, policy);
    } else if (policy.ports !== undefined) {
      for (const port of policy.ports) removeFrom(this.byPort, port, c, policy);
    } else {
      removeSorted(this.any[c]!, policy);
      this.anySize--;
    }
    this.counts[c]!--;
    this.tally(c, -1);
    this.size--;
  }

  private tally(category: number, delta: number): void {
    if (category === 0) this.allow += delta;
    else if (category === 1) this.deny += delta;
    else this.others += delta;
  }

  /** The policies of a category, by key. */
  policies(category: number): readonly CompiledPolicy[] {
    return this.all[category]!;
  }

  /**
   * Points `view` at the lists a request can match (looked up once per
   * decision).
   */
  fill(view: BucketView, ctx: EvalContext): void {
    view.counts = this.counts;
    view.allow = this.allow;
    view.deny = this.deny;
    view.others = this.others;
    // Unindexed lists are only looked at when they hold something: fewer cold reads.
    view.any = this.anySize === 0 ? undefined : this.any;
    view.port = this.byPort === undefined ? undefined : this.byPort.get(ctx.port);
    let ns: Lists | undefined;
    if (this.byNamespace !== undefined) {
      const key = ctx.namespaceIndexKey();
      if (key !== undefined) ns = this.byNamespace.get(key);
    }
    view.ns = ns;
  }
}

const NO_COUNTS = new Int32Array(CATEGORIES);

/**
 * The candidate lists of one bucket for one request. Mutable and reused from
 * one decision to the next, so a decision allocates no view.
 */
export class BucketView {
  /** Number of policies per category that apply (whether or not they can match). */
  counts: Int32Array = NO_COUNTS;
  /** Number of ALLOW, DENY and other policies that apply. */
  allow = 0;
  deny = 0;
  others = 0;
  any: Lists | undefined = undefined;
  port: Lists | undefined = undefined;
  ns: Lists | undefined = undefined;

  /** Makes the view empty (no bucket applies). */
  clear(): void {
    this.counts = NO_COUNTS;
    this.allow = 0;
    this.deny = 0;
    this.others = 0;
    this.any = undefined;
    this.port = undefined;
    this.ns = undefined;
  }

  /** Updates `best` when a policy of the category with a lower key than `best` matches. */
  firstMatch(category: number, ctx: EvalContext, best: Best): void {
    const count = category === 0 ? this.allow : category === 1 ? this.deny : this.counts[category];
    if (count === 0) return;
    if (this.any !== undefined) scan(this.any[category]!, ctx, best);
    if (this.port !== undefined) scan(this.port[category]!, ctx, best);
    if (this.ns !== undefined) scan(this.ns[category]!, ctx, best);
  }

  /** Appends every matching policy of the category (its first matching rule). */
  allMatches(category: number, ctx: EvalContext, out: RuleHit[]): void {
    if (this.counts[category] === 0) return;
    if (this.any !== undefined) collect(this.any[category]!, ctx, out);
    if (this.port !== undefined) collect(this.port[category]!, ctx, out);
    if (this.ns !== undefined) collect(this.ns[category]!, ctx, out);
  }
}

function scan(list: readonly CompiledPolicy[], ctx: EvalContext, best: Best): void {
  const bestKey = best.policy?.key;
  for (let i = 0; i < list.length; i++) {
    const policy = list[i]!;
    if (bestKey !== undefined && policy.key >= bestKey) return;
    const rule = policy.matchRule(ctx);
    if (rule >= 0) {
      best.policy = policy;
      best.rule = rule;
      return;
    }
  }
}

function collect(list: readonly CompiledPolicy[], ctx: EvalContext, out: RuleHit[]): void {
  for (let i = 0; i < list.length; i++) {
    const policy = list[i]!;
    const rule = policy.matchRule(ctx);
    if (rule >= 0) out.push(policy.hit(rule));
  }
}

function listsOf<K>(map: Map<K, Lists>, key: K): Lists {
  let lists = map.get(key);
  if (lists === undefined) {
    lists = newLists();
    map.set(key, lists);
  }
  return lists;
}

function removeFrom<K>(
  map: Map<K, Lists> | undefined,
  key: K,
  category: number,
  policy: CompiledPolicy,
): void {
  const lists = map?.get(key);
  if (lists === undefined) return;
  removeSorted(lists[category]!, policy);
  if (lists.every((l) => l.length === 0)) map!.delete(key);
}

function position(list: readonly CompiledPolicy[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: CompiledPolicy[], policy: CompiledPolicy): void {
  list.splice(position(list, policy.key), 0, policy);
}

function removeSorted(list: CompiledPolicy[], policy: CompiledPolicy): boolean {
  const at = position(list, policy.key);
  if (list[at] !== policy) return false;
  list.splice(at, 1);
  return true;
}
