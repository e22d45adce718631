import { userInfo } from 'node:os';
import { shellWord } from './command-names.js';
import { printable } from './table.js';

/**
 * Who changed what from the CLIs (issue 11): what the server's and the relay's audit tables
 * share. Each package keeps its own table (its schema, its transactions); the words of a row,
 * and how people read the list, are the same on both.
 */

/** A command line longer than this is kept cut (a person's command, not a file's content). */
export const MAX_AUDIT_COMMAND_CHARS = 1_000;
/** What a change did, in words, cut past this. */
export const MAX_AUDIT_CHANGE_CHARS = 1_000;
/** An OS user name longer than this is cut. */
export const MAX_AUDIT_USER_CHARS = 100;
/** `audit list` shows this many rows unless `--limit` says otherwise; never more than the maximum. */
export const DEFAULT_AUDIT_LIMIT = 50;
export const MAX_AUDIT_LIMIT = 10_000;

/** What the audit row says of its author: the OS account and the command as typed, secrets removed. */
export interface AuditSource {
  utilisateur: string;
  commande: string;
}

/** One row of an audit table as both CLIs list it (`le` in UTC, ISO 8601). */
export interface AuditEntry {
  id: number;
  le: string;
  utilisateur: string;
  commande: string;
  changement: string;
}

/** Written in place of a secret value. */
export const REDACTED = '***';

/**
 * Options whose value is a secret (`--secret X`, `--relay-secret=X`, `--password X`). One that
 * names a file (`--secret-file chemin`) gives a path, not the secret, and is kept.
 */
const SECRET_OPTION = /^--?(?![\w-]*-(?:file|fichier)$)[\w-]*(?:secret|password|passwd|mot-de-passe|token)[\w-]*$/i;

export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `--db postgres://vente:motdepasse@hôte/base`: the password in a URL, anywhere in a word. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*):[^@/\s]*@/gi;

export function withoutUrlPassword(word: string): string {
  return word.replace(URL_PASSWORD, `$1:${REDACTED}@`);
}

/**
 * The command as the person typed it, each word quoted for a shell where it needs it, with the
 * value of every secret option replaced by `***`, and so is the password of a URL (`--db`).
 */
export function typedCommand(program: string, args: readonly string[]): string {
  const words: string[] = [];
  let hideNext = false;
  for (const arg of args) {
    if (hideNext) {
      words.push(REDACTED);
      hideNext = false;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (SECRET_OPTION.test(name)) {
      if (eq > 0) words.push(`${name}=${REDACTED}`);
      else {
        words.push(arg);
        hideNext = true;
      }
      continue;
    }
    words.push(shellWord(withoutUrlPassword(arg)));
  }
  return cut([program, ...words].join(' '), MAX_AUDIT_COMMAND_CHARS);
}

/**
 * The OS account running this command. `os.userInfo()` throws where the uid has no entry in
 * the system's user list (a container, some service accounts): the environment's name then,
 * else the uid, never a failed command for want of a name.
 */
export function operatorName(env: NodeJS.ProcessEnv = process.env, info: () => { username: string } = userInfo): string {
  let name: string | undefined;
  try {
    name = info().username;
  } catch {
    name = env.USER ?? env.USERNAME ?? env.LOGNAME;
  }
  if (!name) name = typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'inconnu';
  return cut(name, MAX_AUDIT_USER_CHARS);
}

/** The author of a change made by this process: its OS account and its command line. */
export function auditSource(program: string, args: readonly string[] = process.argv.slice(2)): AuditSource {
  return { utilisateur: operatorName(), commande: typedCommand(program, args) };
}

const two = (n: number) => String(n).padStart(2, '0');

/** "25/11/2026 09:32:05" in this machine's time zone (a shop PC is set to the shop's). */
export function localDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${two(d.getDate())}/${two(d.getMonth() + 1)}/${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * `AAAA-MM-JJ` as the start of that day on this machine's clock, or null when it is no such
 * date (2026-02-30 included).
 */
export function localDayStart(text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const start = new Date(y, mo - 1, d);
  return start.getFullYear() === y && start.getMonth() === mo - 1 && start.getDate() === d ? start : null;
}

/** Words of `text` in lines of at most `width`; a word longer than a line is cut across lines. */
function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    let rest = word;
    while (rest.length > width) {
      if (line) lines.push(line);
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
      line = '';
    }
    if (!line) line = rest;
    else if (line.length + 1 + rest.length <= width) line += ` ${rest}`;
    else {
      lines.push(line);
      line = rest;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

const INDENT = '    ';

/**
 * The audit list for people, newest first as given, in `width` columns: the local time and the
 * account, then the command and what it changed, each wrapped under an indent. Every data text
 * is made printable (a name holding an escape sequence must not drive the terminal).
 */
export function renderAuditTrail(entries: readonly AuditEntry[], width = 80): string {
  if (entries.length === 0) return '(aucun changement enregistré)';
  // A line that goes on is indented two more, so the command and the change stay apart.
  const block = (text: string, indent: string) =>
    wrapText(printable(text), Math.max(20, width - indent.length - 2)).map((l, i) => `${indent}${i > 0 ? '  ' : ''}${l}`);
  return entries
    .map((e) =>
      [
        ...block(`${localDateTime(e.le)}  ${e.utilisateur}`, ''),
        ...block(`$ ${e.commande}`, INDENT),
        ...block(e.changement, INDENT),
      ].join('\n'),
    )
    .join('\n\n');
}
