import { request } from 'undici';

/** The daemon's own answer to "are you running?": asked at its address, never guessed from a PID. */
export const DAEMON_STATUS_PATH = '/relay/status';
const PROBE_TIMEOUT_MS = 1_500;

export interface DaemonIdentity {
  relais_id: string;
  pid: number;
  demarre_le: string;
}

export type DaemonProbe =
  | { running: true; url: string; identity: DaemonIdentity }
  | { running: false; url: string | null; reason: string };

/**
 * Asks the address the daemon recorded in the file. It is running only if something answers
 * there *and* says it is the relay of this very file (same `relais_id`): a recycled PID or
 * another program on the port is not mistaken for it.
 */
export async function probeDaemon(url: string | null, relaisId: string | null, timeoutMs = PROBE_TIMEOUT_MS): Promise<DaemonProbe> {
  if (!url) return { running: false, url: null, reason: 'arrêté' };
  try {
    const res = await request(`${url}${DAEMON_STATUS_PATH}`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.body.json().catch(() => null)) as Partial<DaemonIdentity> | null;
    if (res.statusCode !== 200 || !body || typeof body.relais_id !== 'string') {
      return { running: false, url, reason: `autre chose répond à ${url}` };
    }
    if (relaisId !== null && body.relais_id !== relaisId) return { running: false, url, reason: `un autre relais répond à ${url}` };
    return { running: true, url, identity: body as DaemonIdentity };
  } catch {
    return { running: false, url, reason: `arrêté (rien ne répond à ${url})` };
  }
}
