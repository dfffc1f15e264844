/**
 * The `nft` module: collections with a creator royalty on every sale, minting, transfers,
 * burns and a built-in fixed-price marketplace (native coin or any fungible token).
 * State layout: ./state.ts; sale arithmetic: ./market.ts; base gas: ./gas.ts;
 * reference: docs/MODULES.md.
 *
 * Conflicts under Block-STM: counters nothing reads in the same tx (burned, every credit of
 * a sale) are deltas; the mint counter and the buyer's debit are read-modify-write because a
 * check needs the value.
 */
import { defineCall, defineView, eventsOf } from '../args.js';
import { NFT_SPEC } from './spec.js';
import { encodeU64, U64_MAX } from '../../protocol/codec.js';
import { addressHex, bytesEqual, toHex } from '../../protocol/hex.js';
import { v } from '../../protocol/value.js';
import { credit, debit } from '../coin/state.js';
import { deriveId } from '../ids.js';
import { creditToken, debitToken, requireToken } from '../token/state.js';
import { ExecutionFailure, type Module, type StateView } from '../types.js';
import { splitSale } from './market.js';
import {
  burnedKey,
  collectionKey,
  encodeCollection,
  encodeListing,
  encodeOwner,
  encodeUri,
  getBurned,
  getCollection,
  getListing,
  getMinted,
  getOwner,
  getUri,
  listingKey,
  MAX_ROYALTY_BPS,
  mintedKey,
  NATIVE_CURRENCY,
  ownerKey,
  requireCollection,
  requireOwner,
  uriKey,
} from './state.js';


const event = eventsOf('nft');

function requireTokenOwner(view: StateView, collection: Uint8Array, tokenId: bigint, sender: Uint8Array, action: string): Uint8Array {
  const owner = requireOwner(view, collection, tokenId);
  if (!bytesEqual(owner, sender)) {
    throw new ExecutionFailure('NOT_TOKEN_OWNER', `only the owner (${toHex(owner)}) may ${action} token ${tokenId} of collection ${addressHex(collection)}`);
  }
  return owner;
}

/** Remove the token's listing, if any (transfer and burn end it); emits nft.cancelled with the reason. */
function endListing(view: StateView, collection: Uint8Array, tokenId: bigint, reason: 'cancel' | 'transfer' | 'burn'): void {
  const key = listingKey(collection, tokenId);
  const listing = getListing(view, collection, tokenId);
  if (!listing) return;
  view.set(key, null);
  view.emit(event('cancelled', { collection: v.address(collection), token_id: v.u64(tokenId), seller: v.address(listing.seller), reason: v.string(reason) }));
}

const createCollection = defineCall({
  ...NFT_SPEC.calls.create_collection,
  run(view, ctx, { name, uri, royalty_bps: royaltyBps, royalty_recipient: royaltyRecipient, max_supply: maxSupply }) {
    if (royaltyBps > BigInt(MAX_ROYALTY_BPS)) {
      throw new ExecutionFailure('ROYALTY_TOO_HIGH', `royalty_bps ${royaltyBps} is above the maximum ${MAX_ROYALTY_BPS} (50%)`);
    }
    const id = deriveId('nft-collection', ctx.txHash);
    // Unreachable unless SHA-256 collides: every tx hash is included at most once.
    if (view.get(collectionKey(id)) !== undefined) throw new ExecutionFailure('COLLECTION_EXISTS', `collection ${addressHex(id)} already exists`);
    view.set(collectionKey(id), encodeCollection({ creator: ctx.sender, name, uri, royaltyBps: Number(royaltyBps), royaltyRecipient, maxSupply }));
    view.emit(event('collection_created', {
      collection: v.address(id),
      creator: v.address(ctx.sender),
      name: v.string(name),
      uri: v.string(uri),
      royalty_bps: v.u64(royaltyBps),
      royalty_recipient: v.address(royaltyRecipient),
      max_supply: v.u64(maxSupply),
    }));
  },
});

const mint = defineCall({
  ...NFT_SPEC.calls.mint,
  run(view, ctx, { collection, to, uri }) {
    const c = requireCollection(view, collection);
    if (!bytesEqual(c.creator, ctx.sender)) {
      throw new ExecutionFailure('NOT_COLLECTION_CREATOR', `only the creator (${toHex(c.creator)}) may mint in collection ${addressHex(collection)}`);
    }
    const minted = getMinted(view, collection);
    if ((c.maxSupply !== 0n && minted >= c.maxSupply) || minted === U64_MAX) {
      throw new ExecutionFailure('MAX_SUPPLY_EXCEEDED', `collection ${addressHex(collection)} has minted ${minted} of its maximum supply ${c.maxSupply}`);
    }
    const tokenId = minted + 1n;
    view.set(mintedKey(collection), encodeU64(tokenId));
    view.set(ownerKey(collection, tokenId), encodeOwner(to));
    view.set(uriKey(collection, tokenId), encodeUri(uri));
    view.emit(event('minted', { collection: v.address(collection), token_id: v.u64(tokenId), to: v.address(to), uri: v.string(uri) }));
  },
});

const transfer = defineCall({
  ...NFT_SPEC.calls.transfer,
  run(view, ctx, { collection, token_id: tokenId, to }) {
    requireCollection(view, collection);
    requireTokenOwner(view, collection, tokenId, ctx.sender, 'transfer');
    view.set(ownerKey(collection, tokenId), encodeOwner(to));
    view.emit(event('transferred', { collection: v.address(collection), token_id: v.u64(tokenId), from: v.address(ctx.sender), to: v.address(to) }));
    endListing(view, collection, tokenId, 'transfer');
  },
});

