/**
 * Genesis vectors (test/vectors/genesis.json): for each genesis file, its state root and
 * block 0 hash. The test
 *   - recomputes both from docs/PROTOCOL.md's "Genesis" and "State layout and state root"
 *     sections alone: its own little-endian encoders, its own sparse Merkle tree, its own
 *     header encoding, @noble/hashes for SHA-256, and nothing from pel but the file;
 *   - checks the node's own code (consensus/genesis.ts, Chain.open over a store) gives the
 *     same, so the file cannot drift from the code.
 * Regenerate deliberately with PEL_UPDATE_VECTORS=1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { Chain } from '../../consensus/chain.js';
import { devnetGenesis, genesisToJson, parseGenesis, type GenesisJson } from '../../consensus/genesis.js';
import { DEFAULT_GAS_SCHEDULE } from '../../execution/gas.js';
import { SequentialExecutor } from '../../execution/sequential.js';
import { toHex } from '../../protocol/hex.js';
import { ChainStore } from '../../state/store.js';

interface GenesisCase {
  name: string;
  genesis: GenesisJson;
  stateRoot: string;
  blockHash: string;
}

// ---- an independent reading of docs/PROTOCOL.md ----------------------------------------

const te = new TextEncoder();
const hex = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/^0x/, ''), 'hex'));
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const le = (v: bigint, bytes: number): Uint8Array => {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
};
const nameEnc = (s: string): Uint8Array => cat(Uint8Array.of(te.encode(s).length), te.encode(s));
const addressOf = (publicKey: Uint8Array): Uint8Array => sha256(cat(Uint8Array.of(0), publicKey)).slice(0, 20);

const GAS_FIELDS = ['txBase', 'txPerByte', 'read', 'readPerByte', 'write', 'writePerByte', 'delta', 'event', 'eventPerByte', 'maxTxGas'] as const;

/** The default gas schedule as docs/PROTOCOL.md's "Default gas schedule" tables give it. */
function documentedGasSchedule(): { fields: Record<string, bigint>; calls: Record<string, bigint> } {
  const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Default gas schedule'), doc.indexOf('### Genesis state and block 0'));
  const fields: Record<string, bigint> = {};
  const calls: Record<string, bigint> = {};
  for (const m of section.matchAll(/`([a-zA-Z_.]+)` \| (\d+) \|/g)) (m[1]!.includes('.') ? calls : fields)[m[1]!] = BigInt(m[2]!);
  return { fields, calls };
}

/** The genesis state from the documented rules. */
function docGenesisState(g: GenesisJson, schedule: ReturnType<typeof documentedGasSchedule>): Map<string, Uint8Array> {
  const state = new Map<string, Uint8Array>();
  const f = g.fee;
  state.set('fee/params', cat(le(BigInt(f.minGasPrice), 8), le(BigInt(f.burnBps), 2), le(BigInt(f.proposerBps), 2), le(BigInt(f.treasuryBps), 2), unhex(f.treasury)));
  const gas: Record<string, bigint> = { ...schedule.fields };
  const calls: Record<string, bigint> = { ...schedule.calls };
  for (const [k, v] of Object.entries(g.gas ?? {})) {
    if (k === 'calls') for (const [c, n] of Object.entries(v as Record<string, string>)) calls[c] = BigInt(n);
    else gas[k] = BigInt(v as string);
  }
  const names = Object.keys(calls).sort((a, b) => Buffer.compare(te.encode(a), te.encode(b)));
  state.set('gas/schedule', cat(...GAS_FIELDS.map((k) => le(gas[k]!, 8)), le(BigInt(names.length), 2), ...names.flatMap((n) => [nameEnc(n), le(calls[n]!, 8)])));
  if (g.indexAccounts) {
    for (let i = 0; i < g.indexAccounts.count; i++) {
      const addr = sha256(cat(te.encode('pel index account'), le(BigInt(i), 8))).slice(0, 20);
      state.set(`coin/balance/${Buffer.from(addr).toString('hex')}`, le(BigInt(g.indexAccounts.balance), 16));
    }
  }
  for (const a of g.accounts) if (BigInt(a.balance) > 0n) state.set(`coin/balance/${a.address.slice(2).toLowerCase()}`, le(BigInt(a.balance), 16));
  if (f.admin) state.set('fee/admin', unhex(f.admin));
  return state;
}

