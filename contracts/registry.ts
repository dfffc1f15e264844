import { coinModule } from './coin/module.js';
import type { Module } from './types.js';

/** Every built-in module, by name. */
export const builtinModules: ReadonlyMap<string, Module> = new Map([[coinModule.name, coinModule]]);