const burn = defineCall({
  ...NFT_SPEC.calls.burn,
  run(view, ctx, { collection, token_id: tokenId }) {
    requireCollection(view, collection);
    requireTokenOwner(view, collection, tokenId, ctx.sender, 'burn');
    view.set(ownerKey(collection, tokenId), null);
    view.set(uriKey(collection, tokenId), null);
    view.addDelta(burnedKey(collection), 1n);
    view.emit(event('burned', { collection: v.address(collection), token_id: v.u64(tokenId), owner: v.address(ctx.sender) }));
    endListing(view, collection, tokenId, 'burn');
  },
});

const list = defineCall({
  ...NFT_SPEC.calls.list,
  run(view, ctx, { collection, token_id: tokenId, price, currency }) {
    if (price === 0n) throw new ExecutionFailure('INVALID_PRICE', 'price must be above 0 (use transfer to give a token away)');
    requireCollection(view, collection);
    requireTokenOwner(view, collection, tokenId, ctx.sender, 'list');
    if (!bytesEqual(currency, NATIVE_CURRENCY)) requireToken(view, currency);
    view.set(listingKey(collection, tokenId), encodeListing({ seller: ctx.sender, price, currency }));
    view.emit(event('listed', { collection: v.address(collection), token_id: v.u64(tokenId), seller: v.address(ctx.sender), price: v.u128(price), currency: v.address(currency) }));
  },
});

const cancel = defineCall({
  ...NFT_SPEC.calls.cancel,
  run(view, ctx, { collection, token_id: tokenId }) {
    requireCollection(view, collection);
    const listing = getListing(view, collection, tokenId);
    if (!listing) throw new ExecutionFailure('NOT_LISTED', `token ${tokenId} of collection ${addressHex(collection)} is not listed`);
    if (!bytesEqual(listing.seller, ctx.sender)) throw new ExecutionFailure('NOT_LISTER', `only the lister (${toHex(listing.seller)}) may cancel this listing`);
    endListing(view, collection, tokenId, 'cancel');
  },
});

const buy = defineCall({
  ...NFT_SPEC.calls.buy,
  run(view, ctx, { collection, token_id: tokenId, price, currency }) {
    const c = requireCollection(view, collection);
    const listing = getListing(view, collection, tokenId);
    const owner = getOwner(view, collection, tokenId);
    // transfer, burn and sale delete the listing, so a listing's seller is always the owner;
    // checked anyway so that a stale listing can never sell someone else's token.
    if (!listing || !owner || !bytesEqual(owner, listing.seller)) {
      throw new ExecutionFailure('NOT_LISTED', `token ${tokenId} of collection ${addressHex(collection)} is not listed (never listed, cancelled, transferred, burned or already sold)`);
    }
    if (bytesEqual(listing.seller, ctx.sender)) throw new ExecutionFailure('CANNOT_BUY_OWN', 'the sender is the seller of this listing: cancel it instead');
    if (listing.price !== price || !bytesEqual(listing.currency, currency)) {
      throw new ExecutionFailure('WRONG_PRICE', `the listing asks ${listing.price} of ${toHex(listing.currency)}, the buyer offered ${price} of ${toHex(currency)}: read nft_getListing and retry`);
    }
    // The treasury in force for this block (as for gas fees), not a mid-block change.
    const treasury = ctx.treasury;
    const split = splitSale(price, c.royaltyBps);
    if (bytesEqual(currency, NATIVE_CURRENCY)) {
      debit(view, ctx.sender, price);
      credit(view, c.royaltyRecipient, split.royalty);
      credit(view, treasury, split.protocolFee);
      credit(view, listing.seller, split.seller);
    } else {
      debitToken(view, currency, ctx.sender, price);
      creditToken(view, currency, c.royaltyRecipient, split.royalty);
      creditToken(view, currency, treasury, split.protocolFee);
      creditToken(view, currency, listing.seller, split.seller);
    }
    view.set(ownerKey(collection, tokenId), encodeOwner(ctx.sender));
    view.set(listingKey(collection, tokenId), null);
    view.emit(event('sold', {
      collection: v.address(collection),
      token_id: v.u64(tokenId),
      seller: v.address(listing.seller),
      buyer: v.address(ctx.sender),
      price: v.u128(price),
      currency: v.address(currency),
      royalty: v.u128(split.royalty),
      protocol_fee: v.u128(split.protocolFee),
    }));
  },
});

// ---- views ------------------------------------------------------------------------------

const getCollectionView = defineView({
  ...NFT_SPEC.views.getCollection,
  run(state, { collection: id }) {
    const c = getCollection(state, id);
    if (!c) return null;
    return {
      id: toHex(id),
      creator: toHex(c.creator),
      name: c.name,
      uri: c.uri,
      royaltyBps: c.royaltyBps,
      royaltyRecipient: toHex(c.royaltyRecipient),
      maxSupply: c.maxSupply.toString(),
      minted: getMinted(state, id).toString(),
      burned: getBurned(state, id).toString(),
    };
  },
});

const getTokenView = defineView({
  ...NFT_SPEC.views.getToken,
  run(state, { collection: id, tokenId }) {
    const owner = getOwner(state, id, tokenId);
    if (!owner) return null;
    return { collection: toHex(id), tokenId: tokenId.toString(), owner: toHex(owner), uri: getUri(state, id, tokenId) ?? '' };
  },
});

const getListingView = defineView({
  ...NFT_SPEC.views.getListing,
  run(state, { collection, tokenId }) {
    const l = getListing(state, collection, tokenId);
    if (!l) return null;
    return { seller: toHex(l.seller), price: l.price.toString(), currency: toHex(l.currency) };
  },
});

export const nftModule: Module = {
  name: 'nft',
  calls: { create_collection: createCollection, mint, transfer, burn, list, cancel, buy },
  views: { getCollection: getCollectionView, getToken: getTokenView, getListing: getListingView },
};
