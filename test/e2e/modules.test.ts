import { describe, expect, it } from 'vitest';
import { devKeyPair } from '../../protocol/keys.js';
import { toHex } from '../../protocol/hex.js';
import { PelClient } from '../../sdk/client.js';
import { sendModuleCall } from '../../sdk/modules.js';
import { parseJsonOutput, runCli, startNode, useE2eCleanup } from './harness.js';

useE2eCleanup();

describe('module calls and views on a real node', () => {
  it('token: SDK call, generated JSON-RPC views, CLI subcommands and their errors', async () => {
    const node = await startNode();
    const client = new PelClient(node.url);
    const [a, b] = [devKeyPair(0), devKeyPair(1)];
    const created = await sendModuleCall(client, a, { module: 'token', call: 'create', args: { name: 'Gold', symbol: 'GLD', decimals: 2, max_supply: '1000' } });
    expect(created.status).toBe('success');
    const token = created.events[0]!.fields.token!.value as string;
    expect((await sendModuleCall(client, a, { module: 'token', call: 'mint', args: { token, to: toHex(b.address), amount: '400' } })).status).toBe('success');

    expect(await client.request('token_getInfo', [token])).toMatchObject({ id: token, symbol: 'GLD', totalSupply: '400', maxSupply: '1000' });
    expect(await client.request('token_getBalance', [token, toHex(b.address)])).toMatchObject({ balance: '400' });
    expect(await client.request('token_getInfo', ['0x' + '11'.repeat(20)])).toBeNull();
    await expect(client.request('token_getBalance', [token])).rejects.toMatchObject({ code: -32602 });
    await expect(client.request('token_getBalance', [token, 'nope'])).rejects.toMatchObject({ code: -32602 });
    expect(await client.request('fee_getParams', [])).toMatchObject({ burnBps: 2000, admin: toHex(a.address) });

    // CLI: a call (receipt JSON, exit 0), a failing call (exit 1 + its error code), a view.
    const ok = await runCli(['token', 'transfer', '--rpc', node.url, '--from', '1', '--token', token, '--to', toHex(a.address), '--amount', '150']);
    expect(ok.code).toBe(0);
    expect(parseJsonOutput(ok)).toMatchObject({ status: 'success' });
    const fail = await runCli(['token', 'mint', '--rpc', node.url, '--from', '1', '--token', token, '--to', toHex(b.address), '--amount', '1']);
    expect(fail.code).toBe(1);
    expect(parseJsonOutput(fail)).toMatchObject({ status: 'failed', errorCode: 'MINT_NOT_AUTHORIZED' });
    const view = await runCli(['token', 'getBalance', '--rpc', node.url, '--token', token, '--owner', toHex(a.address)]);
    expect(parseJsonOutput(view)).toMatchObject({ balance: '150' });
    const help = await runCli(['token', '--help']);
    expect(help.stdout).toContain('transfer_from --token <address> --owner <address> --to <address> --amount <u128>');
    const bad = await runCli(['token', 'frobnicate', '--rpc', node.url]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("no call or view 'frobnicate'");
  });
});
