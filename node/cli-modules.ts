/**
 * `pel token|nft|dao|stake|fee <call|view> [--arg value ...]`: every module call (a signed
 * transaction) and view (a JSON-RPC query), with flags and help generated from the
 * modules' specs (contracts/specs.ts). Argument names map to flags with '-' for '_' (max_supply -> --max-supply).
 */
import { moduleSpec, type ModuleSpec } from '../contracts/specs.js';
import type { KeyPair } from '../protocol/keys.js';
import { PelClient } from '../sdk/client.js';
import { sendDynamicCall } from '../sdk/modules.js';
import { fromHex, toHex } from '../protocol/hex.js';
import { valueFromJson } from '../protocol/value.js';
import { encodeCallPayload, encodeParamsPayload, encodePayoutPayload } from '../contracts/dao/payload.js';
import { PROPOSAL_CALL, PROPOSAL_PARAMS, PROPOSAL_PAYOUT } from '../contracts/dao/state.js';

/** `native` in an asset argument: the all-zero id the exchange and DAO payouts use for the native coin. */
export const NATIVE_ID = '0x' + '00'.repeat(20);
/** Decimals of the native coin (1 coin = 10^9 base units). */
export const NATIVE_DECIMALS = 9;
/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set(['payout', 'params', 'call']);

/** An asset argument: accepts `native`. */
const isAssetArg = (a: string): boolean => a.includes('asset') || a === 'currency';

/** "1.5" in units of an asset with `decimals` -> base units; integers pass through unchanged (base units). */
export function humanAmount(s: string, decimals: number | null, what: string): string {
  if (!s.includes('.')) return s;
  if (decimals === null) throw new Error(`${what}: ${s} has a decimal point, but the asset's decimals are not known here: give base units`);
  const m = /^(\d*)\.(\d*)$/.exec(s);
  if (!m || (m[1] === '' && m[2] === '')) throw new Error(`${what}: ${s} is not a decimal amount`);
  if (m[2]!.length > decimals) throw new Error(`${what}: ${s} has more than ${decimals} decimals`);
  return (BigInt(m[1] || '0') * 10n ** BigInt(decimals) + BigInt((m[2]! + '0'.repeat(decimals)).slice(0, decimals) || '0')).toString();
}

type Rpc = { request<T>(method: string, params?: unknown[]): Promise<T> };

async function decimalsOf(client: Rpc, asset: string): Promise<number | null> {
  if (asset.toLowerCase() === NATIVE_ID) return NATIVE_DECIMALS;
  const info = await client.request<{ decimals: number } | null>('token_getInfo', [asset]);
  return info ? Number(info.decimals) : null;
}

/**
 * The asset each amount argument of a call is counted in (so `--amount-in 1.5` can be
 * scaled by its decimals), looked up from the other arguments and the pool or programme.
 */
async function amountAssets(client: Rpc, module: string, call: string, named: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (module === 'token' && named.token) out.amount = named.token;
  if (module === 'dao' && call === 'deposit') out.amount = NATIVE_ID;
  if (module === 'dao' && call === 'deposit_token' && named.token) out.amount = named.token;
  if (module !== 'amm') return out;
  const pool = async (): Promise<{ asset0: string; asset1: string; lpToken: string } | null> => (named.pool ? client.request('amm_getPool', [named.pool]) : null);
  if (call === 'swap' || call === 'swap_batch' || call === 'swap_path') {
    out.amount_in = named.asset_in!;
    const p = call === 'swap_path' ? null : await pool();
    if (p) out.min_out = p.asset0.toLowerCase() === named.asset_in!.toLowerCase() ? p.asset1 : p.asset0;
  } else if (call === 'add_liquidity' || call === 'remove_liquidity') {
    const p = await pool();
    if (p) {
      for (const a of ['amount0_desired', 'amount0_min']) out[a] = p.asset0;
      for (const a of ['amount1_desired', 'amount1_min']) out[a] = p.asset1;
      out.shares = p.lpToken;
    }
  } else if (call === 'create_programme') out.amount = named.reward_asset!;
  else if (call === 'stake' || call === 'unstake') {
    const g = named.programme ? await client.request<{ lpToken: string } | null>('amm_getProgramme', [named.programme]) : null;
    if (g) out.amount = g.lpToken;
  }
  return out;
}

