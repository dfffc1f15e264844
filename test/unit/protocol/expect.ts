import { expect } from 'vitest';
import { ProtocolError, type ProtocolErrorCode } from '../../../protocol/errors.js';

/** `fn` throws a ProtocolError with exactly `code`. */
export function expectCode(fn: () => unknown, code: ProtocolErrorCode): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ProtocolError ${code}`).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe(code);
}
