/**
 * `token`: fungible tokens beside the native coin. Total supply is a delta counter bounded
 * by the max supply, so mints by the authority and burns by holders do not conflict
 * under the parallel executor unless the bound could be crossed.
 */
import { defineCall, defineView, eventsOf } from '../args.js';
import { TOKEN_SPEC } from './spec.js';
import { decodeU128, encodeU128, U128_MAX } from '../../protocol/codec.js';
import { bytesEqual, toHex } from '../../protocol/hex.js';
import { v } from '../../protocol/value.js';
import { deriveId } from '../ids.js';
import { ExecutionFailure, type CallContext, type Module } from '../types.js';
import {
  creditToken, debitToken, decodeTokenInfo, encodeTokenInfo, getTokenInfo, NO_AUTHORITY, requireToken,
  tokenAllowanceKey, tokenBalance, tokenInfoKey, tokenSupplyKey, type TokenInfo,
} from './state.js';


const event = eventsOf('token');

function requireAuthority(t: TokenInfo, ctx: CallContext): void {
  if (bytesEqual(t.mintAuthority, NO_AUTHORITY) || !bytesEqual(t.mintAuthority, ctx.sender)) {
    throw new ExecutionFailure('MINT_NOT_AUTHORIZED', `sender is not the mint authority of this token`);
  }
}

export const tokenModule: Module = {
  name: 'token',
  calls: {
    create: defineCall({
      ...TOKEN_SPEC.calls.create,
      run(view, ctx, { name, symbol, decimals, max_supply }) {
        if (name.length < 1 || name.length > 64) throw new ExecutionFailure('INVALID_ARGUMENTS', 'name must be 1..64 characters');
        if (!/^[A-Za-z0-9]{1,16}$/.test(symbol)) throw new ExecutionFailure('INVALID_ARGUMENTS', 'symbol must be 1..16 letters or digits');
        if (decimals > 36n) throw new ExecutionFailure('INVALID_ARGUMENTS', 'decimals must be at most 36');
        const id = deriveId('token', ctx.txHash);
        view.set(tokenInfoKey(id), encodeTokenInfo({ name, symbol, decimals: Number(decimals), maxSupply: max_supply, mintAuthority: ctx.sender, creator: ctx.sender }));
        view.emit(event('created', { token: v.address(id), creator: v.address(ctx.sender), name: v.string(name), symbol: v.string(symbol), max_supply: v.u128(max_supply) }));
      },
    }),
    mint: defineCall({
      ...TOKEN_SPEC.calls.mint,
      run(view, ctx, { token: id, to, amount }) {
        const t = requireToken(view, id);
        requireAuthority(t, ctx);
        view.addDelta(tokenSupplyKey(id), amount, 'MAX_SUPPLY_EXCEEDED', t.maxSupply === 0n ? U128_MAX : t.maxSupply);
        creditToken(view, id, to, amount);
        view.emit(event('minted', { token: v.address(id), to: v.address(to), amount: v.u128(amount) }));
      },
    }),
    burn: defineCall({
      ...TOKEN_SPEC.calls.burn,
      run(view, ctx, { token: id, amount }) {
        requireToken(view, id);
        debitToken(view, id, ctx.sender, amount);
        view.addDelta(tokenSupplyKey(id), -amount, 'ARITHMETIC_OVERFLOW');
        view.emit(event('burned', { token: v.address(id), from: v.address(ctx.sender), amount: v.u128(amount) }));
      },
    }),
    transfer: defineCall({
      ...TOKEN_SPEC.calls.transfer,
      run(view, ctx, { token: id, to, amount }) {
        requireToken(view, id);
        debitToken(view, id, ctx.sender, amount);
        creditToken(view, id, to, amount);
        view.emit(event('transfer', { token: v.address(id), from: v.address(ctx.sender), to: v.address(to), amount: v.u128(amount) }));
      },
    }),
    approve: defineCall({
      ...TOKEN_SPEC.calls.approve,
      run(view, ctx, { token: id, spender, amount }) {
        requireToken(view, id);
        view.set(tokenAllowanceKey(id, ctx.sender, spender), amount === 0n ? null : encodeU128(amount));
        view.emit(event('approval', { token: v.address(id), owner: v.address(ctx.sender), spender: v.address(spender), amount: v.u128(amount) }));
      },
    }),
    transfer_from: defineCall({
      ...TOKEN_SPEC.calls.transfer_from,
      run(view, ctx, { token: id, owner, to, amount }) {
        requireToken(view, id);
        const key = tokenAllowanceKey(id, owner, ctx.sender);
        const allowance = decodeU128(view.get(key));
        if (allowance < amount) throw new ExecutionFailure('INSUFFICIENT_ALLOWANCE', `allowance ${allowance} is less than ${amount}`);
        view.set(key, allowance === amount ? null : encodeU128(allowance - amount));
        debitToken(view, id, owner, amount);
        creditToken(view, id, to, amount);
        view.emit(event('transfer', { token: v.address(id), from: v.address(owner), to: v.address(to), amount: v.u128(amount) }));
      },
    }),
    set_mint_authority: defineCall({
      ...TOKEN_SPEC.calls.set_mint_authority,
      run(view, ctx, { token: id, new_authority }) {
        const t = requireToken(view, id);
        requireAuthority(t, ctx);
        view.set(tokenInfoKey(id), encodeTokenInfo({ ...t, mintAuthority: new_authority }));
        view.emit(event('mint_authority_changed', { token: v.address(id), authority: v.address(new_authority) }));
      },
    }),
  },
  views: {
    getInfo: defineView({
      ...TOKEN_SPEC.views.getInfo,
      run(state, { token: id }) {
        const b = state.get(tokenInfoKey(id));
        if (!b) return null;
        const t = decodeTokenInfo(b);
        return {
          id: toHex(id), name: t.name, symbol: t.symbol, decimals: t.decimals, maxSupply: t.maxSupply.toString(),
          totalSupply: decodeU128(state.get(tokenSupplyKey(id))).toString(),
          mintAuthority: bytesEqual(t.mintAuthority, NO_AUTHORITY) ? null : toHex(t.mintAuthority), creator: toHex(t.creator),
        };
      },
    }),
    getBalance: defineView({
      ...TOKEN_SPEC.views.getBalance,
      run(state, { token: id, owner }) {
        if (!getTokenInfo(state, id)) return null;
        return { token: toHex(id), owner: toHex(owner), balance: tokenBalance(state, id, owner).toString() };
      },
    }),
    getAllowance: defineView({
      ...TOKEN_SPEC.views.getAllowance,
      run(state, { token: id, owner, spender }) {
        if (!getTokenInfo(state, id)) return null;
        return { token: toHex(id), owner: toHex(owner), spender: toHex(spender), allowance: decodeU128(state.get(tokenAllowanceKey(id, owner, spender))).toString() };
      },
    }),
  },
};

export const TOKEN_GAS: Record<string, bigint> = {
  'token.create': 10_000n,
  'token.mint': 2_000n,
  'token.burn': 2_000n,
  'token.transfer': 1_000n,
  'token.approve': 1_000n,
  'token.transfer_from': 1_500n,
  'token.set_mint_authority': 1_000n,
};
