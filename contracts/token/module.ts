import type { Module } from '../types.js';

/** Placeholder: being written. */
export const tokenModule: Module = { name: 'token', calls: {}, views: {} };
