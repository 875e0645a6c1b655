/**
 * A brand shared by every copy of this package, so {@link isAmeshError}
 * works even when two versions are installed side by side (undici's pattern).
 */
const BRAND: unique symbol = Symbol.for('amesh.error') as never;

/** Options accepted by {@link AmeshError}. */
export interface AmeshErrorOptions {
  /** The error that caused this one; kept on `error.cause`. */
  readonly cause?: unknown;
}

/**
 * Base class of every error an amesh package throws or returns.
 *
 * Match on {@link AmeshError.code}, never on the message: codes are stable
 * across releases (`HBONE_ERR_FLOW_CONTROL`, `IDENTITY_ERR_CSR_INVALID`, ...),
 * messages may be reworded.
 *
 * @example
 * ```ts
 * class CsrError extends AmeshError<'IDENTITY_ERR_CSR_INVALID'> {}
 * try { throw new CsrError('IDENTITY_ERR_CSR_INVALID', 'two URI SANs'); }
 * catch (e) { if (isAmeshError(e, 'IDENTITY_ERR_CSR_INVALID')) console.log(e.code); }
 * ```
 */
export class AmeshError<Code extends string = string> extends Error {
  /** Stable, machine-readable code: `<AREA>_ERR_<WHAT>`. */
  readonly code: Code;
  readonly [BRAND] = true;

  /**
   * @param code - stable code, `<AREA>_ERR_<WHAT>` in upper snake case
   * @param message - what failed, naming the rule that was broken
   * @throws {TypeError} when `code` is not upper snake case with `_ERR_`
   */
  constructor(code: Code, message: string, options: AmeshErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    if (!CODE_FORMAT.test(code)) {
      throw new TypeError(`error code must look like AREA_ERR_WHAT, got ${JSON.stringify(code)}`);
    }
    this.code = code;
    this.name = new.target.name;
  }

  /** A JSON form for logs and admin endpoints: code, message and the cause chain. */
  toJSON(): AmeshErrorJson {
    return describe(this);
  }
}

/** JSON form of an error, as returned by {@link AmeshError.toJSON}. */
export interface AmeshErrorJson {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  readonly cause?: AmeshErrorJson;
}

const CODE_FORMAT = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*$/;
const MAX_CAUSE_DEPTH = 8;

function describe(error: unknown, depth = 0): AmeshErrorJson {
  if (!(error instanceof Error)) {
    return { name: typeof error, message: String(error) };
  }
  const code = (error as { code?: unknown }).code;
  const cause =
    depth < MAX_CAUSE_DEPTH && error.cause !== undefined ? describe(error.cause, depth + 1) : undefined;
  return {
    name: error.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: error.message,
    ...(cause ? { cause } : {}),
  };
}

/**
 * True when `value` is an {@link AmeshError} from any installed copy of this
 * package, and, when `code` is given, carries that code.
 */
export function isAmeshError<Code extends string>(value: unknown, code?: Code): value is AmeshError<Code> {
  if (typeof value !== 'object' || value === null || (value as { [BRAND]?: unknown })[BRAND] !== true) {
    return false;
  }
  return code === undefined || (value as AmeshError).code === code;
}
