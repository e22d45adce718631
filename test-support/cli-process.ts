import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

/** Runs a CLI to completion (operator commands). */
export function runCliSync(cli: string, args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface CliProcess {
  url: string;
  child: ChildProcess;
  /** Every log line the process wrote so far. */
  lines: string[];
  waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  /** SIGTERM, and wait for the exit. */
  stop: () => Promise<void>;
}

/**
 * Starts a long-running CLI (server or relay) and resolves once it logs that it listens;
 * the log line carries the URL. Used by tests that need real processes (crashes, restarts).
 */
export async function startCliProcess(cli: string, args: string[]): Promise<CliProcess> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let buffer = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });

  const waitForLine = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no log line ${pattern} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      child.once('exit', (code) => reject(new Error(`process exited (${code}) before ${pattern}; stderr: ${stderr}`)));
    });

  const listening = await waitForLine(/à l'écoute sur/);
  const url = (JSON.parse(listening) as { url: string }).url;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { url, child, lines, waitForLine, stop };
}
