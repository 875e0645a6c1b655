import type { FullState } from './resource-store.js';

/**
 * What one Delta client holds of a type: name → version. A client that got
 * the full state shares its name → version map (one per store version, not
 * one copy per client); later changes go into a small map of its own, where
 * `null` marks a name the client no longer holds.
 */
export class KnownVersions {
  #base: ReadonlyMap<string, string> | undefined;
  readonly #own = new Map<string, string | null>();
  #size = 0;

  /** How many resources the client holds. */
  get size(): number {
    return this.#size;
  }

  /** Forgets everything, then holds exactly `full` (what a full-state response gave the client). */
  resetTo(full: FullState): void {
    this.#own.clear();
    this.#base = full.versions;
    this.#size = full.versions.size;
  }

  get(name: string): string | undefined {
    const own = this.#own.get(name);
    if (own !== undefined) return own ?? undefined;
    return this.#base?.get(name);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, version: string): void {
    if (!this.has(name)) this.#size++;
    if (this.#base?.get(name) === version) this.#own.delete(name);
    else this.#own.set(name, version);
  }

  delete(name: string): void {
    if (!this.has(name)) return;
    this.#size--;
    if (this.#base?.has(name)) this.#own.set(name, null);
    else this.#own.delete(name);
  }

  clear(): void {
    this.#base = undefined;
    this.#own.clear();
    this.#size = 0;
  }

  /** Every name the client holds. */
  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  /** Every name with its version. */
  *entries(): IterableIterator<[string, string]> {
    if (this.#base !== undefined) {
      for (const [name, version] of this.#base) {
        const own = this.#own.get(name);
        if (own === undefined) yield [name, version];
        else if (own !== null) yield [name, own];
      }
    }
    for (const [name, version] of this.#own) {
      if (version !== null && !this.#base?.has(name)) yield [name, version];
    }
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}
