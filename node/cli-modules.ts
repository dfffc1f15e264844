/**
 * `pel token|nft|dao|stake|fee <call|view> [--arg value ...]`: every module call (a signed
 * transaction) and view (a JSON-RPC query), with flags and help generated from the
 * modules' specs (contracts/specs.ts). Argument names map to flags with '-' for '_' (max_supply -> --max-supply).
 */
import { moduleSpec, type ModuleSpec } from '../contracts/specs.js';
import type { KeyPair } from '../protocol/keys.js';
import { PelClient } from '../sdk/client.js';
import { sendDynamicCall } from '../sdk/modules.js';

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
  const named: Record<string, string> = {};
  for (const [a] of spec.args) {
    const v = f[a.replace(/_/g, '-')] ?? f[a];
    if (v === undefined) throw new Error(`${m.name}.${sub} needs ${flag(a)}`);
    named[a] = v;
  }
  const receipt = await sendDynamicCall(client, key, { module: m.name, call: sub, args: named }, opts);
  deps.print(receipt);
  return receipt.status === 'success' ? 0 : 1;
}
