/**
 * pel bench verify: Ed25519 verifications per second on this machine: libsodium
 * (sodium-native, the node's default), Node's built-in (OpenSSL) and pure JS (@noble/curves),
 * all under pel's strict rule set, on real signed transfers (signing bytes of ~200 bytes).
 */
import { devKeyPair } from '../protocol/keys.js';
import { txSigningBytesOf } from '../protocol/tx.js';
import { NativeVerifier, NobleVerifier, SodiumVerifier, sodiumAvailable, type SignatureVerifier } from '../protocol/verify.js';
import { buildTransfer } from '../sdk/tx.js';
import { median, num, output, parseBenchArgs, round } from './util.js';

const HELP = `pel bench verify [--count N] [--runs R] [--senders S] [--json]
  Verifies N signed transfers with each implementation R times; prints verifies/s (median).`;

export async function runVerifyBench(args: string[]): Promise<number> {
  const f = parseBenchArgs(args, { count: { type: 'string' }, runs: { type: 'string' }, senders: { type: 'string' } });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const count = num(f.count, 5000, 'count');
  const runs = num(f.runs, 5, 'runs');
  const senders = num(f.senders, 100, 'senders');
  const keys = Array.from({ length: senders }, (_, i) => devKeyPair(i));
  const items = Array.from({ length: count }, (_, i) => {
    const tx = buildTransfer({ chainId: 1337, key: keys[i % senders]!, nonce: BigInt(i), to: keys[(i + 1) % senders]!.address, amount: 1n, expiry: 1000n });
    return { pk: tx.senderPublicKey, msg: txSigningBytesOf(tx), sig: tx.signature };
  });
  const measure = (v: SignatureVerifier, n: number): number[] => {
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const it = items[i]!;
        if (!v.verify(it.pk, it.msg, it.sig)) throw new Error('valid signature rejected');
      }
      rates.push(n / ((performance.now() - t0) / 1000));
    }
    return rates;
  };
  const sodium = sodiumAvailable() ? measure(new SodiumVerifier(), count) : null;
  const native = measure(new NativeVerifier(), count);
  const nobleCount = Math.max(1, Math.min(count, 500));
  const noble = measure(new NobleVerifier(), nobleCount);
  const nativeRate = median(native);
  const nobleRate = median(noble);
  const sodiumRate = sodium ? median(sodium) : null;
  output(
    {
      bench: 'verify',
      count,
      nobleCount,
      runs,
      nativeVerifiesPerSec: round(nativeRate, 0),
      nobleVerifiesPerSec: round(nobleRate, 0),
      nativeUsPerVerify: round(1e6 / nativeRate, 2),
      nobleUsPerVerify: round(1e6 / nobleRate, 2),
      speedupNativeOverNoble: round(nativeRate / nobleRate, 2),
      sodiumVerifiesPerSec: sodiumRate === null ? null : round(sodiumRate, 0),
      sodiumUsPerVerify: sodiumRate === null ? null : round(1e6 / sodiumRate, 2),
      speedupSodiumOverNative: sodiumRate === null ? null : round(sodiumRate / nativeRate, 2),
      sodiumRuns: sodium ? sodium.map((x) => round(x, 0)) : null,
      nativeRuns: native.map((x) => round(x, 0)),
      nobleRuns: noble.map((x) => round(x, 0)),
    },
    f.json === true,
  );
  return 0;
}
