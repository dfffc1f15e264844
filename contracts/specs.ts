/**
 * The built-in modules' calls and views as plain data: names, argument and parameter
 * declarations, summaries. Module code spreads its own spec into each call
 * (`defineCall({ ...TOKEN_SPEC.calls.transfer, run })`), so these are the declarations the
 * executor checks; clients (sdk/, the CLI) build calls from them without loading any module
 * implementation. Imports nothing but the spec files.
 */
import type { ValueType } from '../protocol/value.js';
import type { ViewParamType } from './types.js';
import { AMM_SPEC } from './amm/spec.js';
import { COIN_SPEC } from './coin/spec.js';
import { DAO_SPEC } from './dao/spec.js';
import { FEE_SPEC } from './fee/spec.js';
import { NFT_SPEC } from './nft/spec.js';
import { STAKING_SPEC } from './staking/spec.js';
import { TOKEN_SPEC } from './token/spec.js';

export interface CallDecl {
  readonly args: readonly (readonly [name: string, type: ValueType])[];
  readonly summary: string;
}

export interface ViewDecl {
  readonly params: readonly (readonly [name: string, type: ViewParamType])[];
  readonly summary: string;
}

export interface ModuleSpec {
  readonly name: string;
  readonly calls: Readonly<Record<string, CallDecl>>;
  readonly views: Readonly<Record<string, ViewDecl>>;
}

/** The built-in modules by name, with their literal types (the SDK's typed builders read them). */
export const SPECS = { coin: COIN_SPEC, token: TOKEN_SPEC, nft: NFT_SPEC, dao: DAO_SPEC, staking: STAKING_SPEC, fee: FEE_SPEC, amm: AMM_SPEC } as const;

/** The built-in modules, in registry order (test/unit/contracts/specs.test.ts holds them equal to the registry). */
export const BUILTIN_SPECS: readonly ModuleSpec[] = Object.values(SPECS);

/** A built-in module's spec by name. */
export function moduleSpec(name: string): ModuleSpec | undefined {
  return BUILTIN_SPECS.find((m) => m.name === name);
}
