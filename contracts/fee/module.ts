import type { Module } from '../types.js';

/** Placeholder: being written. */
export const feeModule: Module = { name: 'fee', calls: {}, views: {} };
