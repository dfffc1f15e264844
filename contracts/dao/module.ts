import type { Module } from '../types.js';

/** Placeholder: being written (see issue "Built-in modules"). */
export const daoModule: Module = { name: 'dao', calls: {}, views: {} };
