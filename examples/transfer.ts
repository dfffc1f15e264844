/**
 * The pel SDK from a project of your own: `npm install /path/to/pel` (or `npm link`), then
 * `import ... from 'pel/sdk'`. Run against a devnet (`npx pel devnet`):
 *   npx tsc -p examples && node examples/dist/transfer.js [http://127.0.0.1:8545]
 * It sends a native transfer, creates a token with a typed module call, waits for the
 * receipts and prints the new token's id.
 */
import { buildModuleCall, buildTransfer, devKeyPair, generateKeyPair, PelClient, sendModuleCall, type ReceiptJson } from 'pel/sdk';

async function main(): Promise<void> {
  const client = new PelClient(process.argv[2] ?? 'http://127.0.0.1:8545');
  const { chainId, height } = await client.getInfo();
  const from = devKeyPair(0); // a public dev key: devnets only
  const to = generateKeyPair();

  const { nonce } = await client.getAccount(from.address);
  const tx = buildTransfer({ chainId, key: from, nonce: BigInt(nonce), to: to.address, amount: 1_000n, expiry: BigInt(height) + 1_000n });
  const { hash } = await client.sendRawTx(tx.raw);
  const receipt: ReceiptJson = await client.waitForReceipt(hash, { timeoutMs: 30_000 });
  console.log(`transfer ${hash}: ${receipt.status} in block ${receipt.blockHeight}`);

  // Arguments by name, checked against the module's spec at compile time.
  const created = await sendModuleCall(client, from, { module: 'token', call: 'create', args: { name: 'Gold', symbol: 'GLD', decimals: 2n, max_supply: 1_000_000n } });
  const token = created.events.find((e) => e.name === 'created')?.fields.token;
  console.log(`token ${JSON.stringify(token)}`);

  // Or build and sign without sending (e.g. to submit later or elsewhere).
  const signed = buildModuleCall({ module: 'coin', call: 'transfer', args: { to: to.address, amount: 5n }, chainId, key: from, nonce: BigInt(nonce) + 2n, expiry: BigInt(height) + 1_000n });
  console.log(`signed ${signed.raw.length} bytes`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
