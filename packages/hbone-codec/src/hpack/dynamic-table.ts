import { STATIC_TABLE } from './static-table.js';

/** Per-entry overhead counted in the table size (RFC 7541 §4.1). */
export const ENTRY_OVERHEAD = 32;

/** Size of a header field as counted by HPACK and SETTINGS_MAX_HEADER_LIST_SIZE (RFC 7541 §4.1). */
export function fieldSize(name: string, value: string): number {
  return Buffer.byteLength(name) + Buffer.byteLength(value) + ENTRY_OVERHEAD;
}

interface Entry {
  readonly name: string;
  readonly value: string;
  readonly size: number;
}

/**
 * The HPACK dynamic table (RFC 7541 §2.3.2, §4): newest entry first,
 * evicting the oldest to stay within the maximum size.
 */
export class DynamicTable {
  #entries: Entry[] = []; // oldest first, newest last
  #size = 0;
  #maxSize: number;

  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  get size(): number {
    return this.#size;
  }

  get maxSize(): number {
    return this.#maxSize;
  }

  get length(): number {
    return this.#entries.length;
  }

  setMaxSize(maxSize: number): void {
    this.#maxSize = maxSize;
    this.#evict(0);
  }

  /** Adds an entry; one larger than the table empties it (RFC 7541 §4.4). */
  add(name: string, value: string): void {
    const size = fieldSize(name, value);
    this.#evict(size);
    if (size <= this.#maxSize) {
      this.#entries.push({ name, value, size });
      this.#size += size;
    }
  }

  /** Entry at HPACK index (static 1..61, then dynamic), or undefined. */
  get(index: number): Entry | undefined {
    if (index >= 1 && index <= STATIC_TABLE.length) {
      const [name, value] = STATIC_TABLE[index - 1]!;
      return { name, value, size: 0 };
    }
    const d = index - STATIC_TABLE.length;
    if (d < 1 || d > this.#entries.length) return undefined;
    return this.#entries[this.#entries.length - d];
  }

  /** Finds a dynamic entry: its HPACK index and whether the value matched too. */
  find(name: string, value: string): { index: number; exact: boolean } | undefined {
    let nameIndex = 0;
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      if (e.name !== name) continue;
      const index = STATIC_TABLE.length + this.#entries.length - i;
      if (e.value === value) return { index, exact: true };
      if (nameIndex === 0) nameIndex = index;
    }
    return nameIndex === 0 ? undefined : { index: nameIndex, exact: false };
  }

  #evict(incoming: number): void {
    let drop = 0;
    while (this.#size + incoming > this.#maxSize && drop < this.#entries.length) {
      this.#size -= this.#entries[drop]!.size;
      drop++;
    }
    if (drop > 0) this.#entries.splice(0, drop);
  }
}
