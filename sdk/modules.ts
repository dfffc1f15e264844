/**
 * Builders for every built-in module call, driven by the modules' argument specs (plain data,
 * contracts/specs.ts; no module implementation is loaded). Typed from the specs:
 *
 *   buildModuleCall({ module: 'token', call: 'transfer', args: { token, to, amount: 5n }, ... })
 *
 * checks at compile time that `token.transfer` exists and takes exactly `token`, `to` and
 * `amount`. With module and call names known only at run time (the CLI), `buildDynamicCall`
 * and `sendDynamicCall` take a plain record and check it when called.
 */
import { BUILTIN_SPECS, moduleSpec, type CallDecl, SPECS } from '../contracts/specs.js';
import { ProtocolError } from '../protocol/errors.js';
import type { KeyPair } from '../protocol/keys.js';
import type { SignedTx } from '../protocol/tx.js';
import { valueFromJson, type Value, type ValueType } from '../protocol/value.js';
import { buildCall, DEFAULT_EXPIRY_BLOCKS } from './tx.js';
import type { PelClient, ReceiptJson } from './client.js';

type Specs = typeof SPECS;
/** A built-in module's name. */
export type ModuleName = keyof Specs;
/** A call of module M. */
export type CallName<M extends ModuleName> = keyof Specs[M]['calls'] & string;
/** What a builder accepts for an argument of wire type T. */
export type ArgInput<T extends ValueType> = T extends 'address' | 'bytes'
  ? Uint8Array | string
  : T extends 'u64' | 'u128'
    ? bigint | number | string
    : T extends 'bool'
      ? boolean
      : string;
type ArgDecls<M extends ModuleName, C extends CallName<M>> = Specs[M]['calls'][C] extends { readonly args: infer D extends readonly (readonly [string, ValueType])[] } ? D : never;
/** The named arguments of call C of module M, typed from its spec. */
export type CallArgs<M extends ModuleName, C extends CallName<M>> = { readonly [E in ArgDecls<M, C>[number] as E[0]]: ArgInput<E[1]> };

export function callSpec(module: string, call: string): CallDecl {
  const m = moduleSpec(module);
  if (!m) throw new ProtocolError('INVALID_NAME', `unknown module ${module}; modules: ${BUILTIN_SPECS.map((s) => s.name).join(', ')}`);
  const spec = Object.hasOwn(m.calls, call) ? m.calls[call] : undefined;
  if (!spec) throw new ProtocolError('INVALID_NAME', `unknown call ${module}.${call}; calls: ${Object.keys(m.calls).join(', ')}`);
  return spec;
}

/** Plain JSON-ish value (string, number, bigint, boolean, Uint8Array) -> typed Value. */
export function toValue(type: ValueType, raw: unknown, what: string): Value {
  if (raw instanceof Uint8Array) return type === 'address' ? { type, value: raw } : { type: 'bytes', value: raw };
  if (typeof raw === 'bigint') return valueFromJson({ type, value: raw.toString() }, what);
  if (typeof raw === 'number') return valueFromJson({ type, value: String(raw) }, what);
  if (type === 'bool' && typeof raw === 'string') return valueFromJson({ type, value: raw === 'true' }, what);
  return valueFromJson({ type, value: raw }, what);
}

/**
 * The typed, ordered Values of a call from its named arguments, for module and call names
 * known only at run time (the CLI): checked against the spec when called.
 */
export function moduleCallArgs(module: string, call: string, named: Readonly<Record<string, unknown>>): Value[] {
  const spec = callSpec(module, call);
  const known = new Set(spec.args.map(([n]) => n));
  for (const k of Object.keys(named)) if (!known.has(k)) throw new ProtocolError('INVALID_VALUE', `${module}.${call} has no argument ${k}; arguments: ${[...known].join(', ') || 'none'}`);
  return spec.args.map(([name, type]) => {
    if (!(name in named)) throw new ProtocolError('INVALID_VALUE', `${module}.${call} needs ${name} (${type})`);
    return toValue(type, named[name], `${module}.${call} ${name}`);
  });
}

/** A call of a built-in module with its arguments by name, typed from the module's spec. */
export interface ModuleCall<M extends ModuleName = ModuleName, C extends CallName<M> = CallName<M>> {
  readonly module: M;
  readonly call: C;
  readonly args: CallArgs<M, C>;
}

/** The same with names known only at run time (checked when built). */
export interface DynamicModuleCall {
  readonly module: string;
  readonly call: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface TxFields {
  readonly chainId: number;
  readonly key: KeyPair;
  readonly nonce: bigint;
  readonly expiry: bigint;
  readonly gasLimit?: bigint;
  readonly gasPrice?: bigint;
}

/** Build and sign a module call; the arguments are type-checked against the call's spec. */
export function buildModuleCall<M extends ModuleName, C extends CallName<M>>(p: ModuleCall<M, C> & TxFields): SignedTx {
  return buildDynamicCall(p as DynamicModuleCall & TxFields);
}

/** buildModuleCall for names known only at run time. */
export function buildDynamicCall(p: DynamicModuleCall & TxFields): SignedTx {
  return buildCall({ ...p, args: moduleCallArgs(p.module, p.call, p.args) });
}

type SendOptions = { gasLimit?: bigint; gasPrice?: bigint };

/** Build, sign, submit and wait for one call; nonce and expiry come from the node. */
export function sendModuleCall<M extends ModuleName, C extends CallName<M>>(client: PelClient, key: KeyPair, c: ModuleCall<M, C>, opts: SendOptions = {}): Promise<ReceiptJson> {
  return sendDynamicCall(client, key, c as DynamicModuleCall, opts);
}

/** sendModuleCall for names known only at run time. */
export async function sendDynamicCall(client: PelClient, key: KeyPair, c: DynamicModuleCall, opts: SendOptions = {}): Promise<ReceiptJson> {
  const [info, acct] = await Promise.all([client.getInfo(), client.getAccount(key.address)]);
  const tx = buildDynamicCall({ ...c, ...opts, chainId: info.chainId, key, nonce: BigInt(acct.nonce), expiry: BigInt(info.height) + DEFAULT_EXPIRY_BLOCKS });
  return client.sendRawTxAndWait(tx.raw);
}
