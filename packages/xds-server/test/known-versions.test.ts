import { describe, expect, it } from 'vitest';
import { KnownVersions } from '../src/known-versions.js';

const full = (entries: Array<[string, string]>) => ({
  versions: new Map(entries),
  deltaResources: new Uint8Array(0),
});

describe('what a Delta client holds (shared full state plus its own changes)', () => {
  it('reads through to the shared state, overrides, forgets and counts', () => {
    const shared = full([
      ['a', '1'],
      ['b', '1'],
      ['c', '1'],
    ]);
    const known = new KnownVersions();
    known.set('x', '9');
    known.resetTo(shared);
    expect(known.size).toBe(3);
    expect(known.has('x')).toBe(false);
    expect(known.get('a')).toBe('1');

    known.set('b', '2');
    known.delete('c');
    known.delete('c');
    known.set('d', '1');
    known.delete('missing');
    expect(known.size).toBe(3);
    expect([...known.entries()]).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['d', '1'],
    ]);
    expect([...known.keys()]).toEqual(['a', 'b', 'd']);
    expect(known.has('c')).toBe(false);
    // The shared map itself is never written.
    expect([...shared.versions]).toEqual([
      ['a', '1'],
      ['b', '1'],
      ['c', '1'],
    ]);

    // Back to the shared version, and a forgotten name held again.
    known.set('b', '1');
    known.set('c', '3');
    expect(new Map(known)).toEqual(
      new Map([
        ['a', '1'],
        ['b', '1'],
        ['c', '3'],
        ['d', '1'],
      ]),
    );
    expect(known.size).toBe(4);

    known.clear();
    expect(known.size).toBe(0);
    expect([...known]).toEqual([]);
  });

  it('keeps an empty version apart from "not held"', () => {
    const known = new KnownVersions();
    known.resetTo(full([['a', '']]));
    expect(known.has('a')).toBe(true);
    known.set('b', '');
    expect(known.size).toBe(2);
    known.delete('a');
    expect(known.has('a')).toBe(false);
    expect(known.size).toBe(1);
  });
});
