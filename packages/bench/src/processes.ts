import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { GroupCommitStats } from '@ventesync/server';

// The bench drives the real programs, as an operator would: their built CLIs.
export const SERVER_CLI = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));
export const RELAY_CLI = fileURLToPath(new URL('../../relay/dist/cli.js', import.meta.url));
/** How the relay is launched (its shebang, `pnpm relay`): the bench measures it the same way. */
export const RELAY_NODE_FLAGS = ['--max-semi-space-size=8'];

export interface Started {
  url: string;
  child: ChildProcess;
  /** The server's write counters, from the line it logs when it stops (after `stop`). */
  writeStats: () => WriteStats | null;
  /** Peak resident memory so far, in MB (VmHWM on Linux, sampled with ps elsewhere). */
  peakRssMb: () => number;
  /**
   * CPU time (user + system) the process used since it started listening, in seconds; read
   * before the process stops, and kept. Unlike sales/s, it barely moves when other work shares
   * the cores. Null where /proc is not there.
   */
  cpuSeconds: () => number | null;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

/** Runs a CLI command to its end; its standard output. */
export function runCli(cli: string, args: string[]): string {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} : ${result.stderr}`);
  return result.stdout;
}

function rssSampler(pid: number) {
  let sampledPeak = 0;
  const useProc = process.platform === 'linux';
  const timer = useProc
    ? undefined
    : setInterval(() => {
        const out = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
        sampledPeak = Math.max(sampledPeak, Number(out) / 1024 || 0);
      }, 100);
  timer?.unref();
  return {
    peak(): number {
      if (!useProc) return sampledPeak;
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        sampledPeak = Math.max(sampledPeak, kb / 1024);
      } catch {
        // The process is gone: keep the last reading.
      }
      return sampledPeak;
    },
    stop: () => clearInterval(timer),
  };
}

/** utime + stime of a process, in seconds (Linux: /proc/PID/stat, in clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number | null {
  if (process.platform !== 'linux') return null;
  try {
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The server's group-commit counters, read from its shutdown line (`ecritures_groupees`). */
export type WriteStats = GroupCommitStats;

const WRITE_STATS_FIELD = '"ecritures_groupees"';

/**
 * Starts a CLI that logs "à l'écoute sur URL"; of its other output only the write counters
 * the server logs at shutdown are kept.
 */
export async function startProcess(cli: string, args: string[], nodeFlags: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [...nodeFlags, cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let writeStats: WriteStats | null = null;
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    let listening = false;
    // Reads stdout to the end, so the child never blocks on a full pipe.
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const end = buffer.lastIndexOf('\n');
      if (end < 0) return;
      // Under load the server logs every request: only lines that may matter are split.
      if (listening && !buffer.includes(WRITE_STATS_FIELD)) {
        buffer = buffer.slice(end + 1);
        return;
      }
      for (const line of buffer.slice(0, end).split('\n')) {
        if (!listening && line.includes("à l'écoute sur")) {
          listening = true;
          resolve((JSON.parse(line) as { url: string }).url);
        } else if (line.includes(WRITE_STATS_FIELD)) {
          writeStats = (JSON.parse(line) as { ecritures_groupees: WriteStats }).ecritures_groupees;
        }
      }
      buffer = buffer.slice(end + 1);
    });
    child.once('exit', (code) => reject(new Error(`${cli} exited (${code}) before listening`)));
  });
  const sampler = rssSampler(child.pid!);
  // Start-up (loading modules, opening the database) is not the load's cost.
  const cpuAtListen = cpuSecondsOf(child.pid!);
  let cpuUsed: number | null = null;
  const readCpu = () => {
    const now = cpuSecondsOf(child.pid!);
    if (now !== null && cpuAtListen !== null) cpuUsed = now - cpuAtListen;
  };
  return {
    url,
    child,
    writeStats: () => writeStats,
    peakRssMb: () => sampler.peak(),
    cpuSeconds: () => {
      if (child.exitCode === null && child.signalCode === null) readCpu();
      return cpuUsed;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        sampler.peak();
        sampler.stop();
        if (child.exitCode === null && child.signalCode === null) readCpu();
        // 'close': after the exit and the last of stdout, which carries the write counters.
        if (child.stdout!.closed && (child.exitCode !== null || child.signalCode !== null)) return resolve();
        child.once('close', () => resolve());
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      }),
  };
}
