/** Levelled logger with child loggers per module (lives in the base layer so every layer can take one). */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string, ctx?: Record<string, unknown>): void;
  warn(msg: string, ctx?: Record<string, unknown>): void;
  info(msg: string, ctx?: Record<string, unknown>): void;
  debug(msg: string, ctx?: Record<string, unknown>): void;
  child(module: string): Logger;
}

export function createLogger(level: LogLevel = 'info', module = 'pel', sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const max = ORDER[level];
  const log = (lvl: LogLevel, msg: string, ctx?: Record<string, unknown>): void => {
    if (ORDER[lvl] > max) return;
    const extra = ctx ? ' ' + JSON.stringify(ctx, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) : '';
    sink(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${module}] ${msg}${extra}`);
  };
  return {
    error: (m, c) => log('error', m, c),
    warn: (m, c) => log('warn', m, c),
    info: (m, c) => log('info', m, c),
    debug: (m, c) => log('debug', m, c),
    child: (m) => createLogger(level, `${module}:${m}`, sink),
  };
}

export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child: () => silentLogger,
};
