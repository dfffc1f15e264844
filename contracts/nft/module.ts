import type { Module } from '../types.js';

/** Placeholder: being written (see issue "Built-in modules"). */
export const nftModule: Module = { name: 'nft', calls: {}, views: {} };
