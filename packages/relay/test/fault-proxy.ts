import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';

/** What the proxy does with one sync request; after the script runs out, it passes requests through. */
export type Fault =
  | { kind: 'pass' }
  /** Answers this without asking the server. */
  | { kind: 'answer'; status: number; body: unknown; headers?: Record<string, string> }
  /** The server commits the batch, then the connection is dropped: the relay never learns it. */
  | { kind: 'drop-after-commit' }
  /** The server commits the batch, and its answer is held back until `releaseHeld()` (or forever). */
  | { kind: 'hold-after-commit' }
  /** Answer headers at once, then a byte every `everyMs`, never ending (the server is not asked). */
  | { kind: 'dribble'; everyMs: number }
  /** The server commits the batch, and its answer is replaced by what `edit` makes of it. */
  | { kind: 'rewrite'; edit: (status: number, body: any) => { status: number; body: unknown } };

export interface SyncRequest {
  serial: string;
  numeros: string[];
  /** When it arrived (performance.now()): how fast the relay sends. */
  at: number;
}

/**
 * An HTTP proxy in front of the real server that the tests steer: scripted faults per sync
 * request, rules that apply to every request (e.g. 500 whenever a batch holds a given
 * numero), a shifted `Date` header, and a port that can really refuse connections.
 */
export async function startFaultProxy(target: string) {
  const script: Fault[] = [];
  const rules: Array<(req: SyncRequest) => Fault | null> = [];
  /** For the other requests (catalogue, history…), by path. */
  const readRules: Array<(path: string) => Fault | null> = [];
  const requests: SyncRequest[] = [];
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  const waiters: Array<{ check: () => boolean; resolve: () => void }> = [];
  let dateShiftMs = 0;

  const notify = () => {
    for (const w of [...waiters]) {
      if (w.check()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };

  async function forward(req: IncomingMessage, body: Buffer) {
    const headers: Record<string, string> = {};
    for (const name of ['x-device-serial', 'content-type']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const res = await request(`${target}${req.url}`, {
      method: req.method as 'GET' | 'POST',
      headers,
      ...(req.method === 'POST' ? { body } : {}),
    });
    return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
  }

  function send(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}) {
    if (res.destroyed) return;
    const date = new Date(Date.now() + dateShiftMs).toUTCString();
    res.writeHead(status, { 'content-type': 'application/json', date, ...extra });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const isSync = req.method === 'POST' && req.url?.startsWith('/api/v2/simple/ventes/sync');
    let fault: Fault = { kind: 'pass' };
    if (isSync) {
      let numeros: string[] = [];
      try {
        numeros = (JSON.parse(body.toString()) as Array<{ numero_facture?: string }>).map((v) => String(v.numero_facture));
      } catch {
        // Not a batch: passed on as it is.
      }
      const entry = { serial: String(req.headers['x-device-serial']), numeros, at: performance.now() };
      requests.push(entry);
      fault = script.shift() ?? rules.map((rule) => rule(entry)).find((f) => f !== null) ?? { kind: 'pass' };
      notify();
    } else {
      fault = readRules.map((rule) => rule(req.url ?? '')).find((f) => f !== null) ?? { kind: 'pass' };
    }
    if (fault.kind === 'dribble') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      const timer = setInterval(() => res.write(' '), fault.everyMs);
      res.once('close', () => clearInterval(timer));
      return;
    }
    if (fault.kind === 'answer') {
      return send(res, fault.status, typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body), fault.headers);
    }
    const answer = await forward(req, body);
    if (fault.kind === 'drop-after-commit') return void res.socket?.destroy();
    if (fault.kind === 'hold-after-commit') {
      await new Promise<void>((resolve) => {
        held.push(resolve);
        res.once('close', resolve);
        notify();
      });
    }
    if (fault.kind === 'rewrite') {
      const edited = fault.edit(answer.status, JSON.parse(answer.text));
      return send(res, edited.status, JSON.stringify(edited.body));
    }
    const retryAfter = answer.headers['retry-after'];
    send(res, answer.status, answer.text, typeof retryAfter === 'string' ? { 'retry-after': retryAfter } : {});
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => res.socket?.destroy());
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const closeListener = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    script,
    rules,
    readRules,
    requests,
    /** The server's clock as the relay will read it: shifted by this. */
    shiftDate: (ms: number) => void (dateShiftMs = ms),
    /** Resolves once `check` holds (checked on every sync request and held answer). */
    until: (check: () => boolean) =>
      new Promise<void>((resolve) => {
        if (check()) return resolve();
        waiters.push({ check, resolve });
      }),
    heldCount: () => held.length,
    releaseHeld: () => held.splice(0).forEach((release) => release()),
    /** Stops listening: connections to the port are refused (ECONNREFUSED) until `accept()`. */
    refuse: closeListener,
    accept: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: async () => {
      held.splice(0).forEach((release) => release());
      if (server.listening) await closeListener();
    },
  };
}

export type FaultProxy = Awaited<ReturnType<typeof startFaultProxy>>;
