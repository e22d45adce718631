import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines for machines by default; `pretty` for a person watching a terminal. */
export function createLogger(options: { pretty?: boolean; level?: string } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  if (options.pretty) {
    // Loaded only when asked for: daemons running for machines do not pay its memory.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino({ level }, pretty({ colorize: true, translateTime: 'SYS:standard', sync: true }));
  }
  return pino({ level });
}
