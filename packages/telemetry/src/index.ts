export { createLogger, type Logger, type LoggerOptions } from './create-logger.ts';
export { alwaysSensitive, maskSensitive, maskSensitiveJson } from './mask-sensitive.ts';