/** The state root as docs/PROTOCOL.md defines it, built recursively over the key hashes. */
function docStateRoot(state: Map<string, Uint8Array>): Uint8Array {
  const leaves = [...state].map(([k, v]) => ({ key: sha256(te.encode(k)), value: sha256(v) }));
  const bit = (h: Uint8Array, d: number): number => (h[d >> 3]! >> (7 - (d & 7))) & 1;
  const build = (items: typeof leaves, depth: number): Uint8Array => {
    if (items.length === 0) return new Uint8Array(32);
    if (items.length === 1) return sha256(cat(Uint8Array.of(0), items[0]!.key, items[0]!.value));
    const left = items.filter((i) => bit(i.key, depth) === 0);
    const right = items.filter((i) => bit(i.key, depth) === 1);
    return sha256(cat(Uint8Array.of(1), build(left, depth + 1), build(right, depth + 1)));
  };
  return build(leaves, 0);
}

function docBlock0Hash(g: GenesisJson, stateRoot: Uint8Array): Uint8Array {
  const zero = new Uint8Array(32);
  const header = cat(
    Uint8Array.of(1), le(BigInt(g.chainId), 4), le(0n, 8), zero, le(BigInt(g.timestamp), 8), addressOf(unhex(g.validators[0]!.publicKey)),
    zero, zero, stateRoot, le(0n, 4), le(0n, 8),
  );
  expect(header.length).toBe(181);
  return sha256(header);
}

// ---- the node's code ----------------------------------------------------------------------

async function nodeGenesis(json: GenesisJson): Promise<{ stateRoot: string; blockHash: string }> {
  const store = await ChainStore.open({ inMemory: true });
  try {
    const chain = await Chain.open(store, parseGenesis(json), new SequentialExecutor());
    return { stateRoot: toHex(chain.head.header.stateRoot), blockHash: toHex(chain.head.hash) };
  } finally {
    await store.close();
  }
}

function inputs(): { name: string; genesis: GenesisJson }[] {
  const custom = genesisToJson(devnetGenesis(3, 4242));
  custom.validators.push({ publicKey: '0x' + '11'.repeat(32) });
  custom.accounts.push({ address: '0x' + 'ab'.repeat(20), balance: '0' }, { address: '0x' + '00'.repeat(19) + '01', balance: (2n ** 100n).toString() });
  custom.fee = { ...custom.fee, minGasPrice: '7', burnBps: 0, proposerBps: 2_500, treasuryBps: 7_500, admin: '0x' + 'cd'.repeat(20) };
  custom.gas = { txBase: '2500', maxTxGas: '20000000', calls: { 'token.create': '12345', 'coin.transfer': '1' } };
  const indexed = genesisToJson(devnetGenesis(2));
  indexed.indexAccounts = { count: 1000, balance: '123456789' };
  return [
    { name: 'devnet-10', genesis: genesisToJson(devnetGenesis(10)) },
    { name: 'custom', genesis: custom },
    { name: 'index-accounts', genesis: indexed },
  ];
}

const fileUrl = new URL('./genesis.json', import.meta.url);

describe('genesis vectors', async () => {
  if (process.env.PEL_UPDATE_VECTORS === '1') {
    const cases: GenesisCase[] = [];
    for (const c of inputs()) cases.push({ ...c, ...(await nodeGenesis(c.genesis)) });
    writeFileSync(fileUrl, JSON.stringify({ cases }, null, 2) + '\n');
  }
  const file = JSON.parse(readFileSync(fileUrl, 'utf8')) as { cases: GenesisCase[] };
  const schedule = documentedGasSchedule();

  it('has the cases the docs name', () => {
    expect(file.cases.map((c) => c.name)).toEqual(['devnet-10', 'custom', 'index-accounts']);
  });

  it('documents the default gas schedule the code uses, every field and call', () => {
    const { calls, ...fields } = DEFAULT_GAS_SCHEDULE;
    expect(schedule.fields).toEqual(fields);
    expect(schedule.calls).toEqual(calls);
    expect(Object.keys(schedule.fields)).toEqual(expect.arrayContaining([...GAS_FIELDS]));
  });

  for (const c of file.cases) {
    it(`${c.name}: state root and block 0 hash recomputed from docs/PROTOCOL.md alone`, () => {
      const root = docStateRoot(docGenesisState(c.genesis, schedule));
      expect(hex(root)).toBe(c.stateRoot);
      expect(hex(docBlock0Hash(c.genesis, root))).toBe(c.blockHash);
    });

    it(`${c.name}: the node's genesis gives the same`, async () => {
      expect(await nodeGenesis(c.genesis)).toEqual({ stateRoot: c.stateRoot, blockHash: c.blockHash });
    });
  }

  it('the file holds what the inputs give today', () => {
    expect(file.cases.map((c) => c.genesis)).toEqual(inputs().map((c) => c.genesis));
  });
});
