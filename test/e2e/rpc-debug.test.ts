/**
 * Reading and debugging RPC against a real node (issue #17): tx_simulate, tx_estimateGas,
 * events_query (+ its cursor), events_subscribe, rpc_methods and debug_blockExecution, each with
 * bad input answered by its documented error code. Manual mining keeps blocks under test control;
 * two workers so a block of many transfers runs on the Block-STM path.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RpcCode } from '../../node/rpc/errors.js';
import { buildCall, buildTransfer, devKeyPair, formatAddress, generateKeyPair, PelClient, PelRpcError, v, type KeyPair } from '../../sdk/index.js';
import { startNode, useE2eCleanup, WsClient, type RunningNode } from './harness.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
useE2eCleanup();

let node: RunningNode;
let client: PelClient;
let chainId: number;

beforeAll(async () => {
  node = await startNode({ args: ['--mining', 'manual', '--workers', '2', '--warmup', '0'] });
  client = new PelClient(node.url);
  chainId = (await client.getInfo()).chainId;
});

afterAll(async () => {
  expect(await node.stop('SIGINT')).toBe(0);
});

const hex = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');

async function nonceOf(key: KeyPair): Promise<bigint> {
  return BigInt((await client.getAccount(key.address)).nonce);
}

async function rpcError(method: string, params: unknown[]): Promise<PelRpcError> {
  try {
    await client.request(method, params);
  } catch (e) {
    if (e instanceof PelRpcError) return e;
    throw e;
  }
  throw new Error(`${method} ${JSON.stringify(params).slice(0, 200)} answered without an error`);
}

async function expectCode(method: string, params: unknown[], name: keyof typeof RpcCode): Promise<PelRpcError> {
  const e = await rpcError(method, params);
  expect(e.code, e.message).toBe(RpcCode[name]);
  expect(e.data).toMatchObject({ code: name });
  return e;
}

describe('tx_simulate and tx_estimateGas', () => {
  it('dry-runs a signed transfer: receipt, events, gas and write set; nothing committed, nothing pending', async () => {
    const from = devKeyPair(0);
    const to = generateKeyPair();
    const before = await client.getInfo();
    const tx = buildTransfer({ chainId, key: from, nonce: await nonceOf(from), expiry: 1_000_000n, to: to.address, amount: 1234n });
    const sim = await client.request<Record<string, any>>('tx_simulate', [hex(tx.raw)]);
    expect(sim).toMatchObject({ hash: hex(tx.hash), height: before.height + 1, status: 'success', errorCode: '' });
    expect(BigInt(sim.gasUsed)).toBeGreaterThan(0n);
    expect(sim.events).toEqual([{ module: 'coin', name: 'transfer', fields: { from: { type: 'address', value: formatAddress(from.address) }, to: { type: 'address', value: formatAddress(to.address) }, amount: { type: 'u128', value: '1234' } } }]);
    const keys = (sim.writeSet as { key: string; value: string | null }[]).map((w) => w.key);
    expect(keys).toEqual([...keys].sort());
    expect(keys.some((k) => k.includes(Buffer.from(to.address).toString('hex')))).toBe(true);
    // Nothing happened: no pending tx, same head, recipient unfunded.
    expect(await client.request('mempool_status')).toMatchObject({ total: 0 });
    expect((await client.getInfo()).height).toBe(before.height);
    expect((await client.getAccount(to.address)).balance).toBe('0');
    expect(await client.getTx(hex(tx.hash))).toBeNull();
    // The same tx sent for real uses exactly the simulated gas.
    await client.sendRawTx(tx.raw);
    await client.mine();
    const receipt = await client.waitForReceipt(hex(tx.hash));
    expect(receipt.gasUsed).toBe(sim.gasUsed);
  });

  it('reports a failing call and a discarded tx as results, not errors', async () => {
    const key = devKeyPair(1);
    const nonce = await nonceOf(key);
    const failing = buildCall({ chainId, key, nonce, expiry: 1_000_000n, module: 'token', call: 'transfer', args: [v.address(new Uint8Array(20).fill(7)), v.address(key.address), v.u128(5n)] });
    const sim = await client.request<Record<string, any>>('tx_simulate', [hex(failing.raw)]);
    expect(sim.status).toBe('failed');
    expect(sim.errorCode).not.toBe('');
    expect(sim.events).toEqual([]);
    const early = buildTransfer({ chainId, key, nonce: nonce + 5n, expiry: 1_000_000n, to: key.address, amount: 1n });
    expect(await client.request('tx_simulate', [hex(early.raw)])).toMatchObject({ status: 'discarded', errorCode: 'NONCE_TOO_HIGH', gasUsed: '0', writeSet: [] });
  });

  it('checks the signature unless told not to; bad bytes are INVALID_TX_ENCODING', async () => {
    const key = devKeyPair(2);
    const tx = buildTransfer({ chainId, key, nonce: await nonceOf(key), expiry: 1_000_000n, to: key.address, amount: 1n });
    const forged = new Uint8Array(tx.raw);
    forged[forged.length - 1]! ^= 1;
    await expectCode('tx_simulate', [hex(forged)], 'BAD_SIGNATURE');
    expect(await client.request('tx_simulate', [hex(forged), { checkSignature: false }])).toMatchObject({ status: 'success' });
    await expectCode('tx_simulate', ['0x1234'], 'INVALID_TX_ENCODING');
    await expectCode('tx_simulate', [hex(tx.raw), { checkSig: false }], 'INVALID_PARAMS');
    await expectCode('tx_simulate', [], 'INVALID_PARAMS');
    await expectCode('tx_estimateGas', ['0x1234'], 'INVALID_TX_ENCODING');
    await expectCode('tx_estimateGas', ['nope'], 'INVALID_PARAMS');
  });

  it('estimates gas whatever the signed limit: a tx signed with too little gas commits with the estimate', async () => {
    const key = devKeyPair(3);
    const to = generateKeyPair();
    const nonce = await nonceOf(key);
    const tooLow = buildTransfer({ chainId, key, nonce, expiry: 1_000_000n, to: to.address, amount: 10n, gasLimit: 1_000n });
    const simLow = await client.request<Record<string, any>>('tx_simulate', [hex(tooLow.raw)]);
    expect(simLow.status).not.toBe('success');
    const est = await client.request<Record<string, any>>('tx_estimateGas', [hex(tooLow.raw)]);
    expect(est).toMatchObject({ status: 'success', errorCode: '' });
    const used = BigInt(est.gasUsed);
    expect(BigInt(est.gasLimit)).toBeGreaterThanOrEqual(used);
    const real = buildTransfer({ chainId, key, nonce, expiry: 1_000_000n, to: to.address, amount: 10n, gasLimit: BigInt(est.gasLimit) });
    await client.sendRawTx(real.raw);
    await client.mine();
    const r = await client.waitForReceipt(hex(real.hash));
    expect(r.status).toBe('success');
    expect(BigInt(r.gasUsed)).toBe(used);
  });
});

describe('events_query and events_subscribe', () => {
  const recipient = generateKeyPair();
  let firstHeight = 0;

  beforeAll(async () => {
    // Three blocks, each with two transfers from different senders to one recipient.
    firstHeight = (await client.getInfo()).height + 1;
    for (let b = 0; b < 3; b++) {
      for (const i of [4, 5]) {
        const key = devKeyPair(i);
        await client.sendRawTx(buildTransfer({ chainId, key, nonce: await nonceOf(key), expiry: 1_000_000n, to: recipient.address, amount: BigInt(100 + b) }).raw);
      }
      await client.mine();
    }
  });

  it('filters by module, name, field value and height range', async () => {
    const to = formatAddress(recipient.address);
    const r = await client.request<Record<string, any>>('events_query', [{ module: 'coin', name: 'transfer', field: 'to', value: to }]);
    expect(r.cursor).toBeNull();
    expect(r.events).toHaveLength(6);
    for (const e of r.events) expect(e).toMatchObject({ module: 'coin', name: 'transfer', fields: { to: { value: to } } });
    expect(r.events.map((e: any) => e.blockHeight)).toEqual([firstHeight, firstHeight, firstHeight + 1, firstHeight + 1, firstHeight + 2, firstHeight + 2]);
    // Upper-case hex matches too; any field when no field is named.
    expect((await client.request<any>('events_query', [{ value: to.toUpperCase().replace('0X', '0x') }])).events).toHaveLength(6);
    const mid = await client.request<any>('events_query', [{ value: to, fromHeight: firstHeight + 1, toHeight: firstHeight + 1 }]);
    expect(mid.events).toHaveLength(2);
    expect(mid.events[0]).toMatchObject({ blockHeight: firstHeight + 1, txIndex: 0, eventIndex: 0 });
    expect(mid.events[0].txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await client.request<any>('events_query', [{ module: 'token', value: to }])).events).toEqual([]);
    expect((await client.request<any>('events_query', [{ field: 'amount', value: '101' }])).events).toHaveLength(2);
  });

  it('pages with a cursor until it is null, without repeats or gaps', async () => {
    const to = formatAddress(recipient.address);
    const all: any[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const r = await client.request<any>('events_query', [{ value: to, limit: 4, ...(cursor ? { cursor } : {}) }]);
      expect(r.events.length).toBeLessThanOrEqual(4);
      all.push(...r.events);
      cursor = r.cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(2);
    expect(all.map((e) => `${e.blockHeight}.${e.txIndex}`)).toEqual((await client.request<any>('events_query', [{ value: to }])).events.map((e: any) => `${e.blockHeight}.${e.txIndex}`));
  });

  it('refuses bad filters with INVALID_PARAMS', async () => {
    await expectCode('events_query', [{ limit: 0 }], 'INVALID_PARAMS');
    await expectCode('events_query', [{ limit: 1001 }], 'INVALID_PARAMS');
    await expectCode('events_query', [{ modul: 'coin' }], 'INVALID_PARAMS');
    await expectCode('events_query', [{ fromHeight: 5, toHeight: 4 }], 'INVALID_PARAMS');
    const e = await expectCode('events_query', [{ cursor: 'not-a-cursor' }], 'INVALID_PARAMS');
    expect(e.data).toMatchObject({ reason: 'BAD_CURSOR' });
    await expectCode('events_query', [{ fromHeight: '1' }], 'INVALID_PARAMS');
    await expectCode('events_subscribe', [{}], 'NOT_AVAILABLE');
  });

  it('a WebSocket subscription pushes the matching events of each new block', async () => {
    const ws = await WsClient.connect(node.wsUrl);
    try {
      const target = generateKeyPair();
      const sub = await ws.call('events_subscribe', [{ module: 'coin', field: 'to', value: formatAddress(target.address) }]);
      const id = sub.result as string;
      expect(id).toMatch(/^0x[0-9a-f]{32}$/);
      const bad = await ws.call('events_subscribe', [{ height: 1 }]);
      expect(bad.error).toMatchObject({ code: RpcCode.INVALID_PARAMS, data: { code: 'INVALID_PARAMS' } });
      // A block without a match pushes nothing; the next one with a match does.
      const key = devKeyPair(6);
      await client.sendRawTx(buildTransfer({ chainId, key, nonce: await nonceOf(key), expiry: 1_000_000n, to: key.address, amount: 1n }).raw);
      await client.mine();
      await client.sendRawTx(buildTransfer({ chainId, key, nonce: await nonceOf(key), expiry: 1_000_000n, to: target.address, amount: 77n }).raw);
      const mined = await client.mine();
      const note = await ws.next((m) => m.method === 'chain_subscription' && m.params?.subscription === id, 10_000, 'events notification');
      expect(note.params!.result).toMatchObject({ blockHeight: mined.heights[0], events: [{ module: 'coin', name: 'transfer', fields: { amount: { value: '77' } } }] });
      expect(ws.notifications(id)).toHaveLength(1);
      expect((await ws.call('chain_unsubscribe', [id])).result).toBe(true);
    } finally {
      await ws.close();
    }
  });
});

describe('rpc_methods', () => {
  it('lists every method with its parameters, this one included', async () => {
    const list = await client.request<{ name: string; usage: string; transport: string; params: { name: string; optional: boolean; type: string }[] }[]>('rpc_methods');
    const names = list.map((m) => m.name);
    for (const m of ['tx_send', 'tx_simulate', 'tx_estimateGas', 'events_query', 'events_subscribe', 'debug_blockExecution', 'rpc_methods', 'token_getBalance', 'chain_subscribe']) expect(names).toContain(m);
    expect(names).toEqual([...names].sort());
    expect(list.find((m) => m.name === 'tx_simulate')).toMatchObject({ usage: 'tx_simulate [rawTx, options?]', transport: 'any', params: [{ name: 'rawTx', optional: false }, { name: 'options', optional: true }] });
    expect(list.find((m) => m.name === 'events_subscribe')!.transport).toBe('ws');
    await expectCode('rpc_methods', [1], 'INVALID_PARAMS');
  });
});

describe('debug_blockExecution', () => {
  it('shows a contended block run by Block-STM: incarnations, re-executions, waits and conflict keys per tx', async () => {
    // 96 transfers, 12 from each of 8 senders: a sender's txs conflict on its nonce and balance.
    const raws: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) {
      const key = devKeyPair(i);
      const n0 = await nonceOf(key);
      for (let k = 0; k < 12; k++) raws.push(buildTransfer({ chainId, key, nonce: n0 + BigInt(k), expiry: 1_000_000n, to: devKeyPair(9).address, amount: 1n }).raw);
    }
    const sent = await client.batch(raws.map((r) => ({ method: 'tx_send', params: [hex(r)] })));
    expect(sent.every((s) => s.ok)).toBe(true);
    const mined = await client.mine();
    const height = mined.heights[0]!;
    const d = await client.request<Record<string, any>>('debug_blockExecution', [height]);
    expect(d).toMatchObject({ height, txs: 96, executor: 'parallel', txRows: 'all' });
    expect(['parallel', 'parallel+sequential-suffix']).toContain(d.path);
    expect(d.perTx).toHaveLength(96);
    const block = await client.getBlock(height);
    expect(d.hash).toBe(block!.hash);
    expect(d.perTx.map((t: any) => t.hash)).toEqual(block!.txs);
    for (const t of d.perTx) {
      expect(t.incarnations).toBeGreaterThanOrEqual(1);
      expect(t.reexecutions).toBe(t.incarnations - 1);
    }
    const sum = d.perTx.reduce((a: number, t: any) => a + t.reexecutions, 0);
    expect(d.reexecutions).toBe(sum);
    expect(d.perTx.reduce((a: number, t: any) => a + t.dependencyWaits, 0)).toBe(d.dependencyWaits);
    if (sum > 0) {
      expect(d.conflictKeys.length).toBeGreaterThan(0);
      // The senders' nonces and balances are what their txs fight over.
      const senders = Array.from({ length: 8 }, (_, i) => Buffer.from(devKeyPair(i).address).toString('hex'));
      expect(senders.some((a) => d.conflictKeys[0].key.endsWith(a)), d.conflictKeys[0].key).toBe(true);
      expect(d.conflictKeys[0].count).toBeGreaterThan(0);
    }
    // Latest by default.
    expect((await client.request<any>('debug_blockExecution', [])).height).toBe((await client.getInfo()).height);
  });

  it('a small block runs sequentially and says why', async () => {
    const key = devKeyPair(0);
    await client.sendRawTx(buildTransfer({ chainId, key, nonce: await nonceOf(key), expiry: 1_000_000n, to: key.address, amount: 1n }).raw);
    const h = (await client.mine()).heights[0]!;
    expect(await client.request('debug_blockExecution', [h])).toMatchObject({ height: h, txs: 1, path: 'sequential', fallback: 'small-block', perTx: [{ index: 0, incarnations: 1, reexecutions: 0, sequential: true }] });
  });

  it('null above the head, STATS_NOT_RETAINED for genesis, INVALID_PARAMS for a bad height', async () => {
    const head = (await client.getInfo()).height;
    expect(await client.request('debug_blockExecution', [head + 10])).toBeNull();
    const e = await expectCode('debug_blockExecution', [0], 'STATS_NOT_RETAINED');
    expect(e.data).toMatchObject({ height: 0, newest: head });
    await expectCode('debug_blockExecution', ['latest'], 'INVALID_PARAMS');
    await expectCode('debug_blockExecution', [-1], 'INVALID_PARAMS');
    await expectCode('debug_blockExecution', [1.5], 'INVALID_PARAMS');
  });
});
