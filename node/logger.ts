export { createLogger, silentLogger, type Logger, type LogLevel } from '../protocol/logger.js';
