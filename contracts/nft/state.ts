/**
 * NFT state: layout, canonical encodings and the lookups the calls and views share.
 *
 *   nft/collection/<id>             creator | name | uri | royaltyBps | royaltyRecipient | maxSupply
 *                                   (encodeCollection; written once, never changed)
 *   nft/minted/<id>                 u64 tokens minted so far = the last token id (read-modify-write
 *                                   by `mint` only: the creator is the only writer)
 *   nft/burned/<id>                 u128 tokens burned (delta counter: never read by a call)
 *   nft/owner/<id>/<tokenId>        [20] owner (present = the token exists)
 *   nft/uri/<id>/<tokenId>          string metadata URI (written at mint, deleted at burn)
 *   nft/listing/<id>/<tokenId>      seller | price | currency (encodeListing; present = listed)
 *
 * <id> is the collection id as 40 lower-case hex digits; <tokenId> is the u64 token id in
 * decimal. The collection record is immutable and the mint counter lives apart from it, so
 * transfers, listings and sales (which read the record for existence and royalty) never
 * conflict with mints under Block-STM; the owner lives apart from the URI so a transfer or
 * sale rewrites 20 bytes, not the metadata.
 */
import { decodeU128, decodeU64, Reader, Writer } from '../../protocol/codec.js';
import { addressHex } from '../../protocol/hex.js';
import { ExecutionFailure, type StateView } from '../types.js';

type Getter = Pick<StateView, 'get'>;

export interface Collection {
  readonly creator: Uint8Array;
  readonly name: string;
  readonly uri: string;
  /** Royalty in basis points (at most MAX_ROYALTY_BPS). */
  readonly royaltyBps: number;
  readonly royaltyRecipient: Uint8Array;
  /** 0 = unlimited. */
  readonly maxSupply: bigint;
}

export interface Listing {
  readonly seller: Uint8Array;
  readonly price: bigint;
  /** All-zero address = native coin, else a fungible token id. */
  readonly currency: Uint8Array;
}

/** The currency id of the native coin in listings and `buy`. */
export const NATIVE_CURRENCY = new Uint8Array(20);
/** Highest royalty a collection may set: 50%. */
export const MAX_ROYALTY_BPS = 5_000;

export const collectionKey = (id: Uint8Array): string => `nft/collection/${addressHex(id)}`;
export const mintedKey = (id: Uint8Array): string => `nft/minted/${addressHex(id)}`;
export const burnedKey = (id: Uint8Array): string => `nft/burned/${addressHex(id)}`;
export const ownerKey = (id: Uint8Array, tokenId: bigint): string => `nft/owner/${addressHex(id)}/${tokenId}`;
export const uriKey = (id: Uint8Array, tokenId: bigint): string => `nft/uri/${addressHex(id)}/${tokenId}`;
export const listingKey = (id: Uint8Array, tokenId: bigint): string => `nft/listing/${addressHex(id)}/${tokenId}`;

export function encodeCollection(c: Collection): Uint8Array {
  return new Writer(128).raw(c.creator, 20).string(c.name).string(c.uri).u16(c.royaltyBps).raw(c.royaltyRecipient, 20).u64(c.maxSupply).finish();
}

export function decodeCollection(b: Uint8Array): Collection {
  const r = new Reader(b, 'nft collection');
  const c = { creator: r.raw(20, 'creator'), name: r.string('name'), uri: r.string('uri'), royaltyBps: r.u16('royaltyBps'), royaltyRecipient: r.raw(20, 'royaltyRecipient'), maxSupply: r.u64('maxSupply') };
  r.end();
  return c;
}

export function encodeListing(l: Listing): Uint8Array {
  return new Writer(56).raw(l.seller, 20).u128(l.price).raw(l.currency, 20).finish();
}

export function decodeListing(b: Uint8Array): Listing {
  const r = new Reader(b, 'nft listing');
  const l = { seller: r.raw(20, 'seller'), price: r.u128('price'), currency: r.raw(20, 'currency') };
  r.end();
  return l;
}

export function encodeOwner(owner: Uint8Array): Uint8Array {
  return new Writer(20).raw(owner, 20).finish();
}

export function decodeOwner(b: Uint8Array): Uint8Array {
  const r = new Reader(b, 'nft owner');
  const o = r.raw(20, 'owner');
  r.end();
  return o;
}

export function encodeUri(uri: string): Uint8Array {
  return new Writer(uri.length + 4).string(uri).finish();
}

export function decodeUri(b: Uint8Array): string {
  const r = new Reader(b, 'nft uri');
  const s = r.string('uri');
  r.end();
  return s;
}

export function getCollection(view: Getter, id: Uint8Array): Collection | undefined {
  const b = view.get(collectionKey(id));
  return b ? decodeCollection(b) : undefined;
}

/** The collection, or fails the call with COLLECTION_NOT_FOUND. */
export function requireCollection(view: Getter, id: Uint8Array): Collection {
  const c = getCollection(view, id);
  if (!c) throw new ExecutionFailure('COLLECTION_NOT_FOUND', `no NFT collection ${addressHex(id)}: check the id (it is in the nft.collection_created event of the creating tx)`);
  return c;
}

export function getOwner(view: Getter, id: Uint8Array, tokenId: bigint): Uint8Array | undefined {
  const b = view.get(ownerKey(id, tokenId));
  return b ? decodeOwner(b) : undefined;
}

/** The token's owner, or fails the call with NFT_NOT_FOUND. */
export function requireOwner(view: Getter, id: Uint8Array, tokenId: bigint): Uint8Array {
  const o = getOwner(view, id, tokenId);
  if (!o) throw new ExecutionFailure('NFT_NOT_FOUND', `collection ${addressHex(id)} has no token ${tokenId} (never minted, or burned)`);
  return o;
}

export function getListing(view: Getter, id: Uint8Array, tokenId: bigint): Listing | undefined {
  const b = view.get(listingKey(id, tokenId));
  return b ? decodeListing(b) : undefined;
}

export function getUri(view: Getter, id: Uint8Array, tokenId: bigint): string | undefined {
  const b = view.get(uriKey(id, tokenId));
  return b ? decodeUri(b) : undefined;
}

/** Tokens minted so far in the collection (= the highest token id). */
export function getMinted(view: Getter, id: Uint8Array): bigint {
  return decodeU64(view.get(mintedKey(id)));
}

export function getBurned(view: Getter, id: Uint8Array): bigint {
  return decodeU128(view.get(burnedKey(id)));
}
