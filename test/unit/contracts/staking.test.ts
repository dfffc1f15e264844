/**
 * staking module through the sequential executor: exact pro-rata rewards over several
 * funding rounds (integers checked by hand, see docs/MODULES.md), the undistributed
 * pool, each rule failing with its own code and no effect beyond fee and nonce, overflow,
 * a DAO funding rewards from its treasury by a kind-3 proposal, and after every scenario
 * the conservation invariant (tokens: balances + vote escrow + staked = supply; coins:
 * balances + burned = genesis) and pool solvency (reward balance >= everything owed).
 * The parallel-vs-sequential property test of staking blocks is in dao.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeU128, encodeU128 } from '../../../protocol/codec.js';
import { devKeyPair, type KeyPair } from '../../../protocol/keys.js';
import { toHexRaw } from '../../../protocol/hex.js';
import { v, type Value } from '../../../protocol/value.js';
import { balanceKey, BURNED_KEY } from '../../../contracts/coin/state.js';
import { hasModuleResolver, setModuleResolver } from '../../../contracts/dao/module.js';
import { encodeCallPayload } from '../../../contracts/dao/payload.js';
import { daoEscrowPrefix } from '../../../contracts/dao/state.js';
import { deriveId } from '../../../contracts/ids.js';
import { builtinModules } from '../../../contracts/registry.js';
import { stakingModule } from '../../../contracts/staking/module.js';
import { ACC_SCALE, decodePosition, getPool, pendingRewards, positionKey, rewardPoolAddress, stakedPrefix } from '../../../contracts/staking/state.js';
import { encodeTokenInfo, NO_AUTHORITY, tokenBalanceKey, tokenInfoKey, tokenSupplyKey } from '../../../contracts/token/state.js';
import { benchGenesisState } from '../../../bench/workload.js';
import { eventsOf, expectOk, fails, ModuleTestChain } from './module-test-helpers.js';

// Kind-3 proposals need the module map; wire it here if contracts/registry.ts does not yet.
if (!hasModuleResolver()) setModuleResolver((name) => builtinModules.get(name));

const FUND = 10n ** 15n;
const [alice, bob, carol, dave, whale] = [0, 1, 2, 3, 4].map((i) => devKeyPair(i)) as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair];
const GOV = deriveId('token', new Uint8Array(32).fill(9));


class Chain extends ModuleTestChain {
  view(name: string, args: readonly (Uint8Array | bigint | string)[]): any {
    return stakingModule.views![name]!.run({ get: (k) => this.state.get(k) }, args, { height: this.height });
  }
}

/** Token and coin conservation, and every DAO's reward pool covers everything it owes. */
function checkInvariants(c: Chain): void {
  const prefixes = [`token/balance/${toHexRaw(GOV)}/`, daoEscrowPrefix(GOV), stakedPrefix(GOV)];
  let tokens = 0n;
  let coins = decodeU128(c.state.get(BURNED_KEY));
  const owed = new Map<string, bigint>();
  for (const [k, val] of c.state) {
    if (prefixes.some((p) => k.startsWith(p))) tokens += decodeU128(val);
    if (k.startsWith('coin/balance/')) coins += decodeU128(val);
    if (k.startsWith('staking/position/')) {
      const dao = k.split('/')[2]!;
      const p = decodePosition(val);
      const acc = getPool({ get: (x) => c.state.get(x) }, Uint8Array.from(Buffer.from(dao, 'hex'))).acc;
      owed.set(dao, (owed.get(dao) ?? 0n) + p.claimable + pendingRewards(p, acc));
    }
  }
  expect(tokens, 'token supply').toBe(decodeU128(c.state.get(tokenSupplyKey(GOV))));
  expect(coins, 'coin supply').toBe(c.coinSupply);
  for (const [dao, n] of owed) {
    const pool = decodeU128(c.state.get(balanceKey(rewardPoolAddress(Uint8Array.from(Buffer.from(dao, 'hex'))))));
    expect(pool, `reward pool of ${dao}`).toBeGreaterThanOrEqual(n);
  }
}

