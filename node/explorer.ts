/**
 * The block explorer's files (explorer/, bundled by `npm run build` into dist/explorer/), read
 * once at start and served by the RPC server on GET / (node/rpc/server.ts, StaticSite). Only
 * the files of that one folder with a known type are served, each at most MAX_FILE_BYTES and
 * all together at most MAX_SITE_BYTES: nothing else on disk is reachable, whatever the path.
 * A node built without the explorer (tsc alone) serves none and GET / stays 405.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../protocol/logger.js';
import type { StaticFile, StaticSite } from './rpc/server.js';

export const MAX_FILE_BYTES = 4 * 1024 * 1024;
export const MAX_SITE_BYTES = 16 * 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/**
 * Scripts and styles only from this origin, data only from this node (HTTP and WebSocket on
 * the same host and port), no frames, no forms, no plugins.
 */
export const EXPLORER_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** dist/explorer beside dist/node. */
export function defaultExplorerDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'explorer');
}

export function loadExplorer(dir: string = defaultExplorerDir(), logger?: Logger): StaticSite | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    logger?.info('explorer not built: GET / serves nothing (npm run build bundles it)', { dir });
    return null;
  }
  const files = new Map<string, StaticFile>();
  let total = 0;
  for (const name of names.sort()) {
    const type = TYPES[extname(name)];
    if (type === undefined || !/^[A-Za-z0-9._-]+$/.test(name)) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (!st.isFile()) continue;
    if (st.size > MAX_FILE_BYTES || total + st.size > MAX_SITE_BYTES) {
      logger?.warn('explorer file over the size limit: not served', { name, bytes: st.size, maxFileBytes: MAX_FILE_BYTES, maxSiteBytes: MAX_SITE_BYTES });
      continue;
    }
    const body = readFileSync(path);
    total += body.length;
    files.set(`/${name}`, { contentType: type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  if (!files.has('/index.html')) {
    logger?.warn('explorer folder has no index.html: not served', { dir });
    return null;
  }
  return { files, csp: EXPLORER_CSP };
}
