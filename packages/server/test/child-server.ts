import { fileURLToPath } from 'node:url';
import { runCliSync, startCliProcess } from '../../../test-support/cli-process.js';

export type { CliProcess as ChildServer } from '../../../test-support/cli-process.js';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export const runCli = (args: string[]) => runCliSync(CLI, args);

/** Starts `ventesync-server serve` on a free port and resolves once it listens. */
export const startServer = (db: string, extra: string[] = []) =>
  startCliProcess(CLI, ['serve', '--db', db, '--host', '127.0.0.1', '--port', '0', ...extra]);