function newChain(holders: readonly (readonly [KeyPair, bigint])[] = [[alice, 1_000n], [bob, 3_000n]], whaleCoins = FUND): { c: Chain; dao: Uint8Array } {
  const m = benchGenesisState([alice, bob, carol, dave, whale], FUND);
  m.set(balanceKey(whale.address), encodeU128(whaleCoins));
  m.set(tokenInfoKey(GOV), encodeTokenInfo({ name: 'Gov', symbol: 'GOV', decimals: 0, maxSupply: 0n, mintAuthority: NO_AUTHORITY, creator: alice.address }));
  let supply = 0n;
  for (const [k, n] of holders) {
    m.set(tokenBalanceKey(GOV, k.address), encodeU128(n));
    supply += n;
  }
  m.set(tokenSupplyKey(GOV), encodeU128(supply));
  const c = new Chain(m);
  const s = c.ok(alice, 'dao', 'create', [v.address(GOV), v.string('Stakers'), v.u128(100n), v.u64(5_000n), v.u64(5n)]);
  return { c, dao: deriveId('dao', s.tx.hash) };
}

const amt = (dao: Uint8Array, n: bigint): Value[] => [v.address(dao), v.u128(n)];
const position = (c: Chain, dao: Uint8Array, k: KeyPair): { staked: string; pending: string; claimable: string } => c.view('getPosition', [dao, k.address]);
const coin = (c: Chain, a: Uint8Array): bigint => decodeU128(c.state.get(balanceKey(a)));
const tok = (c: Chain, a: Uint8Array): bigint => decodeU128(c.state.get(tokenBalanceKey(GOV, a)));

