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
import { encodePayoutPayload, NATIVE_COIN } from '../contracts/dao/payload.js';
import { PROPOSAL_PAYOUT } from '../contracts/dao/state.js';
import { buildTransfer, DEFAULT_EXPIRY_BLOCKS } from '../sdk/tx.js';

class DemoFailure extends Error {}

export async function runDemo(args: string[], defaultRpc: string): Promise<number> {
  const { values } = parseArgs({ args, options: { rpc: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    console.log('pel demo [--rpc URL] — run the token / NFT / DAO / staking / fee scenario against a running devnet; exit 0 only if every step checks out');
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
    console.log('\n— Conservation');
    const supply = (await client.request('chain_getSupply', [token])) as Record<string, Record<string, string | boolean>>;
    console.log(`   native: genesis ${supply.native!.genesis} = balances ${supply.native!.balances} + burned ${supply.native!.burned}`);
    console.log(`   PGOV:   supply ${supply.token!.supply} = balances ${supply.token!.balances} + staked ${supply.token!.staked} + locked ${supply.token!.locked}`);
    check('native coin: genesis supply = Σ balances + burned', supply.native!.ok === true);
    check('PGOV: total supply = Σ balances + staked + locked', supply.token!.ok === true);
    console.log(`\ndemo passed: ${steps} transactions, every step as expected`);
    return 0;
  } catch (e) {
    console.error(`\ndemo FAILED: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
