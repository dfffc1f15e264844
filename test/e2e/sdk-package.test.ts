/**
 * The SDK as a package: a project outside this repository (a temp dir whose node_modules/pel
 * links here, as `npm link` or `npm install /path/to/pel` would) imports `pel/sdk` by name,
 * type-checks examples/transfer.ts against the built .d.ts files, fails to type-check a call
 * with a wrong argument, and runs the example against a real devnet.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PelClient, PelRpcError } from '../../sdk/client.js';
import { buildTransfer } from '../../sdk/tx.js';
import { devKeyPair, generateKeyPair } from '../../protocol/keys.js';
import { makeTempDir, REPO_ROOT, startNode, useE2eCleanup, waitFor } from './harness.js';

useE2eCleanup();

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

async function outsideProject(): Promise<string> {
  const dir = await makeTempDir('sdk-user');
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'pel'), 'dir');
  symlinkSync(join(REPO_ROOT, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
  copyFileSync(join(REPO_ROOT, 'examples', 'tsconfig.json'), join(dir, 'tsconfig.json'));
  copyFileSync(join(REPO_ROOT, 'examples', 'transfer.ts'), join(dir, 'transfer.ts'));
  return dir;
}

const tsc = (dir: string, ...args: string[]) => spawnSync(process.execPath, [TSC, '-p', dir, ...args], { encoding: 'utf8' });

describe('the SDK as a package (pel/sdk)', () => {
  it('type-checks the example and rejects a call with a wrong or missing argument', async () => {
    const dir = await outsideProject();
    const ok = tsc(dir, '--noEmit');
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.status).toBe(0);

    writeFileSync(
      join(dir, 'wrong.ts'),
      [
        "import { buildModuleCall, devKeyPair } from 'pel/sdk';",
        'const key = devKeyPair(0);',
        "buildModuleCall({ module: 'token', call: 'create', args: { name: 'G', symbol: 'G', decimals: 2n }, chainId: 1, key, nonce: 0n, expiry: 1n });",
        "buildModuleCall({ module: 'token', call: 'transfer', args: { token: '0x00', to: key.address, amount: 1n, memo: 'x' }, chainId: 1, key, nonce: 0n, expiry: 1n });",
      ].join('\n'),
    );
    const bad = tsc(dir, '--noEmit');
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/wrong\.ts\(3,.*max_supply/);
    expect(bad.stdout).toMatch(/wrong\.ts\(4,.*memo/);
  });

  it('runs the example against a devnet', async () => {
    const dir = await outsideProject();
    const built = tsc(dir);
    expect(built.stdout + built.stderr).toBe('');
    const node = await startNode();
    const run = spawnSync(process.execPath, [join(dir, 'dist', 'transfer.js'), node.url], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^transfer 0x[0-9a-f]{64}: success in block \d+$/m);
    expect(run.stdout).toMatch(/^token \{"type":"address","value":"0x[0-9a-f]{40}"\}$/m);
    await node.stop();
  });

  it('subscribes to new blocks and to a tx over WebSocket, and waits for a receipt', async () => {
    const node = await startNode({ args: ['--mining', 'manual'] });
    const client = new PelClient(node.url);
    const heights: number[] = [];
    const blocks = await client.subscribe('newBlocks', (b) => heights.push(Number(b.header.height)));
    const { chainId, height } = await client.getInfo();
    const key = devKeyPair(1);
    const tx = buildTransfer({ chainId, key, nonce: 0n, to: generateKeyPair().address, amount: 1n, expiry: BigInt(height) + 100n });
    const { hash } = await client.sendRawTx(tx.raw);
    const statuses: { status: string }[] = [];
    const txSub = await client.subscribe<{ status: string }>(['tx', hash], (r) => statuses.push(r));
    const receipt = client.waitForReceipt(hash, { timeoutMs: 30_000, pollMs: 50 });
    await client.mine(1);
    expect((await receipt).status).toBe('success');
    await waitFor(() => heights.includes(height + 1) && statuses.length === 1);
    expect(statuses[0]!.status).toBe('committed');
    blocks.close();
    txSub.close();
    await expect(client.subscribe(['tx', 'nothex'] as unknown as ['tx', string], () => undefined)).rejects.toBeInstanceOf(PelRpcError);
    await expect(client.waitForReceipt('0x' + '00'.repeat(32), { timeoutMs: 200, pollMs: 50 })).rejects.toMatchObject({ data: { code: 'TX_WAIT_TIMEOUT' } });
    await node.stop();
  });
});
