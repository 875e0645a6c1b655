/**
 * The error base shared by every amesh package.
 * @packageDocumentation
 */
export { AmeshError, isAmeshError } from './amesh-error.js';
export type { AmeshErrorJson, AmeshErrorOptions } from './amesh-error.js';
