import { describe, expect, it } from 'vitest';
import { AmeshError, isAmeshError } from '../src/index.js';

class FrameError extends AmeshError<'HBONE_ERR_FRAME_SIZE' | 'HBONE_ERR_PROTOCOL'> {}

describe('AmeshError', () => {
  it('keeps the code, the subclass name and the cause', () => {
    const cause = new RangeError('length 16777216 over 16777215');
    const error = new FrameError('HBONE_ERR_FRAME_SIZE', 'frame too large', { cause });
    expect(error.code).toBe('HBONE_ERR_FRAME_SIZE');
    expect(error.name).toBe('FrameError');
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
  });

  it('rejects codes that do not follow AREA_ERR_WHAT', () => {
    expect(() => new AmeshError('frame too large', 'x')).toThrow(TypeError);
    expect(() => new AmeshError('HBONE_FRAME', 'x')).toThrow(/AREA_ERR_WHAT/);
    expect(() => new AmeshError('HBONE_ERR_', 'x')).toThrow(TypeError);
  });

  it('is recognised by brand, with or without a code', () => {
    const error = new FrameError('HBONE_ERR_PROTOCOL', 'bad preface');
    expect(isAmeshError(error)).toBe(true);
    expect(isAmeshError(error, 'HBONE_ERR_PROTOCOL')).toBe(true);
    expect(isAmeshError(error, 'HBONE_ERR_FRAME_SIZE')).toBe(false);
    expect(isAmeshError(new Error('plain'))).toBe(false);
    expect(isAmeshError({ code: 'HBONE_ERR_PROTOCOL' })).toBe(false);
    expect(isAmeshError(null)).toBe(false);
  });

  it('recognises an error made by another copy of the package (same global brand)', () => {
    const foreign = Object.assign(new Error('from a duplicate install'), {
      code: 'X_ERR_Y',
      [Symbol.for('amesh.error')]: true,
    });
    expect(isAmeshError(foreign, 'X_ERR_Y')).toBe(true);
  });

  it('serialises the cause chain for logs', () => {
    const inner = new FrameError('HBONE_ERR_PROTOCOL', 'inner');
    const outer = new AmeshError('CA_ERR_UPSTREAM', 'outer', { cause: inner });
    expect(JSON.parse(JSON.stringify(outer))).toEqual({
      name: 'AmeshError',
      code: 'CA_ERR_UPSTREAM',
      message: 'outer',
      cause: { name: 'FrameError', code: 'HBONE_ERR_PROTOCOL', message: 'inner' },
    });
  });
});
