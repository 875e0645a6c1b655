import { deepEqual } from './deep-equal.js';

/** A set of output changes: named resources upserted and names removed. */
export interface ResourceDelta<T> {
  readonly upserted: Map<string, T>;
  readonly removed: Set<string>;
}

/**
 * Named outputs produced by source resources. A name has one owner (the
 * first source that claimed it); when the owner drops it, other claimants
 * must be recomputed (returned by {@link OutputTable.set}). Collects the net
 * delta since the last {@link OutputTable.flush}, comparing values
 * structurally so unchanged outputs are not re-sent.
 */
export class OutputTable<T> {
  readonly current: Map<string, T> = new Map();
  private readonly bySource = new Map<string, ReadonlyMap<string, T>>();
  private readonly owner = new Map<string, string>();
  private readonly claimants = new Map<string, Set<string>>();
  private readonly before = new Map<string, T | undefined>();
  private readonly conflicts = new Map<string, Set<string>>();

  /** Replaces the outputs of `source`; returns other sources to recompute. */
  set(source: string, outputs: ReadonlyMap<string, T>): string[] {
    const recompute: string[] = [];
    const old = this.bySource.get(source);
    if (old) {
      for (const name of old.keys()) {
        if (outputs.has(name)) continue;
        const set = this.claimants.get(name);
        set?.delete(source);
        if (set?.size === 0) this.claimants.delete(name);
        this.conflicts.get(name)?.delete(source);
        if (this.owner.get(name) === source) {
          this.touch(name);
          this.owner.delete(name);
          this.current.delete(name);
          if (set) recompute.push(...set);
        }
      }
    }
    for (const [name, value] of outputs) {
      let set = this.claimants.get(name);
      if (!set) {
        set = new Set();
        this.claimants.set(name, set);
      }
      set.add(source);
      const owner = this.owner.get(name);
      if (owner === undefined || owner === source) {
        this.owner.set(name, source);
        const previous = this.current.get(name);
        if (previous === undefined || !deepEqual(previous, value)) {
          this.touch(name);
          this.current.set(name, value);
        }
      } else {
        let c = this.conflicts.get(name);
        if (!c) {
          c = new Set();
          this.conflicts.set(name, c);
        }
        c.add(source);
      }
    }
    if (outputs.size === 0) this.bySource.delete(source);
    else this.bySource.set(source, outputs);
    return recompute;
  }

  /** Names claimed by more than one source, with the sources that lost. */
  conflicting(): ReadonlyMap<string, ReadonlySet<string>> {
    for (const [name, set] of this.conflicts) if (set.size === 0) this.conflicts.delete(name);
    return this.conflicts;
  }

  /** The net change since the last flush. */
  flush(): ResourceDelta<T> {
    const upserted = new Map<string, T>();
    const removed = new Set<string>();
    for (const [name, previous] of this.before) {
      const now = this.current.get(name);
      if (now === undefined) {
        if (previous !== undefined) removed.add(name);
      } else if (previous === undefined || !deepEqual(previous, now)) {
        upserted.set(name, now);
      }
    }
    this.before.clear();
    return { upserted, removed };
  }

  private touch(name: string): void {
    if (!this.before.has(name)) this.before.set(name, this.current.get(name));
  }
}
