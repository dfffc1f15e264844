/**
 * `pel demo --rpc URL`: the built-in modules end to end against a running devnet, each step
 * printed with its tx hash, status and the balances it moved, ending with a conservation
 * check. Exit status 0 only if every step did what it should.
 *
 * Actors (public dev accounts): admin 0 (fee admin, token issuer, DAO founder), creator 1
 * (NFT creator), bob 2, carol 3, dave 4, erin 5.
 */
import { parseArgs } from 'node:util';
import { devKeyPair, type KeyPair } from '../protocol/keys.js';
import { toHex } from '../protocol/hex.js';
import { PelClient, type ReceiptJson } from '../sdk/client.js';
import { sendDynamicCall } from '../sdk/modules.js';
import { buildDynamicCall } from '../sdk/modules.js';
import { v } from '../protocol/value.js';
import { encodeCallPayload, encodePayoutPayload, NATIVE_COIN } from '../contracts/dao/payload.js';
import { PROPOSAL_CALL, PROPOSAL_PAYOUT } from '../contracts/dao/state.js';
import { buildTransfer, DEFAULT_EXPIRY_BLOCKS } from '../sdk/tx.js';

class DemoFailure extends Error {}

export async function runDemo(args: string[], defaultRpc: string): Promise<number> {
  const { values } = parseArgs({ args, options: { rpc: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    console.log('pel demo [--rpc URL] — run the token / NFT / DAO / staking / fee / exchange scenario against a running devnet; exit 0 only if every step checks out');
    return 0;
  }
  const client = new PelClient(values.rpc ?? defaultRpc);
  const [admin, creator, bob, carol, dave, erin] = [0, 1, 2, 3, 4, 5].map(devKeyPair) as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair, KeyPair];
  const hex = (k: KeyPair | Uint8Array): string => toHex(k instanceof Uint8Array ? k : k.address);
  let steps = 0;

  const coin = async (a: string): Promise<bigint> => BigInt((await client.getAccount(a)).balance);
  const tok = async (token: string, a: string): Promise<bigint> => BigInt(((await client.request('token_getBalance', [token, a])) as { balance: string }).balance);
  const check = (what: string, ok: boolean, detail = ''): void => {
    if (!ok) throw new DemoFailure(`${what} ${detail}`);
    console.log(`   ✓ ${what}${detail ? ` ${detail}` : ''}`);
  };
  const call = async (who: KeyPair, module: string, name: string, a: Record<string, unknown>, expect: 'success' | string = 'success'): Promise<ReceiptJson> => {
    steps++;
    const r = await sendDynamicCall(client, who, { module, call: name, args: a });
    console.log(`${String(steps).padStart(2)}. ${module}.${name} by ${hex(who).slice(0, 10)}…  tx ${r.txHash.slice(0, 18)}…  ${r.status}${r.errorCode ? ` (${r.errorCode})` : ''}  fee ${r.fee}`);
    const ok = expect === 'success' ? r.status === 'success' : r.status === 'failed' && r.errorCode === expect;
    if (!ok) throw new DemoFailure(`${module}.${name}: expected ${expect}, got ${r.status} ${r.errorCode}`);
    return r;
  };
  const field = (r: ReceiptJson, event: string, name: string): string => {
    const e = r.events.find((x) => `${x.module}.${x.name}` === event);
    if (!e) throw new DemoFailure(`no ${event} event in ${r.txHash}`);
    return String(e.fields[name]!.value);
  };
  const moved = async (label: string, balances: () => Promise<Record<string, bigint>>, run: () => Promise<unknown>): Promise<Record<string, bigint>> => {
    const before = await balances();
    await run();
    const after = await balances();
    const diff: Record<string, bigint> = {};
    for (const k of Object.keys(after)) diff[k] = after[k]! - before[k]!;
    console.log(`   ${label}: ${Object.entries(diff).map(([k, d]) => `${k} ${d >= 0n ? '+' : ''}${d}`).join(', ')}`);
    return diff;
  };

  try {
    const info = await client.getInfo();
    console.log(`pel demo against ${client.url} (chain ${info.chainId}, height ${info.height})\n`);
    const fees0 = (await client.request('fee_getParams', [])) as { treasury: string; admin: string | null };
    if (fees0.admin !== hex(admin)) throw new DemoFailure(`the demo needs a fresh devnet: fee admin is ${fees0.admin}, expected dev account 0`);

    console.log('— Token');
    const created = await call(admin, 'token', 'create', { name: 'Pel Governance', symbol: 'PGOV', decimals: 0, max_supply: '10000000' });
    const token = field(created, 'token.created', 'token');
    for (const [who, amount] of [[admin, 1_000_000n], [bob, 300_000n], [carol, 200_000n], [dave, 50_000n]] as const) {
      await call(admin, 'token', 'mint', { token, to: hex(who), amount });
    }
    await call(admin, 'token', 'mint', { token, to: hex(bob), amount: '10000000' }, 'MAX_SUPPLY_EXCEEDED');
    await moved('token moved', async () => ({ admin: await tok(token, hex(admin)), erin: await tok(token, hex(erin)) }), () => call(admin, 'token', 'transfer', { token, to: hex(erin), amount: 1_000 }));

    console.log('\n— NFT with a 5% creator royalty on every sale');
    const col = await call(creator, 'nft', 'create_collection', { name: 'Pel Art', uri: 'ipfs://pel-art', royalty_bps: 500, royalty_recipient: hex(creator), max_supply: 100 });
    const collection = field(col, 'nft.collection_created', 'collection');
    const minted = await call(creator, 'nft', 'mint', { collection, to: hex(bob), uri: 'ipfs://pel-art/1' });
    const tokenId = field(minted, 'nft.minted', 'token_id');
    await call(bob, 'nft', 'list', { collection, token_id: tokenId, price: 100_000, currency: toHex(NATIVE_COIN) });
    await call(carol, 'nft', 'buy', { collection, token_id: tokenId, price: 90_000, currency: toHex(NATIVE_COIN) }, 'WRONG_PRICE');
    const treasury0 = fees0.treasury;
    const sale1 = await moved('first sale (coin)', async () => ({ creator: await coin(hex(creator)), seller: await coin(hex(bob)), treasury: await coin(treasury0) }), () =>
      call(carol, 'nft', 'buy', { collection, token_id: tokenId, price: 100_000, currency: toHex(NATIVE_COIN) }));
    check('creator royalty on the first sale = 5%', sale1.creator === 5_000n, `(${sale1.creator})`);
    check('seller got the price minus royalty and protocol fee', sale1.seller === 100_000n - 5_000n - 2_500n, `(${sale1.seller})`);
    await call(dave, 'nft', 'buy', { collection, token_id: tokenId, price: 100_000, currency: toHex(NATIVE_COIN) }, 'NOT_LISTED');
    await call(carol, 'nft', 'list', { collection, token_id: tokenId, price: 20_000, currency: token });
    const sale2 = await moved('resale (PGOV)', async () => ({ creator: await tok(token, hex(creator)), seller: await tok(token, hex(carol)), buyer: await tok(token, hex(dave)) }), () =>
      call(dave, 'nft', 'buy', { collection, token_id: tokenId, price: 20_000, currency: token }));
    check('creator royalty on the resale = 5%', sale2.creator === 1_000n, `(${sale2.creator} PGOV)`);
    check('buyer paid the price', sale2.buyer === -20_000n);
    const owner = (await client.request('nft_getToken', [collection, tokenId])) as { owner: string };
    check('dave owns the NFT', owner.owner === hex(dave));

    console.log('\n— DAO on PGOV; the protocol treasury becomes the DAO');
    const daoR = await call(admin, 'dao', 'create', { token, name: 'Pel Protocol DAO', quorum: 100_000, approval_bps: 5_000, voting_period: 30 });
    const dao = field(daoR, 'dao.created', 'dao');
    await call(admin, 'fee', 'set_params', { min_gas_price: 1, burn_bps: 2_000, proposer_bps: 5_000, treasury_bps: 3_000, treasury: dao });
    await call(admin, 'fee', 'set_admin', { new_admin: dao });
    await call(admin, 'dao', 'deposit', { dao, amount: 2_000_000 });
    const feesIn = await moved('protocol fees into the DAO treasury', async () => ({ dao: await coin(dao) }), async () => {
      const { chainId, height } = await client.getInfo();
      const nonce = BigInt((await client.getAccount(hex(erin))).nonce);
      for (let i = 0n; i < 5n; i++) {
        await client.sendRawTxAndWait(buildTransfer({ chainId, key: erin, nonce: nonce + i, to: bob.address, amount: 1n, expiry: BigInt(height) + DEFAULT_EXPIRY_BLOCKS }).raw);
      }
    });
    check('the DAO treasury receives protocol fees', feesIn.dao! > 0n, `(+${feesIn.dao} from 5 transfers)`);

    console.log('\n— Staking');
    await call(bob, 'staking', 'stake', { dao, amount: 100_000 });
    await call(carol, 'staking', 'stake', { dao, amount: 50_000 });

    console.log('\n— Proposal: pay 1,000,000 from the treasury to erin');
    const payload = toHex(encodePayoutPayload({ currency: NATIVE_COIN, to: erin.address, amount: 1_000_000n }));
    const prop = await call(bob, 'dao', 'propose', { dao, kind: PROPOSAL_PAYOUT, payload, description: 'Grant for erin' });
    const proposal = field(prop, 'dao.proposed', 'proposal');
    await call(admin, 'dao', 'vote', { dao, proposal, support: true, amount: 150_000 });
    await call(bob, 'dao', 'vote', { dao, proposal, support: true, amount: 100_000 });
    await call(bob, 'dao', 'vote', { dao, proposal, support: true, amount: 1 }, 'ALREADY_VOTED');
    await call(carol, 'dao', 'vote', { dao, proposal, support: false, amount: 50_000 });
    await call(admin, 'dao', 'execute', { dao, proposal }, 'VOTING_NOT_ENDED');
    await client.mine(30);
    const payout = await moved('payout', async () => ({ erin: await coin(hex(erin)), dao: await coin(dao) }), () => call(dave, 'dao', 'execute', { dao, proposal }));
    check('erin received the payout', payout.erin === 1_000_000n);
    await call(dave, 'dao', 'execute', { dao, proposal }, 'ALREADY_EXECUTED');
    for (const who of [admin, bob, carol]) await call(who, 'dao', 'unlock', { dao, proposal });

    console.log('\n— Rewards: 300,000 into the pool, stakers claim pro rata (2:1)');
    await call(admin, 'staking', 'fund_rewards', { dao, amount: 300_000 });
    let rb!: ReceiptJson;
    let rc!: ReceiptJson;
    const cb = await moved('bob claims', async () => ({ bob: await coin(hex(bob)) }), async () => (rb = await call(bob, 'staking', 'claim', { dao })));
    const cc = await moved('carol claims', async () => ({ carol: await coin(hex(carol)) }), async () => (rc = await call(carol, 'staking', 'claim', { dao })));
    await call(bob, 'staking', 'claim', { dao }, 'NOTHING_TO_CLAIM');
    check('bob (stake 100,000) got 200,000', cb.bob! + BigInt(rb.fee) === 200_000n, `(${cb.bob! + BigInt(rb.fee)} before his claim fee)`);
    check('carol (stake 50,000) got 100,000', cc.carol! + BigInt(rc.fee) === 100_000n, `(${cc.carol! + BigInt(rc.fee)} before her claim fee)`);
    console.log('\n— Exchange: a native / PGOV pool, instant and batch swaps, the protocol fee to the DAO, liquidity mining');
    const NATIVE = toHex(NATIVE_COIN);
    const D = Number((await client.getInfo()).height) + 1_000; // a deadline past the whole demo
    const daoCoin0 = await coin(dao);
    const poolR = await call(admin, 'amm', 'create_pool', { asset_a: NATIVE, asset_b: token, fee_bps: 30 });
    const pool = field(poolR, 'amm.pool_created', 'pool');
    const lp = field(poolR, 'amm.pool_created', 'lp_token');
    check('the pool-creation fee went to the DAO treasury', (await coin(dao)) - daoCoin0 >= 1_000_000n, `(pool ${pool})`);
    await call(admin, 'amm', 'create_pool', { asset_a: token, asset_b: NATIVE, fee_bps: 30 }, 'POOL_EXISTS');
    await call(admin, 'amm', 'create_pool', { asset_a: token, asset_b: token, fee_bps: 30 }, 'SAME_ASSET');
    const added = await call(admin, 'amm', 'add_liquidity', { pool, amount0_desired: 4_000_000, amount1_desired: 400_000, amount0_min: 0, amount1_min: 0, deadline: D });
    const shares = BigInt(field(added, 'amm.liquidity_added', 'shares'));
    check('the first deposit minted sqrt(x*y) - 1000 LP shares', shares > 0n && BigInt(await tok(lp, hex(admin))) === shares, `(${shares})`);
    const poolView = async (): Promise<{ asset0: string; reserve0: string; reserve1: string }> => (await client.request('amm_getPool', [pool])) as { asset0: string; reserve0: string; reserve1: string };
    const tokenIs0 = (await poolView()).asset0 === token;
    const quote = (await client.request('amm_quoteExactIn', [pool, NATIVE, '100000'])) as { amountOut: string };
    const sw = await moved('instant swap of 100,000 native for PGOV', async () => ({ dave: await tok(token, hex(dave)) }), () =>
      call(dave, 'amm', 'swap', { pool, asset_in: NATIVE, amount_in: 100_000, min_out: quote.amountOut, deadline: D }));
    check('dave received the quoted amount', sw.dave === BigInt(quote.amountOut), `(${sw.dave} PGOV)`);
    await call(dave, 'amm', 'swap', { pool, asset_in: NATIVE, amount_in: 100_000, min_out: 10n ** 12n, deadline: D }, 'MINIMUM_NOT_MET');
    await call(dave, 'amm', 'swap', { pool, asset_in: NATIVE, amount_in: 0, min_out: 0, deadline: D }, 'INVALID_AMOUNT');

    console.log('   the DAO (fee admin) votes the protocol fee on: 1/6 of every swap fee to its treasury');
    const feeOn = toHex(encodeCallPayload({ module: 'amm', call: 'set_params', args: [v.u64(1_667n), v.u128(1_000_000n)] }));
    const feeProp = await call(bob, 'dao', 'propose', { dao, kind: PROPOSAL_CALL, payload: feeOn, description: 'Switch the exchange protocol fee on' });
    const feeProposal = field(feeProp, 'dao.proposed', 'proposal');
    await call(admin, 'dao', 'vote', { dao, proposal: feeProposal, support: true, amount: 150_000 });
    await call(bob, 'dao', 'vote', { dao, proposal: feeProposal, support: true, amount: 100_000 });
    await client.mine(30);
    await call(admin, 'amm', 'set_params', { protocol_fee_bps: 1_667, pool_creation_fee: 1_000_000 }, 'NOT_FEE_ADMIN');
    await call(dave, 'dao', 'execute', { dao, proposal: feeProposal });
    const params = (await client.request('amm_getParams', [])) as { protocolFeeBps: string };
    check('the protocol fee is on', String(params.protocolFeeBps) === '1667');
    for (const who of [admin, bob]) await call(who, 'dao', 'unlock', { dao, proposal: feeProposal });
    const sw2 = await moved('instant swap of 50,000 PGOV with the fee on', async () => ({ daoPGOV: await tok(token, dao) }), () =>
      call(carol, 'amm', 'swap', { pool, asset_in: token, amount_in: 50_000, min_out: 1, deadline: D }));
    check('the protocol fee share reached the DAO treasury', sw2.daoPGOV! > 0n, `(+${sw2.daoPGOV} PGOV)`);

    console.log('   batch swaps: three in one block, both directions, one clearing price');
    const { chainId, height: h0 } = await client.getInfo();
    const batch = await Promise.all(
      ([[bob, NATIVE, 20_000n], [carol, token, 3_000n], [dave, NATIVE, 10_000n]] as const).map(async ([who, asset, amount]) => {
        const nonce = BigInt((await client.getAccount(hex(who))).nonce);
        return buildDynamicCall({ module: 'amm', call: 'swap_batch', args: { pool, asset_in: asset, amount_in: amount, min_out: 1, deadline: Number(h0) + 1_000 }, chainId, key: who, nonce, expiry: BigInt(h0) + DEFAULT_EXPIRY_BLOCKS });
      }),
    );
    // One JSON-RPC batch, so the node sees the three together and (normally) puts them in one block.
    for (const r of await client.batch(batch.map((t) => ({ method: 'tx_send', params: [toHex(t.raw)] })))) if (!r.ok) throw new DemoFailure(`tx_send: ${r.error.message}`);
    const settled = await Promise.all(batch.map((t) => client.waitForReceipt(toHex(t.hash))));
    type BatchResult = { status: string; amountIn: string; amountOut: string; height: string } | null;
    const resultOf = async (hash: string): Promise<BatchResult> => {
      // The receipt can be served a moment before the state that holds the result: poll briefly.
      for (let i = 0; ; i++) {
        const r = (await client.request('amm_getBatchResult', [hash])) as BatchResult;
        if (r !== null || i >= 50) return r;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const results = await Promise.all(batch.map((t) => resultOf(toHex(t.hash))));
    for (const [i, r] of results.entries()) {
      steps++;
      if (r === null) throw new DemoFailure(`batch swap ${i}: no result (receipt ${settled[i]!.status} ${settled[i]!.errorCode}, events ${settled[i]!.events.map((e) => e.name).join(', ')})`);
      console.log(`${String(steps).padStart(2)}. amm.swap_batch  tx ${toHex(batch[i]!.hash).slice(0, 18)}…  ${settled[i]!.status}  ${r.status}: ${r.amountIn} in, ${r.amountOut} out (block ${r.height})`);
      if (settled[i]!.status !== 'success' || r.status !== 'filled') throw new DemoFailure(`batch swap ${i} was not filled: ${JSON.stringify(r)}`);
      const ev = settled[i]!.events.find((e) => e.name === 'batch_settled');
      check('its receipt carries the settlement', ev !== undefined && String(ev.fields.amount_out!.value) === r.amountOut);
    }
    const filled = results.map((r) => r!);
    const sameBlock = new Set(filled.map((r) => r.height)).size === 1;
    console.log(`   ${sameBlock ? 'one block' : 'the swaps landed in different blocks'}: ${filled.map((r) => `${r.amountIn} -> ${r.amountOut}`).join(', ')}`);
    if (sameBlock) {
      // One price: the two native sellers get the same PGOV per native coin (up to the floor of each).
      const per = (r: { amountIn: string; amountOut: string }): number => Number(r.amountOut) / Number(r.amountIn);
      check('both native sellers got the same price', Math.abs(per(filled[0]!) - per(filled[2]!)) < 2 / 10_000, `(${per(filled[0]!).toFixed(5)} and ${per(filled[2]!).toFixed(5)} PGOV per coin)`);
    }

    console.log('   liquidity mining: carol funds 300,000 native over 20 blocks for the pool\'s LP stakers');
    const start = Number((await client.getInfo()).height) + 2;
    const progR = await call(carol, 'amm', 'create_programme', { pool, reward_asset: NATIVE, amount: 300_000, start, end: start + 20 });
    const programme = field(progR, 'amm.programme_created', 'programme');
    await call(admin, 'amm', 'stake', { programme, amount: shares / 2n });
    await client.mine(25);
    const pending = (await client.request('amm_getStake', [programme, hex(admin)])) as { pending: string };
    let claimR!: ReceiptJson;
    const mined = await moved('the LP claims its mining rewards', async () => ({ admin: await coin(hex(admin)) }), async () => (claimR = await call(admin, 'amm', 'claim', { programme })));
    const got = mined.admin! + BigInt(claimR.fee);
    check('the only staker earned the whole programme (less rounding dust)', got > 299_990n && got <= 300_000n, `(${got}; pending before was ${pending.pending})`);
    await call(admin, 'amm', 'claim', { programme }, 'NOTHING_TO_CLAIM');
    await call(admin, 'amm', 'unstake', { programme, amount: shares / 2n });

    const out = await moved('remove all liquidity', async () => ({ PGOV: await tok(token, hex(admin)), LP: await tok(lp, hex(admin)) }), () =>
      call(admin, 'amm', 'remove_liquidity', { pool, shares, amount0_min: 1, amount1_min: 1, deadline: D }));
    check('the LP burned its shares and got PGOV back', out.LP === -shares && out.PGOV! > 0n);
    const left = await poolView();
    check('the locked minimum liquidity keeps the pool priced', BigInt(left.reserve0) > 0n && BigInt(left.reserve1) > 0n, `(reserves ${left.reserve0} / ${left.reserve1}, PGOV is asset${tokenIs0 ? 0 : 1})`);

    console.log('\n— Conservation');
    const supply = (await client.request('chain_getSupply', [token])) as Record<string, Record<string, string | boolean>>;
    const lpSupply = (await client.request('chain_getSupply', [lp])) as Record<string, Record<string, string | boolean>>;
    console.log(`   native: genesis ${supply.native!.genesis} = balances ${supply.native!.balances} + burned ${supply.native!.burned}`);
    console.log(`   PGOV:   supply ${supply.token!.supply} = balances ${supply.token!.balances} + staked ${supply.token!.staked} + locked ${supply.token!.locked}`);
    check('native coin: genesis supply = Σ balances + burned', supply.native!.ok === true);
    check('PGOV: total supply = Σ balances + staked + locked', supply.token!.ok === true);
    console.log(`   LP:     supply ${lpSupply.token!.supply} = balances ${lpSupply.token!.balances} (pool reserves, escrows and stakes are ordinary balances)`);
    check('LP token: total supply = Σ balances', lpSupply.token!.ok === true);
    console.log(`\ndemo passed: ${steps} transactions, every step as expected`);
    return 0;
  } catch (e) {
    console.error(`\ndemo FAILED: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
