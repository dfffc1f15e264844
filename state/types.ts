/** Synchronous read access to committed state: what executors read through. */
export interface StateReader {
  get(key: string): Uint8Array | undefined;
}

/**
 * The effect of a block on state: every key written, with its final value (null = deleted),
 * sorted by key (ASCII order). Two executors agree iff their write sets are equal entry for
 * entry.
 */
export type WriteSet = readonly (readonly [key: string, value: Uint8Array | null])[];

export function sortWriteSet(entries: Iterable<readonly [string, Uint8Array | null]>): WriteSet {
  const out = [...entries];
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

/** State keys are printable ASCII without spaces, at most 256 bytes. */
export const STATE_KEY_RE = /^[\x21-\x7e]{1,256}$/;
