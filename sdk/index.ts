export * from './client.js';
export * from './tx.js';
export { devKeyPair, generateKeyPair, keyPairFromPrivateKey, type KeyPair } from '../protocol/keys.js';
export { parseAddress, formatAddress } from '../protocol/address.js';
export { v, type Value } from '../protocol/value.js';
export * from './modules.js';
