/**
 * node/rpc/params.ts: every parameter type accepts exactly its documented form, checks length
 * and form before converting (BigInt, hex decoding), and fails with INVALID_PARAMS and a
 * bounded message that names the parameter. The method table declares every method's params.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RpcError, RpcCode } from '../../../node/rpc/errors.js';
import { JSON_TOO_DEEP, parseJson } from '../../../node/rpc/json.js';
import { rpcMethods } from '../../../node/rpc/methods/index.js';
import {
  addressType, bindMethods, boolType, enumType, hashType, heightType, intType, methodsOf, optional, optionsType, param, parseParams, rawTxType, stringType,
  subscriptionIdType, u128Type, u64Type, type ParamType,
} from '../../../node/rpc/params.js';
import type { RpcContext } from '../../../node/rpc/server.js';
import { MAX_TX_BYTES } from '../../../protocol/tx.js';

const MAX_MESSAGE = 200;

/** The RpcError `f` throws; fails the test if it returns. */
function rpcErrorOf(f: () => unknown): RpcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RpcError);
    return e as RpcError;
  }
  throw new Error('expected an RpcError, got a value');
}

function expectRejects(type: ParamType<unknown>, v: unknown, code: keyof typeof RpcCode = 'INVALID_PARAMS'): RpcError {
  const e = rpcErrorOf(() => type.parse(v, 'p'));
  expect({ code: e.code, name: e.data.code }).toEqual({ code: RpcCode[code], name: code });
  expect(e.message.startsWith('p '), e.message).toBe(true);
  expect(e.message.length, e.message).toBeLessThan(MAX_MESSAGE);
  return e;
}

/** Values as the server sees them: parsed from JSON text by node/rpc/json.ts. */
const json = (text: string): unknown => parseJson(text);

// Wrong types every parameter type refuses, whatever it is.
const NOT_A_VALUE_OF_ANY_TYPE = [undefined, JSON_TOO_DEEP, json('[[[[1]]]]'), json('{"a":{"b":1}}'), json('1.0e0'), json('9007199254740993')];

afterEach(() => vi.restoreAllMocks());

describe('u64 and u128: strict decimal strings', () => {
  it('accept "0" to the maximum, nothing else', () => {
    expect(u64Type.parse('0', 'p')).toBe(0n);
    expect(u64Type.parse('18446744073709551615', 'p')).toBe(2n ** 64n - 1n);
    expect(u128Type.parse('340282366920938463463374607431768211455', 'p')).toBe(2n ** 128n - 1n);
    for (const bad of ['18446744073709551616', '99999999999999999999', '', '05', '00', '+5', '-5', '-0', '5.0', '5e0', ' 5', '5 ', '0x5', '５', 5, 0, null, true, json('5'), ...NOT_A_VALUE_OF_ANY_TYPE]) {
      expectRejects(u64Type, bad);
    }
    expectRejects(u128Type, '340282366920938463463374607431768211456');
    expectRejects(u128Type, '1' + '0'.repeat(39));
  });

  it('refuse an over-long digit string by its length, before BigInt', () => {
    const spy = vi.spyOn(globalThis, 'BigInt');
    const huge = '9'.repeat(8 * 1024 * 1024);
    const e = expectRejects(u64Type, huge);
    expectRejects(u128Type, huge);
    expectRejects(u64Type, '1'.repeat(21));
    expectRejects(u128Type, '1'.repeat(40));
    expect(spy).not.toHaveBeenCalled();
    expect(e.message).toContain('8388608 characters');
  });
});

describe('heights and integers: JSON integers written plainly', () => {
  it('accept plain integers in range only', () => {
    expect(heightType.parse(json('5'), 'p')).toBe(5);
    expect(heightType.parse(json('0'), 'p')).toBe(0);
    expect(heightType.parse(Number.MAX_SAFE_INTEGER, 'p')).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ['5', '0', null, -1, 1.5, json('1.0e0'), json('5.0'), json('-0'), json('1e2'), json('9007199254740992'), Infinity, NaN, true, ...NOT_A_VALUE_OF_ANY_TYPE]) {
      expectRejects(heightType, bad);
    }
    const count = intType(1, 1000);
    expect(count.parse(1000, 'p')).toBe(1000);
    for (const bad of [0, 1001, '3', json('1.0e0')]) expectRejects(count, bad);
  });
});

describe('hex, addresses, hashes, subscription ids', () => {
  it('check the exact form of fixed-length hex', () => {
    const addr = '0x' + 'aB'.repeat(20);
    expect(addressType.parse(addr, 'p')).toEqual(new Uint8Array(20).fill(0xab));
    expect(hashType.parse('0x' + '01'.repeat(32), 'p')).toEqual(new Uint8Array(32).fill(1));
    expect(subscriptionIdType.parse('0x' + 'ff'.repeat(16), 'p')).toBe('0x' + 'ff'.repeat(16));
    for (const [type, len] of [[addressType, 20], [hashType, 32], [subscriptionIdType, 16]] as const) {
      for (const bad of ['0x' + '1'.repeat(2 * len - 1), '0x' + '1'.repeat(2 * len + 1), '0X' + '11'.repeat(len), '11'.repeat(len + 1), '0x' + 'g1'.repeat(len), ` 0x${'11'.repeat(len)}`, '0x' + '1'.repeat(8 << 20), 5, null]) {
        expectRejects(type, bad);
      }
    }
  });

  it('refuse an over-long raw tx by its length, before decoding, as INVALID_TX_ENCODING', () => {
    const ok = '0x' + '00'.repeat(MAX_TX_BYTES);
    expect(rawTxType.parse(ok, 'rawTx')).toHaveLength(MAX_TX_BYTES);
    const spy = vi.spyOn(Buffer, 'from');
    for (const bytes of [MAX_TX_BYTES + 1, 1 << 20, (1 << 20) + 1, 4 << 20]) {
      const e = rpcErrorOf(() => rawTxType.parse('0x' + 'zz'.repeat(bytes), 'rawTx'));
      expect(e.data.code).toBe('INVALID_TX_ENCODING');
      expect(e.message).toBe(`cannot decode transaction: transaction is ${bytes} bytes, limit ${MAX_TX_BYTES}`);
    }
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    for (const bad of ['0xabc', '0x0g', 'abcd', '', 5, null]) expectRejects(rawTxType, bad);
    expect(rawTxType.parse('0x', 'rawTx')).toHaveLength(0);
  });

  it('bound strings by UTF-8 bytes', () => {
    const s = stringType(5);
    expect(s.parse('ab€', 'p')).toBe('ab€'); // 5 bytes
    expectRejects(s, 'abc€'); // 6 bytes
    expectRejects(s, 'x'.repeat(1 << 20));
  });
});

