/**
 * The explorer served by the node (issue #17, part 3): static files with their types, security
 * headers and limits, and the app driven in a real headless browser (Debian's chromium through
 * playwright-core; never a downloaded browser). A transfer made over JSON-RPC must appear on
 * the home page, its tx page, its block page (with the Block-STM panel) and the recipient's
 * account page, and search must find it.
 *
 * The browser part is skipped, saying so, only when no chromium binary exists on this machine
 * (.ci/run installs Debian's chromium when it is missing). PEL_CHROMIUM names another binary.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTransfer, devKeyPair, formatAddress, generateKeyPair, PelClient } from '../../sdk/index.js';
import { startNode, useE2eCleanup, type RunningNode } from './harness.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
useE2eCleanup();

function findChromium(): string | null {
  const explicit = process.env.PEL_CHROMIUM;
  if (explicit) return explicit;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  return null;
}

const CHROMIUM = findChromium();
if (CHROMIUM === null) {
  console.warn('explorer.test.ts: SKIPPING the headless-browser tests: no chromium binary found on PATH (install Debian\'s: apt-get install -y chromium; or set PEL_CHROMIUM). .ci/run installs it.');
}

let node: RunningNode;
let client: PelClient;
let chainId: number;

beforeAll(async () => {
  node = await startNode({ args: ['--workers', '2', '--warmup', '0'] });
  client = new PelClient(node.url);
  chainId = (await client.getInfo()).chainId;
});

afterAll(async () => {
  expect(await node.stop('SIGINT')).toBe(0);
});

describe('static files on the RPC port', () => {
  it('GET / is the explorer, with its type and the security headers; POST / is still JSON-RPC', async () => {
    const res = await fetch(node.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/app.js">');
    // Nothing from elsewhere: the page works offline.
    expect(html).not.toMatch(/https?:\/\//);

    const js = await fetch(new URL('/app.js', node.url));
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const jsText = await js.text();
    expect(jsText.length).toBeGreaterThan(1000);
    expect(jsText).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/);
    expect((await fetch(new URL('/app.css', node.url))).headers.get('content-type')).toBe('text/css; charset=utf-8');

    // Unchanged files revalidate to 304; HEAD has the headers and no body.
    const etag = res.headers.get('etag')!;
    expect((await fetch(node.url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await fetch(node.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(html)));
    expect(await head.text()).toBe('');

    const info = await client.getInfo();
    expect(info.chainId).toBe(chainId);
  });

  it('serves nothing else: unknown files, other folders and traversal are 404; other methods 405', async () => {
    for (const path of ['/nope.js', '/index.htm', '/../package.json', '/%2e%2e/package.json', '/dist/explorer/app.js', '/node/cli.js', '/app.js/']) {
      const res = await fetch(new URL(path, node.url));
      expect(res.status, path).toBe(404);
    }
    const raw = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port: node.port, path: '/../../package.json', method: 'GET' }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(raw).toBe(404);
    const put = await fetch(node.url, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toContain('GET');
  });

  it('--no-explorer serves no page: GET / is 405 as before', async () => {
    const bare = await startNode({ args: ['--no-explorer', '--workers', '1', '--warmup', '0'] });
    const res = await fetch(bare.url);
    expect(res.status).toBe(405);
    expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe('INVALID_REQUEST');
    expect(await bare.stop('SIGINT')).toBe(0);
  });
});

describe.skipIf(CHROMIUM === null)('the explorer in a headless browser', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('shows a transfer made over RPC on the home, tx, block and account pages, and finds it by search', async () => {
    const from = devKeyPair(1);
    const to = generateKeyPair();
    const toHex = formatAddress(to.address);
    await page.goto(node.url);
    await page.waitForSelector('#head-height');
    // The home page is live (WebSocket): the block of a transfer sent now shows up without a reload.
    const { nonce } = await client.getAccount(from.address);
    const tx = buildTransfer({ chainId, key: from, nonce: BigInt(nonce), expiry: 1_000_000n, to: to.address, amount: 4242n });
    const hash = '0x' + Buffer.from(tx.hash).toString('hex');
    const receipt = await client.sendRawTxAndWait(tx.raw);
    expect(receipt.status).toBe('success');
    const height = receipt.blockHeight;
    await page.waitForFunction((h) => Number(document.querySelector('#head-height')?.textContent) >= h, height, { timeout: 15_000 });
    await page.waitForSelector(`#latest-blocks a[href="#/block/${height}"]`, { timeout: 15_000 });
    await page.waitForSelector(`#latest-txs a[href="#/tx/${hash}"]`, { timeout: 15_000 });
    // Both charts are drawn (uPlot canvases).
    expect(await page.locator('.chart canvas').count()).toBe(2);

    // Tx page.
    await page.click(`#latest-txs a[href="#/tx/${hash}"]`);
    await page.waitForSelector('#tx-hash');
    expect(await page.textContent('#tx-hash')).toBe(hash);
    expect((await page.textContent('#tx-status'))?.trim()).toBe('success');
    expect(await page.textContent('#tx-from')).toContain(formatAddress(from.address));
    expect(await page.textContent('main')).toContain('4242');

    // Block page, with its Block-STM panel.
    await page.click(`main a[href="#/block/${height}"]`);
    await page.waitForSelector('#block-txs');
    expect(await page.locator(`#block-txs a[href="#/tx/${hash}"]`).count()).toBe(1);
    expect(await page.textContent('#block-hash')).toBe(receipt.blockHash);
    await page.waitForSelector('#stm-path');
    expect(await page.textContent('#stm-path')).toBe('sequential'); // one tx: below the parallel threshold
    expect(await page.textContent('#stm-panel')).toContain('small-block');

    // Account page of the recipient: its balance and the transfer in its activity.
    await page.goto(`${node.url}#/account/${toHex}`);
    await page.waitForSelector('#account-balance');
    expect(await page.textContent('#account-balance')).toBe('4242');
    expect(await page.locator(`main a[href="#/tx/${hash}"]`).count()).toBeGreaterThan(0);

    // Search by tx hash, by address and by height.
    await page.goto(node.url);
    await page.fill('#search', hash);
    await page.press('#search', 'Enter');
    await page.waitForFunction((h) => location.hash === `#/tx/${h}`, hash);
    await page.waitForSelector('#tx-hash');
    await page.fill('#search', toHex.toUpperCase().replace('0X', '0x'));
    await page.press('#search', 'Enter');
    await page.waitForFunction((a) => location.hash === `#/account/${a}`, toHex);
    await page.fill('#search', receipt.blockHash);
    await page.press('#search', 'Enter');
    await page.waitForFunction((h) => location.hash === `#/block/${h}`, height);
    await page.fill('#search', 'not a thing');
    await page.press('#search', 'Enter');
    await page.waitForSelector('.search-msg');

    expect(problems).toEqual([]);
  });

  it('shows how a contended block ran on Block-STM', async () => {
    // 128 transfers from 4 senders in one block: their nonces and balances conflict.
    const raws: Uint8Array[] = [];
    for (let i = 4; i < 8; i++) {
      const key = devKeyPair(i);
      const n0 = BigInt((await client.getAccount(key.address)).nonce);
      for (let k = 0; k < 32; k++) raws.push(buildTransfer({ chainId, key, nonce: n0 + BigInt(k), expiry: 1_000_000n, to: devKeyPair(9).address, amount: 1n }).raw);
    }
    const sent = await client.batch(raws.map((r) => ({ method: 'tx_send', params: ['0x' + Buffer.from(r).toString('hex')] })));
    expect(sent.every((s) => s.ok)).toBe(true);
    const lastHash = (sent[sent.length - 1] as { ok: true; result: { hash: string } }).result.hash;
    const r = await client.waitForReceipt(lastHash, { timeoutMs: 30_000 });
    const stats = await client.request<{ txs: number; path: string; reexecutions: number }>('debug_blockExecution', [r.blockHeight]);
    await page.goto(`${node.url}#/block/${r.blockHeight}`);
    await page.waitForSelector('#stm-path');
    expect(await page.textContent('#stm-path')).toBe(stats.path);
    expect(await page.textContent('#stm-reexecutions')).toBe(String(stats.reexecutions));
    expect(await page.locator('#stm-panel .cell').count()).toBe(stats.txs);
    expect(problems).toEqual([]);
  });
});