/** `native` for asset arguments, and decimal amounts scaled by their asset's decimals. */
export async function humanArgs(client: Rpc, module: string, call: string, args: readonly (readonly [string, string])[], named: Record<string, string>): Promise<void> {
  for (const [a, type] of args) if (type === 'address' && isAssetArg(a) && named[a]?.toLowerCase() === 'native') named[a] = NATIVE_ID;
  if (!args.some(([a, type]) => type === 'u128' && named[a]?.includes('.'))) return;
  const assets = await amountAssets(client, module, call, named);
  for (const [a, type] of args) {
    if (type !== 'u128' || !named[a]?.includes('.')) continue;
    const asset = assets[a];
    named[a] = humanAmount(named[a]!, asset ? await decimalsOf(client, asset) : null, `${module}.${call} ${flag(a)}`);
  }
}

/** Ids a receipt created (`*_created` / `proposed` events): one `name: id` line each. */
export function createdIds(receipt: { events: readonly { name: string; fields: Record<string, { type: string; value: unknown }> }[] }): string[] {
  const lines: string[] = [];
  for (const e of receipt.events) {
    if (!e.name.endsWith('created') && e.name !== 'proposed') continue;
    for (const [k, val] of Object.entries(e.fields)) {
      if (['pool', 'lp_token', 'programme', 'token', 'collection', 'dao', 'proposal'].includes(k) && val.type === 'address') lines.push(`${k}: ${String(val.value)}`);
    }
  }
  return lines;
}

/**
 * `pel dao propose --dao D --description S` with one of
 *   --payout --to ADDR --amount N [--currency native|TOKEN]     (kind 1; N may be decimal)
 *   --params --quorum Q --approval-bps B --voting-period P      (kind 2)
 *   --call --module M --call-name C [--args JSON]               (kind 3; args: [{type, value}, ...])
 * builds `kind` and `payload`; without them, --kind and --payload (hex) are taken as given.
 */
export async function proposalArgs(client: Rpc, f: Record<string, string>): Promise<void> {
  const need = (k: string): string => {
    const v = f[k];
    if (v === undefined) throw new Error(`dao.propose ${f.payout ? '--payout' : f.params ? '--params' : '--call'} needs --${k}`);
    return v;
  };
  if (f.payout) {
    const currency = (f.currency ?? 'native').toLowerCase() === 'native' ? NATIVE_ID : f.currency!;
    const amount = BigInt(humanAmount(need('amount'), await decimalsOf(client, currency), 'dao.propose --amount'));
    f.kind = PROPOSAL_PAYOUT.toString();
    f.payload = toHex(encodePayoutPayload({ currency: fromHex(currency, 20, 'currency'), to: fromHex(need('to'), 20, 'to'), amount }));
  } else if (f.params) {
    f.kind = PROPOSAL_PARAMS.toString();
    f.payload = toHex(encodeParamsPayload({ quorum: BigInt(need('quorum')), approvalBps: BigInt(need('approval-bps')), votingPeriod: BigInt(need('voting-period')) }));
  } else if (f.call) {
    const args = JSON.parse(f.args ?? '[]') as unknown[];
    if (!Array.isArray(args)) throw new Error('dao.propose --args must be a JSON array of {type, value}');
    f.kind = PROPOSAL_CALL.toString();
    f.payload = toHex(encodeCallPayload({ module: need('module'), call: need('call-name'), args: args.map((a, i) => valueFromJson(a, `--args[${i}]`)) }));
  }
}

export const MODULE_COMMANDS: Record<string, string> = { token: 'token', nft: 'nft', dao: 'dao', stake: 'staking', staking: 'staking', fee: 'fee', amm: 'amm' };

const flag = (arg: string): string => '--' + arg.replace(/_/g, '-');

