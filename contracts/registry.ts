import { ammModule } from './amm/module.js';
import { coinModule } from './coin/module.js';
import { daoModule, setModuleResolver } from './dao/module.js';
import { feeModule } from './fee/module.js';
import { nftModule } from './nft/module.js';
import { stakingModule } from './staking/module.js';
import { tokenModule } from './token/module.js';
import { mockModule } from './testing/mock.js';
import { syntheticModule } from './testing/synthetic.js';
import type { Module } from './types.js';

/** Every built-in module, by name. */
export const builtinModules: ReadonlyMap<string, Module> = new Map(
  [coinModule, tokenModule, nftModule, daoModule, stakingModule, feeModule, ammModule].map((m) => [m.name, m]),
);

// DAO proposals of kind 3 call another module on the DAO's behalf: built-in modules only.
setModuleResolver((name) => builtinModules.get(name));

/** Modules for tests and benchmarks only; a node never registers them. */
const testingModules: Readonly<Record<string, Module>> = { mock: mockModule, synthetic: syntheticModule };

export type ModuleSet = 'builtin' | 'builtin+testing';

/** Resolve a module set by name (worker threads receive the name, not the objects). */
export function moduleSet(name: ModuleSet): ReadonlyMap<string, Module> {
  if (name === 'builtin') return builtinModules;
  return new Map([...builtinModules, ...Object.entries(testingModules)]);
}