describe('staking: rewards', () => {
  it('two stakers with different stakes get exactly pro-rata rewards across funding rounds', () => {
    const { c, dao } = newChain();
    c.block([c.tx(alice, 'staking', 'stake', amt(dao, 100n)), c.tx(bob, 'staking', 'stake', amt(dao, 300n))]).forEach(expectOk);
    expect(tok(c, alice.address)).toBe(900n);
    expect(c.view('getPool', [dao])).toMatchObject({ totalStaked: '400', accRewardPerShare: '0', rewardBalance: '0' });

    // Round 1: 1000 over 400 staked -> 2.5 per unit.
    const f1 = c.ok(carol, 'staking', 'fund_rewards', amt(dao, 1_000n));
    expect(eventsOf(f1, 'rewards_funded')).toEqual([{ dao, from: carol.address, amount: 1_000n, acc_reward_per_share: 2_500_000_000_000_000_000n, undistributed: 0n }]);
    expect(position(c, dao, alice)).toEqual({ staked: '100', pending: '250', claimable: '0' });
    expect(position(c, dao, bob)).toEqual({ staked: '300', pending: '750', claimable: '0' });

    // Alice adds 100: her 250 is settled into claimable first.
    const s = c.ok(alice, 'staking', 'stake', amt(dao, 100n));
    expect(eventsOf(s, 'staked')).toEqual([{ dao, staker: alice.address, amount: 100n, settled: 250n }]);
    expect(position(c, dao, alice)).toEqual({ staked: '200', pending: '0', claimable: '250' });

    // Round 2: 999 over 500 -> 1.998 per unit; alice 399.6 -> 399, bob 1349.4 -> 1349.
    c.ok(carol, 'staking', 'fund_rewards', amt(dao, 999n));
    expect(c.view('getPool', [dao]).accRewardPerShare).toBe('4498000000000000000');
    expect(position(c, dao, alice)).toEqual({ staked: '200', pending: '399', claimable: '250' });
    expect(position(c, dao, bob)).toEqual({ staked: '300', pending: '1349', claimable: '0' });

    const u = c.ok(bob, 'staking', 'unstake', amt(dao, 101n));
    expect(eventsOf(u, 'unstaked')).toEqual([{ dao, staker: bob.address, amount: 101n, settled: 1_349n }]);
    expect(tok(c, bob.address)).toBe(2_801n);

    // Round 3: 1000 over 399 -> floor(1000e18 / 399) = 2506265664160401002 per 1e18 units.
    c.ok(carol, 'staking', 'fund_rewards', amt(dao, 1_000n));
    const acc = 4_498_000_000_000_000_000n + 2_506_265_664_160_401_002n;
    expect(c.view('getPool', [dao])).toMatchObject({ totalStaked: '399', accRewardPerShare: `${acc}`, rewardBalance: '2999' });
    expect((200n * (acc - 2_500_000_000_000_000_000n)) / ACC_SCALE).toBe(900n);
    expect(position(c, dao, alice)).toEqual({ staked: '200', pending: '900', claimable: '250' });
    expect(position(c, dao, bob)).toEqual({ staked: '199', pending: '498', claimable: '1349' });
    checkInvariants(c);

    const [aliceCoin, bobCoin] = [coin(c, alice.address), coin(c, bob.address)];
    const claims = c.block([c.tx(alice, 'staking', 'claim', [v.address(dao)]), c.tx(bob, 'staking', 'claim', [v.address(dao)])]);
    claims.forEach(expectOk);
    expect(eventsOf(claims[0]!, 'claimed')).toEqual([{ dao, staker: alice.address, amount: 1_150n }]);
    expect(eventsOf(claims[1]!, 'claimed')).toEqual([{ dao, staker: bob.address, amount: 1_847n }]);
    expect(coin(c, alice.address)).toBe(aliceCoin + 1_150n - claims[0]!.receipt.fee);
    expect(coin(c, bob.address)).toBe(bobCoin + 1_847n - claims[1]!.receipt.fee);
    // 2999 funded, 2997 paid: the 2 units of rounding dust stay in the pool.
    expect(c.view('getPool', [dao]).rewardBalance).toBe('2');
    expect(position(c, dao, alice)).toEqual({ staked: '200', pending: '0', claimable: '0' });
    fails(c, alice, 'staking', 'claim', [v.address(dao)], 'NOTHING_TO_CLAIM');
    checkInvariants(c);
  });

  it('rewards funded while nothing is staked wait undistributed until the next stake', () => {
    const { c, dao } = newChain();
    const f = c.ok(carol, 'staking', 'fund_rewards', amt(dao, 500n));
    expect(eventsOf(f, 'rewards_funded')[0]).toMatchObject({ acc_reward_per_share: 0n, undistributed: 500n });
    expect(c.view('getPool', [dao])).toMatchObject({ totalStaked: '0', accRewardPerShare: '0', undistributed: '500', rewardBalance: '500' });
    const s = c.ok(alice, 'staking', 'stake', amt(dao, 10n));
    expect(eventsOf(s, 'rewards_released')).toEqual([{ dao, amount: 500n, acc_reward_per_share: 50n * ACC_SCALE }]);
    expect(position(c, dao, alice)).toEqual({ staked: '10', pending: '500', claimable: '0' });
    c.ok(bob, 'staking', 'stake', amt(dao, 30n));
    expect(position(c, dao, bob)).toEqual({ staked: '30', pending: '0', claimable: '0' });
    c.ok(carol, 'staking', 'fund_rewards', amt(dao, 40n));
    expect(position(c, dao, alice)).toEqual({ staked: '10', pending: '510', claimable: '0' });
    expect(position(c, dao, bob)).toEqual({ staked: '30', pending: '30', claimable: '0' });
    checkInvariants(c);
  });

  it('unstaking everything and claiming removes the position', () => {
    const { c, dao } = newChain();
    c.ok(alice, 'staking', 'stake', amt(dao, 100n));
    c.ok(carol, 'staking', 'fund_rewards', amt(dao, 77n));
    c.ok(alice, 'staking', 'unstake', amt(dao, 100n));
    expect(position(c, dao, alice)).toEqual({ staked: '0', pending: '0', claimable: '77' });
    expect(tok(c, alice.address)).toBe(1_000n);
    c.ok(alice, 'staking', 'claim', [v.address(dao)]);
    expect(c.state.has(positionKey(dao, alice.address))).toBe(false);
    expect(c.view('getPool', [dao])).toMatchObject({ totalStaked: '0', rewardBalance: '0' });
    checkInvariants(c);
  });

  it('a DAO funds rewards from its treasury with a kind-3 proposal calling staking.fund_rewards', () => {
    const { c, dao } = newChain();
    c.block([c.tx(alice, 'staking', 'stake', amt(dao, 100n)), c.tx(bob, 'staking', 'stake', amt(dao, 300n)), c.tx(carol, 'dao', 'deposit', amt(dao, 10_000n))]).forEach(expectOk);
    const p = c.ok(alice, 'dao', 'propose', [v.address(dao), v.u64(3n), v.bytes(encodeCallPayload({ module: 'staking', call: 'fund_rewards', args: amt(dao, 4_000n) })), v.string('share the treasury')]);
    const proposal = deriveId('dao-proposal', p.tx.hash);
    c.ok(bob, 'dao', 'vote', [v.address(dao), v.address(proposal), v.bool(true), v.u128(2_000n)]);
    c.height += 5n;
    const ex = c.ok(dave, 'dao', 'execute', [v.address(dao), v.address(proposal)]);
    expect(eventsOf(ex, 'rewards_funded')[0]).toMatchObject({ dao, from: dao, amount: 4_000n });
    expect(coin(c, dao)).toBe(6_000n);
    expect(c.view('getPool', [dao]).rewardBalance).toBe('4000');
    expect(position(c, dao, alice).pending).toBe('1000');
    expect(position(c, dao, bob).pending).toBe('3000');
    c.ok(bob, 'dao', 'unlock', [v.address(dao), v.address(proposal)]);
    checkInvariants(c);
  });
});

