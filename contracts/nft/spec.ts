/** `nft`: its calls' arguments and its views' parameters as plain data (contracts/specs.ts). */
export const NFT_SPEC = {
  name: 'nft',
  calls: {
    create_collection: {
      args: [['name', 'string'], ['uri', 'string'], ['royalty_bps', 'u64'], ['royalty_recipient', 'address'], ['max_supply', 'u64']],
      summary: 'Create a collection owned by the sender (id derived from the tx hash); royalty_bps <= 5000 is paid to royalty_recipient on every sale; max_supply 0 = unlimited.',
    },
    mint: {
      args: [['collection', 'address'], ['to', 'address'], ['uri', 'string']],
      summary: "Mint the collection's next token (ids 1, 2, ...) to `to`; creator only.",
    },
    transfer: {
      args: [['collection', 'address'], ['token_id', 'u64'], ['to', 'address']],
      summary: 'Give the token to `to`; owner only. Ends any listing of the token.',
    },
    burn: {
      args: [['collection', 'address'], ['token_id', 'u64']],
      summary: 'Destroy the token; owner only. Ends any listing of the token; its id is never reused.',
    },
    list: {
      args: [['collection', 'address'], ['token_id', 'u64'], ['price', 'u128'], ['currency', 'address']],
      summary: 'Offer the token for `price` in `currency` (zero address = native coin, else a token id); owner only. Replaces an earlier listing of the token.',
    },
    cancel: {
      args: [['collection', 'address'], ['token_id', 'u64']],
      summary: 'Withdraw the listing of the token; the lister only.',
    },
    buy: {
      args: [['collection', 'address'], ['token_id', 'u64'], ['price', 'u128'], ['currency', 'address']],
      summary: 'Buy a listed token at the price and currency the buyer expects to pay; royalty to the royalty recipient, the market fee to the protocol treasury, the rest to the seller.',
    },
  },
  views: {
    getCollection: {
      params: [['collection', 'id']],
      summary: 'A collection: creator, name, uri, royalty, supply counters; null if unknown.',
    },
    getToken: {
      params: [['collection', 'id'], ['tokenId', 'u64']],
      summary: 'A token: owner and metadata URI; null if never minted or burned.',
    },
    getListing: {
      params: [['collection', 'id'], ['tokenId', 'u64']],
      summary: 'The listing of a token: seller, price, currency (0x00..00 = native coin); null if not listed.',
    },
  },
} as const;