describe('enums, booleans and option objects', () => {
  it('accept the listed values and fields only, with bounded messages', () => {
    const kind = enumType(['newBlocks', 'tx']);
    expect(kind.parse('tx', 'p')).toBe('tx');
    const e = expectRejects(kind, 'x'.repeat(1 << 20));
    expect(e.message).toContain('1048576 characters');
    for (const bad of ['TX', 'toString', 1, ...NOT_A_VALUE_OF_ANY_TYPE]) expectRejects(kind, bad);
    expect(boolType.parse(false, 'p')).toBe(false);
    for (const bad of ['true', 0, 1, null]) expectRejects(boolType, bad);

    const opts = optionsType({ wait: boolType, timeoutMs: intType(1, 10) });
    expect(opts.parse(json('{}'), 'o')).toEqual({});
    expect(opts.parse(json('{"wait":true,"timeoutMs":3}'), 'o')).toEqual({ wait: true, timeoutMs: 3 });
    for (const bad of [null, [], 'x', json('{"wait":"yes"}'), json('{"timeoutMs":1.0e0}'), json('{"wiat":true}'), json('{"__proto__":{}}'), json(`{"${'k'.repeat(100_000)}":1}`)]) {
      const err = rpcErrorOf(() => opts.parse(bad, 'o'));
      expect(err.code).toBe(RpcCode.INVALID_PARAMS);
      expect(err.message.length, err.message).toBeLessThan(MAX_MESSAGE);
    }
    expect(rpcErrorOf(() => opts.parse(json('{"wait":"yes"}'), 'options')).message).toMatch(/^options\.wait must be true or false/);
  });
});

describe('methods', () => {
  const method = methodsOf<{ tag: string }>();
  const ws: RpcContext = { transport: 'ws' };
  const http: RpcContext = { transport: 'http' };

  it('count parameters, parse each in order, and hand the values and deps to run', async () => {
    const table = {
      m: method([param('a', u64Type), optional('b', boolType)], ([a, b], deps) => ({ a, b, tag: deps.tag })),
      none: method([], () => 'ok'),
      wsOnly: method([param('a', u64Type)], () => 'ws', { transport: 'ws' }),
    };
    const h = bindMethods(table, { tag: 't' });
    expect(await h.m!(['5'], http)).toEqual({ a: 5n, b: undefined, tag: 't' });
    expect(await h.m!(['5', true], http)).toEqual({ a: 5n, b: true, tag: 't' });
    expect(rpcErrorOf(() => h.m!([], http)).message).toBe('expected [a, b?], got 0 parameters');
    expect(rpcErrorOf(() => h.m!(['1', true, 3], http)).message).toBe('expected [a, b?], got 3 parameters');
    expect(rpcErrorOf(() => h.m!(['1', null], http)).message).toMatch(/^b must be true or false; got null/);
    expect(rpcErrorOf(() => h.none!([1], http)).message).toBe('expected no parameters, got 1 parameter');
    // A huge parameter list is refused by its length, not walked.
    expect(rpcErrorOf(() => h.none!(new Array(1_000_000).fill('x'), http)).message).toBe('expected no parameters, got 1000000 parameters');
    // WebSocket-only: NOT_AVAILABLE elsewhere, whatever the parameters.
    expect(rpcErrorOf(() => h.wsOnly!([JSON_TOO_DEEP], http)).data.code).toBe('NOT_AVAILABLE');
    expect(await h.wsOnly!(['1'], ws)).toBe('ws');
    expect(() => method([optional('a', boolType), param('b', boolType)], () => 0)).toThrow(/required parameter cannot follow an optional one/);
    expect(parseParams([param('x', addressType)], ['0x' + '11'.repeat(20)])).toEqual([new Uint8Array(20).fill(0x11)]);
  });

  it('the node declares the params of every method, views included, and marks the WebSocket-only ones', () => {
    const names = Object.keys(rpcMethods).sort();
    for (const m of ['account_get', 'block_get', 'chain_getInfo', 'chain_getSupply', 'chain_subscribe', 'chain_unsubscribe', 'consensus_status', 'dev_mine', 'mempool_status', 'net_peers', 'tx_get', 'tx_getReceipt', 'tx_send', 'token_getBalance', 'nft_getToken', 'dao_getVote', 'fee_getParams']) {
      expect(names).toContain(m);
    }
    expect(rpcMethods.nft_getToken!.params.map((p) => [p.name, p.type.shape.kind])).toEqual([['collection', 'address'], ['tokenId', 'u64']]);
    expect(names.filter((n) => rpcMethods[n]!.transport === 'ws')).toEqual(['chain_subscribe', 'chain_unsubscribe', 'events_subscribe']);
  });
});