describe('staking: every rule fails with its own code and changes nothing but fee and nonce', () => {
  it('unknown DAO, zero amounts, too little to stake, unstake too much, claim twice, fund without coins, staked tokens are not a membership', () => {
    const { c, dao } = newChain();
    const nowhere = deriveId('dao', new Uint8Array(32));
    fails(c, alice, 'staking', 'stake', amt(nowhere, 1n), 'DAO_NOT_FOUND');
    fails(c, alice, 'staking', 'claim', [v.address(nowhere)], 'DAO_NOT_FOUND');
    fails(c, alice, 'staking', 'stake', amt(dao, 0n), 'INVALID_AMOUNT');
    fails(c, alice, 'staking', 'stake', amt(dao, 1_001n), 'INSUFFICIENT_TOKEN_BALANCE');
    fails(c, alice, 'staking', 'unstake', amt(dao, 1n), 'INSUFFICIENT_STAKE');
    c.ok(alice, 'staking', 'stake', amt(dao, 1_000n));
    fails(c, alice, 'staking', 'unstake', amt(dao, 1_001n), 'INSUFFICIENT_STAKE');
    fails(c, alice, 'staking', 'unstake', amt(dao, 0n), 'INVALID_AMOUNT');
    fails(c, alice, 'staking', 'claim', [v.address(dao)], 'NOTHING_TO_CLAIM');
    fails(c, carol, 'staking', 'fund_rewards', amt(dao, 0n), 'INVALID_AMOUNT');
    fails(c, carol, 'staking', 'fund_rewards', amt(dao, FUND * 2n), 'INSUFFICIENT_BALANCE');
    // Staked tokens do not count as membership: alice staked all of hers.
    fails(c, alice, 'dao', 'propose', [v.address(dao), v.u64(1n), v.bytes(new Uint8Array(56)), v.string('')], 'NOT_A_MEMBER');
    c.ok(carol, 'staking', 'fund_rewards', amt(dao, 10n));
    c.ok(alice, 'staking', 'claim', [v.address(dao)]);
    fails(c, alice, 'staking', 'claim', [v.address(dao)], 'NOTHING_TO_CLAIM');
    checkInvariants(c);
  });

  it('an accumulator that would leave u128 fails with ARITHMETIC_OVERFLOW', () => {
    const { c, dao } = newChain(undefined, 10n ** 24n);
    c.ok(alice, 'staking', 'stake', amt(dao, 1n));
    // 10^21 * 10^18 / 1 = 10^39 > 2^128 - 1 (~3.4 * 10^38).
    fails(c, whale, 'staking', 'fund_rewards', amt(dao, 10n ** 21n), 'ARITHMETIC_OVERFLOW');
    c.ok(whale, 'staking', 'fund_rewards', amt(dao, 3n * 10n ** 20n));
    fails(c, whale, 'staking', 'fund_rewards', amt(dao, 10n ** 20n), 'ARITHMETIC_OVERFLOW');
    expect(position(c, dao, alice).pending).toBe(`${3n * 10n ** 20n}`);
    // Undistributed rewards too large for the next stake: that stake fails, a larger one succeeds.
    const { c: c2, dao: dao2 } = newChain(undefined, 10n ** 24n);
    c2.ok(whale, 'staking', 'fund_rewards', amt(dao2, 10n ** 21n));
    fails(c2, alice, 'staking', 'stake', amt(dao2, 1n), 'ARITHMETIC_OVERFLOW');
    c2.ok(alice, 'staking', 'stake', amt(dao2, 10n));
    expect(position(c2, dao2, alice).pending).toBe(`${10n ** 21n}`);
    checkInvariants(c);
    checkInvariants(c2);
  });
});
