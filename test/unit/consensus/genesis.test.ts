import { describe, expect, it } from 'vitest';
import { devnetGenesis, genesisEntries, genesisToJson, genesisWriteSet, indexAccountAddress, parseGenesis, type GenesisJson } from '../../../consensus/genesis.js';
import { balanceKey } from '../../../contracts/coin/state.js';
import { decodeU128 } from '../../../protocol/codec.js';

const base = (): GenesisJson => genesisToJson(devnetGenesis(3));

describe('genesis indexAccounts', () => {
  it('round-trips through JSON and derives distinct addresses from the index', () => {
    const j = { ...base(), indexAccounts: { count: 500, balance: '77' } };
    const g = parseGenesis(j);
    expect(g.indexAccounts).toEqual({ count: 500, balance: 77n });
    expect(genesisToJson(g)).toEqual(j);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(Buffer.from(indexAccountAddress(i)).toString('hex'));
    expect(seen.size).toBe(500);
  });

  it('the entry generator and the write set give the same state: index accounts funded, listed entries kept', () => {
    const g = parseGenesis({ ...base(), indexAccounts: { count: 300, balance: '5' } });
    const { count, entry } = genesisEntries(g);
    const plain = genesisWriteSet(parseGenesis(base()));
    expect(count).toBe(300 + plain.length);
    const ws = new Map(genesisWriteSet(g));
    expect(ws.size).toBe(300 + plain.length);
    for (let i = 0; i < 300; i++) expect(decodeU128(ws.get(balanceKey(indexAccountAddress(i))))).toBe(5n);
    for (const [k, v] of plain) expect(Buffer.from(ws.get(k)!).equals(Buffer.from(v!))).toBe(true);
    for (let i = 0; i < count; i++) expect(ws.has(entry(i)[0])).toBe(true);
  });

  it('refuses bad counts, a zero balance and a supply above u128', () => {
    const bad = (ia: unknown): (() => unknown) => () => parseGenesis({ ...base(), indexAccounts: ia as GenesisJson['indexAccounts'] });
    expect(bad({ count: -1, balance: '1' })).toThrow(/indexAccounts.count/);
    expect(bad({ count: 1.5, balance: '1' })).toThrow(/indexAccounts.count/);
    expect(bad({ count: 2_000_000_000, balance: '1' })).toThrow(/indexAccounts.count/);
    expect(bad({ count: 10, balance: '0' })).toThrow(/above 0/);
    expect(bad({ count: 10, balance: 'x' })).toThrow();
    expect(bad(null)).toThrow(/indexAccounts must be an object/);
    expect(bad({ count: 1_000_000, balance: (2n ** 127n).toString() })).toThrow(/exceeds u128/);
  });
});

describe('a big genesis is bulk-loaded', () => {
  it('Chain.open gives the same genesis root as the write-set path, funds the index accounts, and reopens', async () => {
    const { Chain, BULK_GENESIS_MIN } = await import('../../../consensus/chain.js');
    const { ChainStore } = await import('../../../state/store.js');
    const { SequentialExecutor } = await import('../../../execution/sequential.js');
    const { SparseMerkleTree } = await import('../../../state/smt.js');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const g = parseGenesis({ ...base(), indexAccounts: { count: BULK_GENESIS_MIN + 7, balance: '9' } });
    const want = SparseMerkleTree.ofState(genesisWriteSet(g) as [string, Uint8Array][]).root;
    const dir = mkdtempSync(join(tmpdir(), 'pel-bulk-genesis-'));
    try {
      let store = await ChainStore.open({ path: dir });
      let chain = await Chain.open(store, g, new SequentialExecutor());
      expect(Buffer.from(chain.head.header.stateRoot).equals(Buffer.from(want))).toBe(true);
      expect(decodeU128(chain.world.get(balanceKey(indexAccountAddress(BULK_GENESIS_MIN + 6))))).toBe(9n);
      chain.close();
      await store.close();
      store = await ChainStore.open({ path: dir });
      chain = await Chain.open(store, g, new SequentialExecutor());
      expect(chain.height).toBe(0n);
      expect(Buffer.from(chain.world.root).equals(Buffer.from(want))).toBe(true);
      chain.close();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
