import type { Module } from '../types.js';

/** Placeholder: being written (see issue "Built-in modules"). */
export const stakingModule: Module = { name: 'staking', calls: {}, views: {} };
