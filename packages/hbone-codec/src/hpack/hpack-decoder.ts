import { DynamicTable, fieldSize } from './dynamic-table.js';
import { HpackError } from './hpack-error.js';
import { huffmanDecode } from './huffman.js';

/** A header field: name and value, in block order (duplicates kept). */
export type HeaderField = readonly [name: string, value: string];

/** Options of {@link HpackDecoder}. */
export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most the encoder may size its table to (default 4096). */
  readonly maxTableSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we enforce (RFC 9113 §6.5.2); default 65 536. */
  readonly maxHeaderListSize?: number;
}

/** What {@link HpackDecoder.decode} returns. */
export interface DecodedHeaderBlock {
  /** The fields, or an empty list when `oversize` (they were dropped, not kept). */
  readonly headers: HeaderField[];
  /**
   * The decoded list exceeded `maxHeaderListSize`. The block was still fully
   * decoded so the dynamic table stays in sync, but no field was kept: a
   * small block that expands to a huge list (an HPACK bomb) costs no memory.
   */
  readonly oversize: boolean;
}

/**
 * HPACK decoder (RFC 7541) with the dynamic table and Huffman strings.
 * Decoding errors are connection errors (COMPRESSION_ERROR).
 *
 * @example
 * ```ts
 * const decoder = new HpackDecoder();
 * const { headers } = decoder.decode(Buffer.from('82868441', 'hex').subarray(0, 3));
 * ```
 */
export class HpackDecoder {
  readonly #table: DynamicTable;
  readonly #settingsMax: number;
  readonly #maxHeaderListSize: number;
  #failed: HpackError | undefined;

  constructor(options: HpackDecoderOptions = {}) {
    this.#settingsMax = options.maxTableSize ?? 4096;
    this.#maxHeaderListSize = options.maxHeaderListSize ?? 65_536;
    this.#table = new DynamicTable(this.#settingsMax);
  }

  /** Current dynamic table size in bytes (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.#table.size;
  }

  /**
   * Decodes one complete header block.
   * @throws {HpackError} on any malformed representation; the decoder is then unusable (its table is out of sync)
   */
  decode(block: Buffer): DecodedHeaderBlock {
    if (this.#failed) throw this.#failed;
    try {
      return this.#decode(block);
    } catch (error) {
      if (error instanceof HpackError) this.#failed = error;
      throw error;
    }
  }

  #decode(block: Buffer): DecodedHeaderBlock {
    const headers: HeaderField[] = [];
    let listSize = 0;
    let oversize = false;
    let pos = 0;
    let fieldSeen = false;
    const emit = (name: string, value: string): void => {
      listSize += fieldSize(name, value);
      if (listSize > this.#maxHeaderListSize) oversize = true;
      if (!oversize) headers.push([name, value]);
    };
    const readInt = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let value = block[pos++]! & mask;
      if (value < mask) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) throw new HpackError('truncated integer (RFC 7541 §5.1)');
        const b = block[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        // Anything past 2^31 is an attack or garbage: no legal field or index is that big.
        if (value > 0x7fffffff) throw new HpackError('integer exceeds 2^31 (RFC 7541 §5.1)');
        if ((b & 0x80) === 0) return value;
      }
    };
    const readString = (): string => {
      if (pos >= block.length) throw new HpackError('truncated string (RFC 7541 §5.2)');
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = readInt(7);
      if (length > block.length - pos)
        throw new HpackError('string longer than the header block (RFC 7541 §5.2)');
      const raw = block.subarray(pos, pos + length);
      pos += length;
      return (huffman ? huffmanDecode(raw) : raw).toString('latin1');
    };
    const entry = (index: number): { name: string; value: string } => {
      if (index === 0) throw new HpackError('index 0 is not a valid table index (RFC 7541 §6.1)');
      const e = this.#table.get(index);
      if (!e) throw new HpackError(`index ${index} is outside the tables (RFC 7541 §2.3.3)`);
      return e;
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        // Indexed header field (RFC 7541 §6.1).
        const e = entry(readInt(7));
        emit(e.name, e.value);
        fieldSeen = true;
      } else if (b & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = readInt(6);
        const name = index === 0 ? readString() : entry(index).name;
        const value = readString();
        this.#table.add(name, value);
        emit(name, value);
        fieldSeen = true;
      } else if (b & 0x20) {
        // Dynamic table size update (§6.3): only at the start of a block (§4.2), within our setting.
        if (fieldSeen) throw new HpackError('table size update after a header field (RFC 7541 §4.2)');
        const size = readInt(5);
        if (size > this.#settingsMax) {
          throw new HpackError(
            `table size update to ${size} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.#settingsMax}`,
          );
        }
        this.#table.setMaxSize(size);
      } else {
        // Literal without indexing (§6.2.2) or never indexed (§6.2.3).
        const index = readInt(4);
        const name = index === 0 ? readString() : entry(index).name;
        emit(name, readString());
        fieldSeen = true;
      }
    }
    return { headers: oversize ? [] : headers, oversize };
  }
}
