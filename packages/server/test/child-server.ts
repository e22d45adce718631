import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export function runCli(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, env: { ...process.env, LOG_LEVEL: 'warn' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** Every log line the server wrote so far. */
  lines: string[];
  waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  stop: () => Promise<void>;
}

/** Starts `ventesync-server serve` on a free port and resolves once it listens. */
export async function startServer(db: string, extra: string[] = []): Promise<ChildServer> {
  const child = spawn(process.execPath, [CLI, 'serve', '--db', db, '--host', '127.0.0.1', '--port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let buffer = '';
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
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const waitForLine = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no log line ${pattern} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      child.once('exit', (code) => reject(new Error(`server exited (${code}) before ${pattern}; stderr: ${stderr}`)));
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
