// Shop-local days (CONTRACT §7): every "day" of the books is the boutique's local day of the
// sale's instant, in its IANA zone (`fuseau`). Intl only: the zone rules are the ones the
// runtime ships (ICU's copy of the IANA database); no dependency of our own to keep up to date.

/** The zone of a boutique that never set one. */
export const DEFAULT_FUSEAU = 'UTC';
/** Longest zone name accepted; the longest IANA name is about 30 characters. */
export const MAX_FUSEAU_LENGTH = 64;

export type FuseauCheck = { ok: true; fuseau: string } | { ok: false; code: 'INVALID_FUSEAU'; erreur: string };

const DAY_MS = 86_400_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone, made once: building one costs far more than using it. */
function formatterOf(fuseau: string): Intl.DateTimeFormat {
  let f = formatters.get(fuseau);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: fuseau,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(fuseau, f);
  }
  return f;
}

/**
 * A zone name as a person typed it → the name to store, or a French refusal. Accepted: what
 * the IANA database names (`Africa/Kinshasa`, `UTC`, an alias such as `Etc/GMT-1`), in any
 * letter case (stored as the database spells it). Refused: an offset (`+01:00`: a shop's
 * offset changes with its rules, its zone does not), a name the database lacks, blanks.
 */
export function checkFuseau(name: unknown): FuseauCheck {
  const refuse = (why: string): FuseauCheck => ({
    ok: false,
    code: 'INVALID_FUSEAU',
    erreur: `Fuseau horaire invalide${typeof name === 'string' && name.length <= MAX_FUSEAU_LENGTH ? ` « ${name} »` : ''} : ${why} (ex. Africa/Kinshasa, Africa/Lubumbashi, UTC)`,
  });
  if (typeof name !== 'string') return refuse('un nom de fuseau IANA est attendu');
  if (name.length === 0 || name.length > MAX_FUSEAU_LENGTH) return refuse(`1 à ${MAX_FUSEAU_LENGTH} caractères attendus`);
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return refuse('un nom de fuseau IANA est attendu, pas un décalage ni un texte libre');
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return refuse("ce fuseau n'existe pas dans la base IANA");
  }
  return { ok: true, fuseau: resolved.toLowerCase() === name.toLowerCase() ? resolved : name };
}

/** Whether `name` is a zone this runtime knows, as stored (exact spelling not required). */
export function isFuseau(name: unknown): name is string {
  return checkFuseau(name).ok;
}

/** The zone's offset from UTC at this instant, in ms (local = UTC + offset), to the second. */
export function zoneOffsetMs(fuseau: string, time: number): number {
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const part of formatterOf(fuseau).formatToParts(time)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value) % 24;
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
      case 'era':
        bc = part.value === 'BC' || part.value === 'B';
        break;
    }
  }
  // Year 0 of ISO 8601 is 1 BC.
  const localAsUtc = Date.UTC(bc ? 1 - year : year, month - 1, day, hour, minute, second);
  // Date.UTC maps years 0–99 to 1900–1999: set the year again when it is one of those.
  const fixed = new Date(localAsUtc);
  fixed.setUTCFullYear(bc ? 1 - year : year, month - 1, day);
  return fixed.getTime() - (time - (((time % 1000) + 1000) % 1000));
}

/**
 * Offsets stay put for months: each zone remembers the last quarter hour it was asked about.
 * The cached offset is used only when it holds at both ends of that quarter hour, so a change
 * of offset inside it (any time of day, to the second) is always computed exactly.
 */
const QUARTER_MS = 15 * 60 * 1000;
const lastQuarter = new Map<string, { quarter: number; offset: number | null }>();

function offsetAt(fuseau: string, time: number): number {
  const quarter = Math.floor(time / QUARTER_MS);
  const cached = lastQuarter.get(fuseau);
  if (cached && cached.quarter === quarter && cached.offset !== null) return cached.offset;
  const start = quarter * QUARTER_MS;
  const atStart = zoneOffsetMs(fuseau, start);
  const atEnd = zoneOffsetMs(fuseau, start + QUARTER_MS - 1);
  lastQuarter.set(fuseau, { quarter, offset: atStart === atEnd ? atStart : null });
  return atStart === atEnd ? atStart : zoneOffsetMs(fuseau, time);
}

function dayOfMs(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/**
 * The local day (`AAAA-MM-JJ`) of an instant in a zone: `2025-10-28T23:30:00Z` is
 * `2025-10-29` in Africa/Kinshasa (+1). `instant` is ms or ISO 8601 text with an offset.
 */
export function localDayOf(instant: number | string, fuseau: string): string {
  if (fuseau === 'UTC' && typeof instant === 'string' && instant.endsWith('Z')) return instant.slice(0, 10);
  const time = typeof instant === 'number' ? instant : Date.parse(instant);
  if (Number.isNaN(time)) throw new RangeError(`instant invalide : ${String(instant)}`);
  return dayOfMs(time + offsetAt(fuseau, time));
}

/** `AAAA-MM-JJ` → the same text when it is a real calendar day, else null. */
export function parseDay(text: string): string | null {
  const m = DAY.exec(text);
  if (!m) return null;
  const time = Date.parse(`${text}T00:00:00.000Z`);
  return Number.isNaN(time) || dayOfMs(time) !== text ? null : text;
}

/** The day after (`2025-12-31` → `2026-01-01`). */
export function nextDay(day: string): string {
  return dayOfMs(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS);
}

/**
 * The first instant (ms) of local day `day` in the zone: local midnight, or when the clocks
 * skip midnight (a DST change at 00:00), the first instant that exists that day. Found by
 * halving the 3 days around it: correct whatever the zone's offsets and changes, and cheap
 * enough for a request's filter (a few dozen offset readings).
 */
export function localDayStartMs(day: string, fuseau: string): number {
  const midnightUtc = Date.parse(`${day}T00:00:00.000Z`);
  if (Number.isNaN(midnightUtc)) throw new RangeError(`jour invalide : ${day}`);
  if (fuseau === 'UTC') return midnightUtc;
  // Offsets lie within ±26 h: the start is in this window; lo is before it, hi at or after.
  let lo = midnightUtc - 27 * 3_600_000;
  let hi = midnightUtc + 27 * 3_600_000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (dayOfMs(mid + zoneOffsetMs(fuseau, mid)) >= day) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** A local day's instants in UTC: `from` inclusive, `to` exclusive (the next day's start), ms. */
export function localDayBoundsMs(day: string, fuseau: string): { from: number; to: number } {
  return { from: localDayStartMs(day, fuseau), to: localDayStartMs(nextDay(day), fuseau) };
}

/** The same bounds as ISO 8601 UTC text, as dates are stored. */
export function localDayBounds(day: string, fuseau: string): { from: string; to: string } {
  const { from, to } = localDayBoundsMs(day, fuseau);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}
