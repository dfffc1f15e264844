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
