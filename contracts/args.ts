/**
 * Typed access to a call's arguments (the executor has already checked them against the
 * call's declared types) and a compact way to build events.
 */
import type { Event } from '../protocol/receipt.js';
import type { Value } from '../protocol/value.js';

export const argAddress = (a: readonly Value[], i: number): Uint8Array => a[i]!.value as Uint8Array;
export const argUint = (a: readonly Value[], i: number): bigint => a[i]!.value as bigint;
export const argString = (a: readonly Value[], i: number): string => a[i]!.value as string;

/** An event with fields in the given (insertion) order. */
export function makeEvent(module: string, name: string, fields: Record<string, Value>): Event {
  return { module, name, fields: Object.entries(fields).map(([n, value]) => ({ name: n, value })) };
}
