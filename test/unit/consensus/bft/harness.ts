/**
 * Test networks of BftEngines over a SimHub (an in-memory network on a VirtualClock) and
 * FakeApps, with a minimal block sync (the engine's onBehind asks that peer for blocks over
 * requestSync) and a wire observer that records every vote so a test can check no honest
 * validator ever signed two for one slot.
 *
 * Nothing here waits on real time: a test moves the network's clock (`advance`), runs it to
 * the next idle point (`idle`: nothing due at the current virtual time, no message left to
 * deliver now), or runs it one callback at a time until a condition holds (`until`,
 * `waitHeads`), with a bound in virtual ms. A run is a function of the test's inputs.
 */
import { expect } from 'vitest';
import { decodeBlock, encodeBlock } from '../../../../protocol/block.js';
import { bytesEqual, toHex, toHexRaw } from '../../../../protocol/hex.js';
import { devValidatorKeyPair, type KeyPair } from '../../../../protocol/keys.js';
import { createLogger, silentLogger, type Logger, type LogLevel } from '../../../../protocol/logger.js';
import { createVerifier } from '../../../../protocol/verify.js';
import {
  NetworkError, type GossipHandler, type GossipTopic, type Network, type PeerInfo, type SyncHandler, type SyncResponse, type Verdict,
} from '../../../../p2p/types.js';
import { VirtualClock } from '../../../../consensus/bft/clock.js';
import { BftEngine } from '../../../../consensus/bft/engine.js';
import {
  decodeCertificate, decodeVote, encodeCertificate, ValidatorSet, verifyCertificate, voteSigningBytes, type Vote,
} from '../../../../consensus/bft/messages.js';
import { DEFAULT_BFT_TIMEOUTS, type BftTimeouts } from '../../../../consensus/bft/types.js';
import { FakeApp, FakeDisk, importBlock, type FakeExecuted } from './fake-app.js';
import { SimHub, type Delivery, type DeliverySchedule, type SimNetwork } from './sim-network.js';

export const CHAIN_ID = 4242;

/** The node's own timeouts and block time: on virtual time a round costs events, not wall time. */
export const TEST_TIMEOUTS: BftTimeouts = { ...DEFAULT_BFT_TIMEOUTS, blockTimeMs: 1_000 };

/** For single-engine tests that must not move on by themselves. */
export const LONG_TIMEOUTS: BftTimeouts = {
  proposeMs: 60_000, proposeDeltaMs: 0, prevoteMs: 60_000, prevoteDeltaMs: 0, precommitMs: 60_000, precommitDeltaMs: 0, maxMs: 60_000, blockTimeMs: 0,
};

/** Where a TestNet's clock starts (a plausible wall-clock time, so block timestamps look like ones). */
export const TESTNET_T0 = 1_700_000_000_000;

export function testLogger(): Logger {
  const level = process.env.BFT_TEST_LOG as LogLevel | undefined;
  return level ? createLogger(level, 'test') : silentLogger;
}

/** The node's default (libsodium where it loads): every implementation accepts the same signatures (test/unit/protocol/verify.test.ts). */
export const verifier = createVerifier();

export function validatorKeys(n: number): KeyPair[] {
  return Array.from({ length: n }, (_, i) => devValidatorKeyPair(i));
}

export function validatorSetOf(keys: readonly KeyPair[]): ValidatorSet {
  return new ValidatorSet(keys.map((k) => ({ publicKey: k.publicKey, address: k.address })));
}

/**
 * Runs the clock one callback at a time until `cond()` holds: the wait for an event. Fails,
 * deterministically, when nothing is left to run or `withinMs` of virtual time pass first.
 */
export async function runUntil(clock: VirtualClock, cond: () => boolean, what: string | (() => string), withinMs = 60_000): Promise<void> {
  const deadline = clock.now() + withinMs;
  await clock.runUntilIdle();
  while (!cond()) {
    const next = clock.nextAt();
    const why = next === null ? 'nothing left to run' : next > deadline ? `not within ${withinMs} virtual ms` : null;
    if (why) throw new Error(`${why} (t=${clock.now()}) waiting for ${typeof what === 'string' ? what : what()}`);
    await clock.step();
  }
}

