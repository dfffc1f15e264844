/**
 * Safety under a hostile schedule: random per-delivery drops and delays (seeded), with and
 * without a partition that comes and goes. Whatever happens to liveness, no two nodes may
 * commit different blocks at a height and no honest validator may sign conflicting votes.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { MemoryNetwork } from '../../../../p2p/memory.js';
import type { GossipHandler, GossipTopic, Network } from '../../../../p2p/types.js';
import { TestNet, type TestNode } from './harness.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Delays every delivery to the engine by a random time (the relay waits too, as with a slow validator). */
function delayed(network: MemoryNetwork, rng: () => number, maxDelayMs: number): Network {
  return {
    get peerId() { return network.peerId; },
    get listenAddresses() { return network.listenAddresses; },
    start: () => network.start(),
    stop: () => network.stop(),
    publish: (t, d) => network.publish(t, d),
    onSyncRequest: (h) => network.onSyncRequest(h),
    requestSync: (p, r) => network.requestSync(p, r),
    peers: () => network.peers(),
    penalize: (p, r) => network.penalize(p, r),
    onGossip: (topic: GossipTopic, handler: GossipHandler) =>
      network.onGossip(topic, async (data, from) => {
        await new Promise((r) => setTimeout(r, Math.floor(rng() * maxDelayMs)));
        return handler(data, from);
      }),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('BftEngine safety under random drops, delays and partitions', () => {
  it('no two nodes ever commit different blocks at a height (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 35 }).map((p) => p / 100),
        fc.integer({ min: 0, max: 25 }),
        fc.boolean(),
        async (seed, dropRate, maxDelayMs, partition) => {
          const rng = mulberry32(seed);
          const net = new TestNet({ validators: 4, wrapNetwork: (_n: TestNode, m: MemoryNetwork) => delayed(m, rng, maxDelayMs) });
          net.drop = () => rng() >= dropRate;
          try {
            await net.start();
            const deadline = Date.now() + 1_500;
            let cut = false;
            while (Date.now() < deadline && net.heads().some((h) => h < 5n)) {
              await sleep(100);
              if (partition) {
                // Flip a random 2-2 split on and off.
                if (cut) net.heal(0, 1, 2, 3);
                else net.isolate(...(rng() < 0.5 ? [0, 1] : [1, 2]));
                cut = !cut;
              }
              net.assertConsistent();
            }
          } finally {
            await net.stop();
          }
          net.assertConsistent();
          net.assertNoEquivocation();
        },
      ),
      { numRuns: 12, seed: 20_260_601 },
    );
  });
});
