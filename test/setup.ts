// Shared vitest setup. libp2p v3 calls Promise.withResolvers, missing in Node 20.
import '../node/polyfills.js';
process.env.NODE_ENV = 'test';