/** Runs the clock until `p` settles (e.g. an engine's stop(), which waits for the step in flight). */
export async function runUntilSettled<T>(clock: VirtualClock, p: Promise<T>, what: string, withinMs = 60_000): Promise<T> {
  let settled = false;
  const watched = p.finally(() => {
    settled = true;
  });
  await runUntil(clock, () => settled, what, withinMs);
  return watched;
}

export interface TestNode {
  readonly id: string;
  /** Index in the validator set, or -1 for a follower. */
  readonly index: number;
  readonly key: KeyPair | null;
  readonly disk: FakeDisk;
  readonly app: FakeApp;
  network: SimNetwork;
  engine: BftEngine<FakeExecuted>;
  syncing: boolean;
  commits: number;
}

export interface TestNetOptions {
  validators: number;
  followers?: number;
  timeouts?: BftTimeouts;
  /** Lets a test put a misbehaving layer between engine i and its network. */
  wrapNetwork?: (node: TestNode, network: SimNetwork) => Network;
  /** Validators (by index) whose votes may conflict (byzantine in the test): excluded from the equivocation check. */
  byzantine?: readonly number[];
  /** Called after every block an engine commits (the property test traces a run with it). */
  onCommit?: (node: TestNode) => void;
}

export class TestNet {
  readonly clock = new VirtualClock({ start: TESTNET_T0 });
  readonly hub = new SimHub(this.clock);
  readonly keys: KeyPair[];
  readonly validators: ValidatorSet;
  readonly nodes: TestNode[] = [];
  readonly timeouts: BftTimeouts;
  /** Drop filter under the observer: false drops the delivery; null delivers everything. */
  drop: ((from: string, to: string, topic: GossipTopic, data: Uint8Array) => boolean) | null = null;
  /** Fate of each delivery the drop filter let through: virtual delay in ms, or 'drop'; null delivers at once. */
  schedule: DeliverySchedule | null = null;
  /** slot (height/round/type/validator) -> block hashes voted for, as seen on the wire. */
  private readonly observedVotes = new Map<string, Set<string>>();
  /** Engines that stopped because the app refused a block they decided (a bad certificate or block: a bug here). */
  readonly halted: { id: string; error: unknown }[] = [];

  constructor(private readonly opts: TestNetOptions) {
    this.keys = validatorKeys(opts.validators);
    this.validators = validatorSetOf(this.keys);
    this.timeouts = opts.timeouts ?? TEST_TIMEOUTS;
    this.hub.schedule = (d: Delivery) => {
      if (d.topic === 'vote') this.observe(d.data);
      if (this.drop && !this.drop(d.from, d.to, d.topic, d.data)) return 'drop';
      return this.schedule ? this.schedule(d) : 0;
    };
    const total = opts.validators + (opts.followers ?? 0);
    for (let i = 0; i < total; i++) {
      const key = i < opts.validators ? this.keys[i]! : null;
      const disk = new FakeDisk(CHAIN_ID);
      const app = new FakeApp({ chainId: CHAIN_ID, validators: this.validators, disk, verifier, clock: this.clock });
      const node = { id: key ? `v${i}` : `f${i}`, index: key ? i : -1, key, disk, app, syncing: false, commits: 0 } as TestNode;
      this.nodes.push(node);
      this.boot(node);
    }
  }

  private observe(data: Uint8Array): void {
    let v: Vote;
    try {
      v = decodeVote(data);
    } catch {
      return;
    }
    if (v.chainId !== CHAIN_ID || !this.validators.at(v.validatorIndex)) return;
    const slot = `${v.height}/${v.round}/${v.type}/${v.validatorIndex}`;
    let s = this.observedVotes.get(slot);
    if (!s) this.observedVotes.set(slot, (s = new Set()));
    // Only count votes whose signature verifies (the test publishes forged ones too).
    if (!s.has(toHexRaw(v.blockHash)) && verifier.verify(this.validators.at(v.validatorIndex)!.publicKey, voteSigningBytes(v), v.signature)) s.add(toHexRaw(v.blockHash));
  }

