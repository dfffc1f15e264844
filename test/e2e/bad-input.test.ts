/**
 * Every bad input gets a clear JSON-RPC error (numeric code AND the stable `data.code`
 * string) and the node keeps serving: after each test `chain_getInfo` still answers.
 * One node for the file, small limits, manual mining so the mempool is under test control.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildTransfer, devKeyPair, formatAddress, generateKeyPair, PelClient, PelRpcError, type KeyPair } from '../../sdk/index.js';
import { postRaw, startNode, useE2eCleanup, waitFor, WsClient, type RunningNode } from './harness.js';

vi.setConfig({ testTimeout: 30_000, hookTimeout: 30_000 });
useE2eCleanup();

const MAX_BODY = 2048;
const MAX_BATCH = 4;
const MEMPOOL_MAX = 5;
const PER_SENDER = 3;

let node: RunningNode;
let client: PelClient;
let chainId: number;

beforeAll(async () => {
  node = await startNode({
    args: [
      '--mining', 'manual', '--mempool-max', String(MEMPOOL_MAX), '--mempool-max-per-sender', String(PER_SENDER),
      '--rpc-max-body', String(MAX_BODY), '--rpc-max-batch', String(MAX_BATCH),
    ],
  });
  client = new PelClient(node.url);
  chainId = (await client.getInfo()).chainId;
});

afterAll(async () => {
  expect(await node.stop('SIGINT')).toBe(0);
});

// Start each test with an empty mempool (every pending tx is ready: no test leaves a gap).
beforeEach(async () => {
  await client.mine();
  expect(await client.request('mempool_status')).toMatchObject({ total: 0 });
});

// The node keeps serving after every bad input.
afterEach(async () => {
  const info = await client.getInfo();
  expect(info.chainId).toBe(chainId);
  expect(node.proc.exitCode).toBeNull();
});

interface ErrorResponse {
  jsonrpc: string;
  id: unknown;
  error: { code: number; message: string; data: { code: string; [k: string]: unknown } };
}

function expectErrorResponse(json: unknown, code: number, name: string, id: unknown = null): ErrorResponse['error'] {
  const r = json as ErrorResponse;
  expect(r, JSON.stringify(json)).toMatchObject({ jsonrpc: '2.0', id, error: { code, data: { code: name } } });
  expect(r.error.message.length).toBeGreaterThan(5);
  expect((r as unknown as Record<string, unknown>).result).toBeUndefined();
  return r.error;
}

async function rpcError(p: Promise<unknown>, code: number, name: string): Promise<PelRpcError> {
  const e = await p.then(
    (v) => {
      throw new Error(`expected RPC error ${name}, got result ${JSON.stringify(v)}`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PelRpcError);
  const err = e as PelRpcError;
  expect({ code: err.code, reason: err.reason, message: err.message }).toMatchObject({ code, reason: name });
  expect(err.message.length).toBeGreaterThan(5);
  return err;
}

const hex = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');

async function nonceOf(k: KeyPair): Promise<bigint> {
  return BigInt((await client.getAccount(k.address)).nonce);
}

async function transfer(o: { from?: KeyPair; nonce?: bigint; amount?: bigint; gasLimit?: bigint; gasPrice?: bigint; expiry?: bigint; chainId?: number } = {}) {
  const key = o.from ?? devKeyPair(0);
  const height = BigInt((await client.getInfo()).height);
  return buildTransfer({
    chainId: o.chainId ?? chainId, key, nonce: o.nonce ?? (await nonceOf(key)), to: generateKeyPair().address, amount: o.amount ?? 10n,
    expiry: o.expiry ?? height + 1000n, gasLimit: o.gasLimit, gasPrice: o.gasPrice,
  });
}

describe('JSON-RPC framing', () => {
  it('malformed JSON: -32700 PARSE_ERROR with id null', async () => {
    const r = await postRaw(node.url, '{"jsonrpc":"2.0","id":1,"method":"chain_getInfo",');
    expect(r.status).toBe(200);
    expectErrorResponse(r.json, -32700, 'PARSE_ERROR');
    const bad = await postRaw(node.url, Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]));
    expectErrorResponse(bad.json, -32700, 'PARSE_ERROR');
  });

  it('empty batch and invalid request objects: -32600 INVALID_REQUEST', async () => {
    const r = await postRaw(node.url, '[]');
    expect(r.status).toBe(200);
    expectErrorResponse(r.json, -32600, 'INVALID_REQUEST');
    expectErrorResponse((await postRaw(node.url, '{"jsonrpc":"1.0","id":7,"method":"chain_getInfo"}')).json, -32600, 'INVALID_REQUEST', 7);
    expectErrorResponse((await postRaw(node.url, '{"jsonrpc":"2.0","id":8,"method":42}')).json, -32600, 'INVALID_REQUEST', 8);
    // In a batch, each invalid entry gets its own error; the valid one still answers.
    const batch = await postRaw(node.url, JSON.stringify([1, { jsonrpc: '2.0', id: 9, method: 'chain_getInfo' }]));
    const [a, b] = batch.json as [ErrorResponse, { id: number; result: { chainId: number } }];
    expectErrorResponse(a, -32600, 'INVALID_REQUEST');
    expect(b).toMatchObject({ id: 9, result: { chainId } });
  });

  it('unknown method: -32601 METHOD_NOT_FOUND', async () => {
    const r = await postRaw(node.url, JSON.stringify({ jsonrpc: '2.0', id: 'abc', method: 'eth_blockNumber', params: [] }));
    const err = expectErrorResponse(r.json, -32601, 'METHOD_NOT_FOUND', 'abc');
    expect(err.data.method).toBe('eth_blockNumber');
    // WebSocket-only methods over HTTP: NOT_AVAILABLE, whatever the parameters.
    await rpcError(client.request('chain_unsubscribe', ['0x01']), -32040, 'NOT_AVAILABLE');
    await rpcError(client.request('chain_unsubscribe', ['0x' + '00'.repeat(16)]), -32040, 'NOT_AVAILABLE');
    await rpcError(client.request('chain_subscribe', ['newBlocks']), -32040, 'NOT_AVAILABLE');
  });

  it('wrong params: -32602 INVALID_PARAMS (missing, wrong type, bad address, bad hash, ...)', async () => {
    const cases: [string, unknown[]][] = [
      ['account_get', []], // missing
      ['account_get', [42]], // wrong type
      ['account_get', ['0x1234']], // bad address: too short
      ['account_get', ['0x' + 'zz'.repeat(20)]], // bad address: not hex
      ['account_get', ['0x' + '11'.repeat(20), 'extra']], // too many
      ['tx_get', ['0x1234']], // bad hash
      ['tx_getReceipt', [42]], // hash of the wrong type
      ['tx_send', []],
      ['tx_send', ['not hex']],
      ['tx_send', ['0xabc']], // odd-length hex
      ['tx_send', ['0x00', { wait: 'yes' }]],
      ['block_get', [-1]],
      ['block_get', ['0x1234']],
      ['block_get', [1, { txs: 'all' }]],
      ['dev_mine', ['three']],
      ['dev_mine', [0]],
      ['chain_getInfo', [1]],
    ];
    for (const [method, params] of cases) {
      const err = await rpcError(client.request(method, params), -32602, 'INVALID_PARAMS');
      expect(err.message, `${method} ${JSON.stringify(params)}`).not.toBe('');
    }
    // params neither an array nor an object: the request itself is invalid (-32600), answered even without an id
    const r = await postRaw(node.url, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'account_get', params: 'x' }));
    expectErrorResponse(r.json, -32600, 'INVALID_REQUEST', 3);
    expectErrorResponse((await postRaw(node.url, JSON.stringify({ jsonrpc: '2.0', method: 'account_get', params: 'bar' }))).json, -32600, 'INVALID_REQUEST');
  });

  it('parameters in their documented form only: heights JSON integers, u64/u128 decimal strings, no null', async () => {
    const addr = '0x' + '11'.repeat(20);
    const cases: [string, unknown[]][] = [
      ['block_get', ['5']], // a height is a JSON integer
      ['block_get', ['0']],
      ['block_get', [null]],
      ['block_get', [0, null]],
      ['block_get', [0, { txs: 'full', extra: true }]], // unknown option
      ['block_get', ['LATEST']],
      ['nft_getToken', [addr, 1]], // a u64 is a decimal string
      ['nft_getToken', [addr, '01']],
      ['nft_getToken', [addr, '+1']],
      ['nft_getToken', [addr, '18446744073709551616']],
      ['nft_getToken', [addr, '1'.repeat(1000)]],
      ['tx_send', ['0x00', null]],
      ['tx_send', ['0x00', { wait: true, timeoutMs: 0 }]],
      ['account_get', [null]],
    ];
    for (const [method, params] of cases) {
      const err = await rpcError(client.request(method, params), -32602, 'INVALID_PARAMS');
      expect(err.message.length, `${method} ${JSON.stringify(params)}`).toBeLessThan(200);
    }
    // Numbers that are not plain integers, written as the client sent them (1.0e0 === 1 for JSON.parse).
    for (const [method, params] of [['block_get', '[1.0e0]'], ['block_get', '[1.0]'], ['block_get', '[-0]'], ['dev_mine', '[1e0]'], ['block_get', '[9007199254740993]']]) {
      const r = await postRaw(node.url, `{"jsonrpc":"2.0","id":1,"method":"${method}","params":${params}}`);
      expectErrorResponse(r.json, -32602, 'INVALID_PARAMS', 1);
    }
    // The documented forms still answer.
    expect(await client.request('block_get', [0])).toMatchObject({ header: { height: 0 } });
    expect(await client.request('block_get', ['latest', { txs: 'none', receipts: false }])).toMatchObject({ hash: expect.any(String) });
    const genesis = (await client.getBlock(0))!;
    expect(await client.request('block_get', [genesis.hash])).toMatchObject({ hash: genesis.hash });
    expect(await client.request('block_get', [])).toMatchObject({ hash: expect.any(String) });
    expect(await client.request('nft_getToken', [addr, '1'])).toBeNull();
    expect(await client.request('nft_getToken', [addr, '18446744073709551615'])).toBeNull();
  });

  it('oversized body: HTTP 413 REQUEST_TOO_LARGE (declared length and chunked)', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_send', params: ['0x' + '00'.repeat(MAX_BODY)] });
    const r = await postRaw(node.url, big);
    expect(r.status).toBe(413);
    const err = expectErrorResponse(r.json, -32031, 'REQUEST_TOO_LARGE');
    expect(err.data.limit).toBe(MAX_BODY);

    // No Content-Length: the limit is enforced while reading the stream.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(node.url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(big);
    });
    expect(chunked.status).toBe(413);
    expectErrorResponse(JSON.parse(chunked.body), -32031, 'REQUEST_TOO_LARGE');

    // A body just under the limit is fine.
    const ok = await postRaw(node.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_getInfo', pad: 'x'.repeat(MAX_BODY - 100) }));
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ id: 1, result: { chainId } });
  });

  it('batch too large: -32032 BATCH_TOO_LARGE; a batch at the limit is answered', async () => {
    const calls = Array.from({ length: MAX_BATCH + 1 }, () => ({ method: 'chain_getInfo' }));
    const err = await rpcError(client.batch(calls), -32032, 'BATCH_TOO_LARGE');
    expect(err.data?.limit).toBe(MAX_BATCH);
    const ok = await client.batch(calls.slice(0, MAX_BATCH));
    expect(ok.every((r) => r.ok)).toBe(true);
  });

  it('WebSocket: malformed JSON is answered, an oversized message closes only that connection', async () => {
    const ws = await WsClient.connect(node.wsUrl);
    try {
      ws.ws.send('{"jsonrpc":');
      const m = await ws.next((x) => x.error !== undefined, 5_000, 'parse error');
      expectErrorResponse(m, -32700, 'PARSE_ERROR');
      const info = await ws.call('chain_getInfo');
      expect(info.result).toMatchObject({ chainId });
      expect((await ws.call('chain_subscribe', ['blocks'])).error).toMatchObject({ code: -32602, data: { code: 'INVALID_PARAMS' } });
      const closed = new Promise<number>((r) => ws.ws.once('close', (code) => r(code)));
      ws.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'chain_getInfo', pad: 'x'.repeat(MAX_BODY * 2) }));
      expect(await closed).toBe(1009);
    } finally {
      await ws.close();
    }
  });
});

describe('transaction admission', () => {
  it('garbage raw tx: -32001 INVALID_TX_ENCODING', async () => {
    await rpcError(client.request('tx_send', ['0xdeadbeef']), -32001, 'INVALID_TX_ENCODING');
    const tx = await transfer();
    await rpcError(client.request('tx_send', [hex(tx.raw.subarray(0, tx.raw.length - 1))]), -32001, 'INVALID_TX_ENCODING'); // truncated
    await rpcError(client.request('tx_send', [hex(Uint8Array.from([...tx.raw, 0]))]), -32001, 'INVALID_TX_ENCODING'); // trailing byte
    const v2 = tx.raw.slice();
    v2[0] = 2; // unknown version
    await rpcError(client.request('tx_send', [hex(v2)]), -32001, 'INVALID_TX_ENCODING');
  });

  it('bad signature (one bit flipped): -32002 BAD_SIGNATURE', async () => {
    const tx = await transfer();
    for (const at of [tx.raw.length - 64, tx.raw.length - 33, tx.raw.length - 1]) {
      const raw = tx.raw.slice();
      raw[at]! ^= 0x01;
      const err = await rpcError(client.sendRawTx(raw), -32002, 'BAD_SIGNATURE');
      expect(err.data?.hash).toMatch(/^0x[0-9a-f]{64}$/);
    }
    // A body bit flipped (the amount) breaks the signature too.
    const raw = tx.raw.slice();
    raw[tx.raw.length - 65]! ^= 0x01;
    await rpcError(client.sendRawTx(raw), -32002, 'BAD_SIGNATURE');
    expect(await client.request('mempool_status')).toMatchObject({ total: 0 });
  });

  it('wrong chain id: -32003 WRONG_CHAIN_ID', async () => {
    await rpcError(client.sendRawTx((await transfer({ chainId: chainId + 1 })).raw), -32003, 'WRONG_CHAIN_ID');
  });

  it('stale nonce and replay of a committed tx: -32004 NONCE_TOO_LOW; resending a pending tx is idempotent', async () => {
    const key = devKeyPair(1);
    const first = await transfer({ from: key });
    const { hash } = await client.sendRawTx(first.raw);
    expect(await client.sendRawTx(first.raw)).toEqual({ hash }); // still pending: duplicate, no error
    await client.mine();
    expect(await client.getReceipt(hash)).toMatchObject({ status: 'success' });
    const err = await rpcError(client.sendRawTx(first.raw), -32004, 'NONCE_TOO_LOW'); // replay
    expect(err.data?.hash).toBe(hash);
    await rpcError(client.sendRawTx((await transfer({ from: key, nonce: first.nonce, amount: 999n })).raw), -32004, 'NONCE_TOO_LOW'); // stale
    expect(await nonceOf(key)).toBe(first.nonce + 1n);
  });

  it('nonce too far ahead: -32012 NONCE_TOO_HIGH', async () => {
    const key = devKeyPair(2);
    const n = await nonceOf(key);
    await rpcError(client.sendRawTx((await transfer({ from: key, nonce: n + BigInt(PER_SENDER) })).raw), -32012, 'NONCE_TOO_HIGH');
    await rpcError(client.sendRawTx((await transfer({ from: key, nonce: n + 1_000_000n })).raw), -32012, 'NONCE_TOO_HIGH');
    // Just inside the window is accepted (queued behind the gap); remove it again by filling the gap and mining.
    await client.sendRawTx((await transfer({ from: key, nonce: n + BigInt(PER_SENDER) - 1n })).raw);
    expect(await client.request('mempool_status')).toMatchObject({ pending: 0, queued: 1 });
    for (let i = 0n; i < BigInt(PER_SENDER) - 1n; i++) await client.sendRawTx((await transfer({ from: key, nonce: n + i })).raw);
    await client.mine();
    expect(await nonceOf(key)).toBe(n + BigInt(PER_SENDER));
  });

  it('balance too low for the fee: -32005 INSUFFICIENT_BALANCE_FOR_FEE', async () => {
    const poor = generateKeyPair();
    await rpcError(client.sendRawTx((await transfer({ from: poor, nonce: 0n })).raw), -32005, 'INSUFFICIENT_BALANCE_FOR_FEE');
    // Funded, but below gasLimit x gasPrice.
    const fund = await client.sendRawTx(buildTransfer({ chainId, key: devKeyPair(3), nonce: await nonceOf(devKeyPair(3)), to: poor.address, amount: 1000n, expiry: 1_000_000n }).raw);
    await client.mine();
    expect(await client.getReceipt(fund.hash)).toMatchObject({ status: 'success' });
    const err = await rpcError(client.sendRawTx((await transfer({ from: poor, nonce: 0n, amount: 1n })).raw), -32005, 'INSUFFICIENT_BALANCE_FOR_FEE');
    expect(err.message).toContain('1000');
    expect(await client.getAccount(poor.address)).toEqual({ address: formatAddress(poor.address), balance: '1000', nonce: '0' });
  });

  it('gas price below the minimum: -32011 GAS_PRICE_TOO_LOW', async () => {
    await rpcError(client.sendRawTx((await transfer({ gasPrice: 0n })).raw), -32011, 'GAS_PRICE_TOO_LOW');
  });

  it('gas limit below intrinsic gas: -32010 GAS_LIMIT_TOO_LOW; above the maximum: -32013 GAS_LIMIT_TOO_HIGH', async () => {
    await rpcError(client.sendRawTx((await transfer({ gasLimit: 100n })).raw), -32010, 'GAS_LIMIT_TOO_LOW');
    await rpcError(client.sendRawTx((await transfer({ gasLimit: 10_000_001n })).raw), -32013, 'GAS_LIMIT_TOO_HIGH');
  });

  it('expired (expiry below the next height): -32006 TX_EXPIRED', async () => {
    const height = BigInt((await client.getInfo()).height);
    await rpcError(client.sendRawTx((await transfer({ expiry: height })).raw), -32006, 'TX_EXPIRED');
    await rpcError(client.sendRawTx((await transfer({ expiry: 0n })).raw), -32006, 'TX_EXPIRED');
    // expiry == next height is still valid
    const ok = await client.sendRawTx((await transfer({ expiry: height + 1n })).raw);
    await client.mine();
    expect(await client.getReceipt(ok.hash)).toMatchObject({ status: 'success', blockHeight: Number(height) + 1 });
  });

  it('replacement underpriced: -32009 REPLACEMENT_UNDERPRICED; a 10% higher gas price replaces', async () => {
    const key = devKeyPair(4);
    const n = await nonceOf(key);
    const a = await client.sendRawTx((await transfer({ from: key, nonce: n, gasPrice: 10n })).raw);
    await rpcError(client.sendRawTx((await transfer({ from: key, nonce: n, gasPrice: 10n, amount: 11n })).raw), -32009, 'REPLACEMENT_UNDERPRICED');
    await rpcError(client.sendRawTx((await transfer({ from: key, nonce: n, gasPrice: 9n, amount: 12n })).raw), -32009, 'REPLACEMENT_UNDERPRICED');
    const b = await client.sendRawTx((await transfer({ from: key, nonce: n, gasPrice: 11n, amount: 13n })).raw);
    expect(await client.request('mempool_status')).toMatchObject({ total: 1 });
    await client.mine();
    expect(await client.getReceipt(b.hash)).toMatchObject({ status: 'success' });
    expect(await client.getReceipt(a.hash)).toBeNull();
  });

  it(`mempool full (-32007 MEMPOOL_FULL) and the per-sender cap of ${PER_SENDER}`, async () => {
    const [s1, s2, s3] = [devKeyPair(5), devKeyPair(6), devKeyPair(7)];
    const n1 = await nonceOf(s1);
    const accepted: string[] = [];
    for (let i = 0n; i < BigInt(PER_SENDER); i++) accepted.push((await client.sendRawTx((await transfer({ from: s1, nonce: n1 + i })).raw)).hash);
    // A full sender queue is refused as such, before the nonce window is looked at.
    const capped = await rpcError(client.sendRawTx((await transfer({ from: s1, nonce: n1 + BigInt(PER_SENDER) })).raw), -32008, 'SENDER_LIMIT_REACHED');
    expect(capped.message).toContain(`limit ${PER_SENDER}`);
    const n2 = await nonceOf(s2);
    for (let i = 0n; i < BigInt(MEMPOOL_MAX - PER_SENDER); i++) accepted.push((await client.sendRawTx((await transfer({ from: s2, nonce: n2 + i })).raw)).hash);
    expect(await client.request('mempool_status')).toMatchObject({ total: MEMPOOL_MAX, pending: MEMPOOL_MAX, capacity: MEMPOOL_MAX });

    const late = await transfer({ from: s3 });
    await rpcError(client.sendRawTx(late.raw), -32007, 'MEMPOOL_FULL');
    // Nothing already accepted was evicted; after a block there is room again.
    expect(await client.request('mempool_status')).toMatchObject({ total: MEMPOOL_MAX });
    await client.mine();
    for (const h of accepted) expect(await client.getReceipt(h)).toMatchObject({ status: 'success' });
    const again = await client.sendRawTx(late.raw);
    await client.mine();
    expect(await client.getReceipt(again.hash)).toMatchObject({ status: 'success' });
  });

  // Regression: a waited-for tx that the mempool drops (expired behind a nonce gap) used to be
  // answered with an error that had no numeric code.
  it('tx_send {wait} on a tx dropped from the mempool: an error with a numeric code', async () => {
    const key = devKeyPair(8);
    const height = BigInt((await client.getInfo()).height);
    const gapped = await transfer({ from: key, nonce: (await nonceOf(key)) + 1n, expiry: height + 1n });
    const waiting = postRaw(node.url, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tx_send', params: [hex(gapped.raw), { wait: true, timeoutMs: 10_000 }] }));
    await waitFor(async () => (await client.getTx(hex(gapped.hash)))?.status === 'pending', { what: 'queued tx' });
    await client.mine(); // the tx is not ready, so the block skips it and it expires
    const r = await waiting;
    expect(await client.getTx(hex(gapped.hash))).toMatchObject({ status: 'dropped' });
    expect(r.json).toMatchObject({ id: 5, error: { code: -32006, data: { code: 'TX_EXPIRED' } } });
  });

  // Regression: a tx replaced by a higher-priced one used to be forgotten (tx_get null, waiters
  // timed out, journal entry left behind).
  it('a replaced tx is reported as dropped, and its waiters are told', async () => {
    const key = devKeyPair(9);
    const n = await nonceOf(key);
    const old = await transfer({ from: key, nonce: n, gasPrice: 10n });
    await client.sendRawTx(old.raw);
    const waiting = postRaw(node.url, JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tx_send', params: [hex(old.raw), { wait: true, timeoutMs: 1_500 }] }));
    await client.sendRawTx((await transfer({ from: key, nonce: n, gasPrice: 20n })).raw);
    await client.mine();
    const answer = await waiting;
    expect(await client.getTx(hex(old.hash))).toMatchObject({ status: 'dropped', reason: { code: 'TX_REPLACED' } });
    expect(answer.json).toMatchObject({ id: 6, error: { code: -32014, data: { code: 'TX_REPLACED' } } });
    expect(answer.json).not.toMatchObject({ error: { data: { code: 'TX_WAIT_TIMEOUT' } } });
  });
});
