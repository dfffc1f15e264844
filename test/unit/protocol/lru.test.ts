import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LruCache } from '../../../protocol/lru.js';

describe('LruCache', () => {
  it('evicts the least recently used entry, not everything, when full', () => {
    const c = new LruCache<string, number>(3);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.get('a')).toBe(1); // a is now the newest; b the oldest
    c.set('d', 4);
    expect(c.size).toBe(3);
    expect(c.has('b')).toBe(false);
    expect([c.get('a'), c.get('c'), c.get('d')]).toEqual([1, 3, 4]);
  });

  it('behaves like a reference LRU over any sequence of gets and sets (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 8 })), { maxLength: 200 }), (cap, ops) => {
        const c = new LruCache<number, number>(cap);
        let ref: [number, number][] = []; // oldest first
        for (const [isSet, k] of ops) {
          const i = ref.findIndex(([rk]) => rk === k);
          if (isSet) {
            if (i >= 0) ref.splice(i, 1);
            else if (ref.length >= cap) ref.shift();
            ref.push([k, k * 10]);
            c.set(k, k * 10);
          } else {
            const want = i >= 0 ? ref[i]![1] : undefined;
            if (i >= 0) ref.push(ref.splice(i, 1)[0]!);
            expect(c.get(k)).toBe(want);
          }
          expect(c.size).toBe(ref.length);
        }
      }),
    );
  });

  it('refuses a capacity below 1', () => {
    expect(() => new LruCache(0)).toThrow(RangeError);
  });
});