export function moduleHelp(cmd: string, m: ModuleSpec): string {
  const lines = [`pel ${cmd} <call | view> [flags] — the ${m.name} module`, '', 'Calls (signed transactions; need --from, print the receipt):'];
  for (const [name, spec] of Object.entries(m.calls)) {
    lines.push(`  ${name} ${spec.args.map(([a, t]) => `${flag(a)} <${t}>`).join(' ')}`, `      ${spec.summary}`);
  }
  const views = Object.entries(m.views);
  if (views.length) {
    lines.push('', 'Views (read-only queries):');
    for (const [name, spec] of views) lines.push(`  ${name} ${spec.params.map(([a, t]) => `${flag(a)} <${t}>`).join(' ')}`, `      ${spec.summary}`);
  }
  lines.push('', 'Common flags: --rpc URL, --from <dev account index | key file> (calls), --gas-limit N, --gas-price N');
  lines.push('Assets: `native` for the native coin. Amounts: base units, or a decimal (1.5) in units of the asset where its decimals are known (native: 9).');
  lines.push('Created ids (pool, lp_token, programme, token, dao, proposal, ...) are printed on their own lines on stderr, after the receipt.');
  if (m.name === 'dao') lines.push("propose builds its payload: --payout --to ADDR --amount N [--currency native|TOKEN] | --params --quorum Q --approval-bps B --voting-period P | --call --module M --call-name C [--args '[{\"type\":\"u128\",\"value\":\"5\"}]']");
  return lines.join('\n');
}

/** Parse `--name value` pairs (all values strings; no positional arguments). */
export function parseFlagPairs(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a} (flags are --name value)`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (BOOLEAN_FLAGS.has(a.slice(2)) && (args[i + 1] === undefined || args[i + 1]!.startsWith('--'))) out[a.slice(2)] = 'true';
    else {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      out[a.slice(2)] = v;
      i++;
    }
  }
  return out;
}

export async function runModuleCommand(
  cmd: string,
  args: string[],
  deps: { defaultRpc: string; loadKey: (from: string) => KeyPair; print: (o: unknown) => void },
): Promise<number> {
  const m = moduleSpec(MODULE_COMMANDS[cmd]!)!;
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help') || rest.includes('-h')) {
    console.log(moduleHelp(cmd, m));
    return sub === undefined ? 2 : 0;
  }
  const f = parseFlagPairs(rest);
  const client = new PelClient(f.rpc ?? deps.defaultRpc);
  delete f.rpc;
  const view = Object.hasOwn(m.views, sub) ? m.views[sub] : undefined;
  if (view) {
    const params = view.params.map(([a]) => {
      const v = f[a.replace(/_/g, '-')] ?? f[a];
      if (v === undefined) throw new Error(`${sub} needs ${flag(a)}`);
      return v;
    });
    deps.print(await client.request(`${m.name}_${sub}`, params));
    return 0;
  }
  const spec = Object.hasOwn(m.calls, sub) ? m.calls[sub] : undefined;
  if (!spec) throw new Error(`pel ${cmd}: no call or view '${sub}'. Run 'pel ${cmd} --help'.`);
  if (!f.from) throw new Error(`${m.name}.${sub} is a transaction: pass --from <dev account index | key file>`);
  const key = deps.loadKey(f.from);
  const opts = { ...(f['gas-limit'] ? { gasLimit: BigInt(f['gas-limit']) } : {}), ...(f['gas-price'] ? { gasPrice: BigInt(f['gas-price']) } : {}) };
  if (m.name === 'dao' && sub === 'propose') await proposalArgs(client, f);
  const named: Record<string, string> = {};
  for (const [a] of spec.args) {
    const v = f[a.replace(/_/g, '-')] ?? f[a];
    if (v === undefined) throw new Error(`${m.name}.${sub} needs ${flag(a)}`);
    named[a] = v;
  }
  await humanArgs(client, m.name, sub, spec.args, named);
  const receipt = await sendDynamicCall(client, key, { module: m.name, call: sub, args: named }, opts);
  deps.print(receipt);
  // Created ids on their own lines (stderr: stdout stays one JSON document).
  for (const line of createdIds(receipt as never)) console.error(line);
  return receipt.status === 'success' ? 0 : 1;
}
