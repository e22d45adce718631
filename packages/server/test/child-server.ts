import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCliSync, startCliProcess } from '../../../test-support/cli-process.js';

export type { CliProcess as ChildServer } from '../../../test-support/cli-process.js';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export const runCli = (args: string[]) => runCliSync(CLI, args);

/** The same, without blocking the test's event loop: for commands run while requests are in flight. */
export const runCliAsync = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });

/** Starts `ventesync-server serve` on a free port and resolves once it listens. */
export const startServer = (db: string, extra: string[] = []) =>
  startCliProcess(CLI, ['serve', '--db', db, '--host', '127.0.0.1', '--port', '0', ...extra]);