  /** (Re)creates the node's network and engine over its disk, as a process start would. */
  private boot(node: TestNode): void {
    const network = this.hub.create(node.id);
    network.onSyncRequest(syncServer(node));
    node.network = network;
    const engineNet = this.opts.wrapNetwork ? this.opts.wrapNetwork(node, network) : network;
    node.engine = new BftEngine<FakeExecuted>({ timeouts: this.timeouts, key: node.key }, {
      app: node.app,
      network: engineNet,
      verifier,
      logger: testLogger().child(node.id),
      clock: this.clock,
      onCommit: () => {
        node.commits++;
        this.opts.onCommit?.(node);
      },
      onBehind: (_height, from) => void this.sync(node, from),
      onFatal: (error) => void this.halted.push({ id: node.id, error }),
    });
  }

  async start(): Promise<void> {
    for (const n of this.nodes) await n.network.start();
    await runUntilSettled(this.clock, Promise.all(this.nodes.map((n) => n.engine.start())), 'the engines to start');
  }

  async stop(): Promise<void> {
    await runUntilSettled(this.clock, Promise.all(this.nodes.map((n) => n.engine.stop())), 'the engines to stop');
    for (const n of this.nodes) await n.network.stop();
  }

  /** Stops node i (engine then network), lets `downMs` of virtual time pass, and starts a fresh engine over the same disk. */
  async restart(i: number, downMs = 0): Promise<void> {
    const node = this.nodes[i]!;
    await runUntilSettled(this.clock, node.engine.stop(), `v${i} to stop`);
    await node.network.stop();
    await this.clock.advance(downMs);
    this.boot(node);
    await node.network.start();
    await runUntilSettled(this.clock, node.engine.start(), `v${i} to start`);
  }

  /** Runs to the idle point: nothing due at the current virtual time, no message left to deliver now. */
  idle(): Promise<void> {
    return this.hub.idle();
  }

  /** Moves virtual time forward by `ms`, running everything that falls due. */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Runs the network one event at a time until `cond()` holds, within `withinMs` of virtual time. */
  until(cond: () => boolean, what: string | (() => string), withinMs = 120_000): Promise<void> {
    return runUntil(this.clock, cond, () => `${typeof what === 'string' ? what : what()}; ${this.describe()}`, withinMs);
  }

  isolate(...indices: number[]): void {
    for (const i of indices) this.hub.isolate(this.nodes[i]!.id);
  }

  heal(...indices: number[]): void {
    for (const i of indices) this.hub.heal(this.nodes[i]!.id);
  }

  head(i: number): bigint {
    return this.nodes[i]!.app.head().height;
  }

  heads(indices: readonly number[] = this.nodes.map((_, i) => i)): bigint[] {
    return indices.map((i) => this.head(i));
  }

  maxHead(): bigint {
    return this.heads().reduce((a, b) => (a > b ? a : b));
  }

  waitHeads(height: bigint, indices: readonly number[] = this.nodes.map((_, i) => i), withinMs = 120_000): Promise<void> {
    return this.until(() => indices.every((i) => this.head(i) >= height), `heads >= ${height}`, withinMs);
  }

  describe(): string {
    return `t=${this.clock.now() - TESTNET_T0} ms: ` + this.nodes.map((n) => {
      const s = n.engine.status();
      return `${n.id}: head ${n.app.head().height} at ${s.height}/${s.round}/${s.step} locked ${s.lockedRound}`;
    }).join('; ');
  }

  /**
   * Every node's chain is a prefix of every longer one: no two nodes committed different blocks
   * at a height. Also no engine halted (one that stopped committing would pass the rest vacuously).
   */
  assertConsistent(): void {
    if (this.halted.length > 0) throw new Error(`${this.halted[0]!.id} halted: ${String(this.halted[0]!.error)}`);
    const chains = this.nodes.map((n) => n.app.chain);
    const longest = chains.reduce((a, b) => (b.length > a.length ? b : a));
    for (const [i, c] of chains.entries()) {
      for (let h = 0; h < c.length; h++) {
        if (!bytesEqual(c[h]!.hash, longest[h]!.hash)) {
          throw new Error(`node ${this.nodes[i]!.id} committed ${toHex(c[h]!.hash)} at height ${h}, another node ${toHex(longest[h]!.hash)}`);
        }
      }
    }
  }

