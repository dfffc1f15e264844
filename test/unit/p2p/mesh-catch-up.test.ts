import type { GossipSub } from '@libp2p/gossipsub';
import { describe, expect, it } from 'vitest';
import { catchUpAnnouncements, CATCH_UP_ANNOUNCEMENT_BYTES, MAX_CATCH_UP_ANNOUNCEMENTS, MAX_CATCH_UP_IDS, meshCatchUpInternals } from '../../../p2p/mesh-catch-up.js';
import { MAX_GOSSIP_MESSAGE_BYTES } from '../../../p2p/types.js';

const id = (n: number): Uint8Array => Uint8Array.of(n >> 8, n & 0xff);
const ids = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => id(i));
const num = (x: Uint8Array): number => (x[0]! << 8) | x[1]!;
const shape = (groups: Uint8Array[][]): number[][] => groups.map((g) => g.map(num));

describe('catchUpAnnouncements', () => {
  it('puts small messages in one announcement, and none when there is nothing', () => {
    expect(shape(catchUpAnnouncements(ids(4), () => 116))).toEqual([[0, 1, 2, 3]]);
    expect(catchUpAnnouncements([], () => 116)).toEqual([]);
  });

  it('splits so that each IWANT answer fits one frame; a message over the budget goes alone', () => {
    const sizes = [3_000_000, 1_200_000, 200, MAX_GOSSIP_MESSAGE_BYTES, 10];
    const groups = catchUpAnnouncements(ids(5), (x) => sizes[num(x)]!, CATCH_UP_ANNOUNCEMENT_BYTES, 10);
    expect(shape(groups)).toEqual([[0], [1, 2], [3], [4]]);
    expect(shape(catchUpAnnouncements(ids(2), () => 10 * MAX_GOSSIP_MESSAGE_BYTES))).toEqual([[0], [1]]);
  });

  it('keeps the newest (first) ids when there are more than the peer heeds', () => {
    const big = catchUpAnnouncements(ids(10), () => MAX_GOSSIP_MESSAGE_BYTES);
    expect(shape(big)).toEqual([[0], [1], [2]].slice(0, MAX_CATCH_UP_ANNOUNCEMENTS));
    const many = catchUpAnnouncements(ids(MAX_CATCH_UP_IDS + 50), () => 116);
    expect(many.flat()).toHaveLength(MAX_CATCH_UP_IDS);
    expect(num(many.flat().at(-1)!)).toBe(MAX_CATCH_UP_IDS - 1);
  });
});

describe('meshCatchUpInternals', () => {
  it('names what a gossipsub without the needed internals lacks', () => {
    expect(() => meshCatchUpInternals({ getMeshPeers: () => [] } as unknown as GossipSub)).toThrow(/lacks sendRpc, mcache/);
  });
});
