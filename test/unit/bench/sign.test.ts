/**
 * The fast signer (benchmarks, start-up warm-up) must produce exactly the transaction the
 * SDK's noble signer produces: same signature (RFC 8032 is deterministic), raw bytes and hash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signTxFast } from '../../../bench/sign.js';
import { devKeyPair } from '../../../protocol/keys.js';
import { signTx } from '../../../protocol/tx.js';
import { v } from '../../../protocol/value.js';

describe('signTxFast', () => {
  it('gives the SDK signer\'s bytes with libsodium and with OpenSSL', () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(50), fc.bigInt(0n, 2n ** 64n - 1n), fc.bigInt(1n, 10n ** 30n), (from, to, nonce, amount) => {
        const key = devKeyPair(from);
        const tx = {
          chainId: 1337, senderPublicKey: key.publicKey, nonce, gasLimit: 50_000n, gasPrice: 1n, expiry: 99n,
          module: 'coin', call: 'transfer', args: [v.address(devKeyPair(to).address), v.u128(amount)],
        };
        const want = signTx(tx, key.privateKey);
        for (const impl of ['sodium', 'openssl'] as const) {
          const got = signTxFast(tx, key, impl);
          expect(Buffer.from(got.raw).toString('hex')).toBe(Buffer.from(want.raw).toString('hex'));
          expect(Buffer.from(got.hash).toString('hex')).toBe(Buffer.from(want.hash).toString('hex'));
          expect(Buffer.from(got.sender).toString('hex')).toBe(Buffer.from(want.sender).toString('hex'));
        }
      }),
      { numRuns: 40 },
    );
  });
});