  /** Every certificate on every disk verifies for its block. */
  assertCertificates(): void {
    for (const n of this.nodes) {
      for (let h = 1; h < n.app.chain.length; h++) {
        const b = n.app.chain[h]!;
        const c = n.disk.certificates[h]!;
        expect(verifyCertificate(c, this.validators, verifier, CHAIN_ID, b.header.height, b.hash)).toEqual({ ok: true });
      }
    }
  }

  /** No honest validator's signature is on two different votes for one (height, round, type). */
  assertNoEquivocation(): void {
    const byz = new Set(this.opts.byzantine ?? []);
    for (const [slot, hashes] of this.observedVotes) {
      const validator = Number(slot.split('/')[3]);
      if (!byz.has(validator) && hashes.size > 1) throw new Error(`validator ${validator} signed ${hashes.size} different votes at ${slot}`);
    }
  }

  /** Heights at which validator `index` was seen voting on the wire. */
  votedHeights(index: number): bigint[] {
    const heights = new Set<bigint>();
    for (const slot of this.observedVotes.keys()) {
      const [h, , , v] = slot.split('/');
      if (Number(v) === index) heights.add(BigInt(h!));
    }
    return [...heights];
  }

  get observedSlots(): number {
    return this.observedVotes.size;
  }

  /** A minimal block sync: fetch blocks from the peer that showed us a higher height, then tell the engine. */
  private async sync(node: TestNode, from: string): Promise<void> {
    if (node.syncing) return;
    node.syncing = true;
    try {
      for (let rounds = 0; rounds < 100; rounds++) {
        const res = await node.network.requestSync(from, { from: node.app.head().height + 1n, max: 16 });
        let imported = 0;
        for (const sb of res.blocks) {
          const block = decodeBlock(sb.block);
          if (block.header.height !== node.app.head().height + 1n) continue;
          try {
            await importBlock(node.app, block, decodeCertificate(sb.certificate));
            imported++;
          } catch {
            break; // the engine committed it first
          }
        }
        if (imported > 0) node.engine.onHeadChanged();
        if (res.blocks.length === 0 || res.head <= node.app.head().height) break;
      }
    } catch {
      // unreachable peer: a later onBehind tries again
    } finally {
      node.syncing = false;
    }
  }
}

function syncServer(node: TestNode): SyncHandler {
  return async (req) => {
    const blocks = [];
    for (let h = Number(req.from); h >= 1 && h < node.app.chain.length && blocks.length < req.max; h++) {
      blocks.push({ block: encodeBlock(node.app.chain[h]!), certificate: encodeCertificate(node.disk.certificates[h]!) });
    }
    return { head: node.app.head().height, blocks };
  };
}

/** A Network that records what the engine publishes and lets a test deliver messages and see the verdict. */
export class CaptureNetwork implements Network {
  readonly peerId = 'capture';
  readonly listenAddresses: readonly string[] = [];
  readonly published: { topic: GossipTopic; data: Uint8Array }[] = [];
  private readonly handlers = new Map<GossipTopic, GossipHandler>();

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  onGossip(topic: GossipTopic, handler: GossipHandler): void {
    this.handlers.set(topic, handler);
  }
  async publish(topic: GossipTopic, data: Uint8Array): Promise<void> {
    this.published.push({ topic, data });
  }
  onSyncRequest(): void {}
  async requestSync(): Promise<SyncResponse> {
    throw new NetworkError('NETWORK_UNREACHABLE', 'a capture network has no peers');
  }
  peers(): PeerInfo[] {
    return [];
  }
  penalize(): void {}

  deliver(topic: GossipTopic, data: Uint8Array, from = 'peer'): Promise<Verdict> {
    const h = this.handlers.get(topic);
    if (!h) throw new Error(`no handler for ${topic}`);
    return Promise.resolve(h(data, from));
  }

  votes(): Vote[] {
    return this.published.filter((m) => m.topic === 'vote').map((m) => decodeVote(m.data));
  }
}
