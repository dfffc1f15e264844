/**
 * Builders for every built-in module call, driven by the modules' argument specs (plain data,
 * contracts/specs.ts; no module implementation is loaded):
 * `moduleCallArgs('token', 'transfer', { token: '0x…', to: '0x…', amount: '5' })` gives the
 * typed, ordered Values the call expects. The CLI and the demo use this; adding a call to a
 * module adds its builder.
 */
import { BUILTIN_SPECS, moduleSpec, type CallDecl } from '../contracts/specs.js';
import { ProtocolError } from '../protocol/errors.js';
import type { KeyPair } from '../protocol/keys.js';
import type { SignedTx } from '../protocol/tx.js';
import { valueFromJson, type Value, type ValueType } from '../protocol/value.js';
import { buildCall, DEFAULT_EXPIRY_BLOCKS } from './tx.js';
import type { PelClient, ReceiptJson } from './client.js';

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

export function moduleCallArgs(module: string, call: string, named: Readonly<Record<string, unknown>>): Value[] {
  const spec = callSpec(module, call);
  const known = new Set(spec.args.map(([n]) => n));
  for (const k of Object.keys(named)) if (!known.has(k)) throw new ProtocolError('INVALID_VALUE', `${module}.${call} has no argument ${k}; arguments: ${[...known].join(', ') || 'none'}`);
  return spec.args.map(([name, type]) => {
    if (!(name in named)) throw new ProtocolError('INVALID_VALUE', `${module}.${call} needs ${name} (${type})`);
    return toValue(type, named[name], `${module}.${call} ${name}`);
  });
}

export interface ModuleCall {
  module: string;
  call: string;
  args: Readonly<Record<string, unknown>>;
}

export function buildModuleCall(p: ModuleCall & { chainId: number; key: KeyPair; nonce: bigint; expiry: bigint; gasLimit?: bigint; gasPrice?: bigint }): SignedTx {
  return buildCall({ ...p, args: moduleCallArgs(p.module, p.call, p.args) });
}

/** Build, sign, submit and wait for one call; nonce and expiry come from the node. */
export async function sendModuleCall(client: PelClient, key: KeyPair, c: ModuleCall, opts: { gasLimit?: bigint; gasPrice?: bigint } = {}): Promise<ReceiptJson> {
  const [info, acct] = await Promise.all([client.getInfo(), client.getAccount(key.address)]);
  const tx = buildModuleCall({ ...c, ...opts, chainId: info.chainId, key, nonce: BigInt(acct.nonce), expiry: BigInt(info.height) + DEFAULT_EXPIRY_BLOCKS });
  return client.sendRawTxAndWait(tx.raw);
}
