import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** JSON lines for machines by default; `pretty` for a person watching a terminal. */
export function createLogger(options: { pretty?: boolean; level?: string } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  if (options.pretty) return pino({ level }, pretty({ colorize: true, translateTime: 'SYS:standard', sync: true }));
  return pino({ level });
}
