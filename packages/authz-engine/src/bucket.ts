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
  size = 0;

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
    }
    this.counts[c]!++;
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
    }
    this.counts[c]!--;
    this.size--;
  }

  /** The policies of a category, by key. */
  policies(category: number): readonly CompiledPolicy[] {
    return this.all[category]!;
  }

  /** The lists a request can match, looked up once per decision. */
  view(ctx: EvalContext): BucketView {
    const port = this.byPort?.get(ctx.port);
    let ns: Lists | undefined;
    if (this.byNamespace !== undefined) {
      const key = ctx.namespaceIndexKey();
      if (key !== undefined) ns = this.byNamespace.get(key);
    }
    return new BucketView(this.counts, this.any, port, ns);
  }
}

/** The candidate lists of one bucket for one request. */
export class BucketView {
  constructor(
    /** Number of policies per category that apply (whether or not they can match). */
    readonly counts: Int32Array,
    private readonly any: Lists,
    private readonly port: Lists | undefined,
    private readonly ns: Lists | undefined,
  ) {}

  /** Updates `best` when a policy of the category with a lower key than `best` matches. */
  firstMatch(category: number, ctx: EvalContext, best: Best): void {
    if (this.counts[category] === 0) return;
    scan(this.any[category]!, ctx, best);
    if (this.port !== undefined) scan(this.port[category]!, ctx, best);
    if (this.ns !== undefined) scan(this.ns[category]!, ctx, best);
  }

  /** Appends every matching policy of the category (its first matching rule). */
  allMatches(category: number, ctx: EvalContext, out: RuleHit[]): void {
    if (this.counts[category] === 0) return;
    collect(this.any[category]!, ctx, out);
    if (this.port !== undefined) collect(this.port[category]!, ctx, out);
    if (this.ns !== undefined) collect(this.ns[category]!, ctx, out);
  }
}

/** A view with nothing in it. */
export const EMPTY_VIEW: BucketView = new BucketView(
  new Int32Array(CATEGORIES),
  newLists(),
  undefined,
  undefined,
);

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
    if (rule >= 0) out.push({ policy, ruleIndex: rule });
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
