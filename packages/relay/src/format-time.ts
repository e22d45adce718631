/** How staff read a time: the machine's own zone (a shop PC is set to the shop's), or UTC on request. */
export interface TimeStyle {
  now: Date;
  utc: boolean;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Up to this far from now, "il y a 3 min" reads better than a clock time. */
const RELATIVE_UNTIL_MS = HOUR;

function parts(date: Date, utc: boolean) {
  const fmt = new Intl.DateTimeFormat('fr-FR', {
    ...(utc ? { timeZone: 'UTC' } : {}),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  const p = Object.fromEntries(fmt.formatToParts(date).map((x) => [x.type, x.value]));
  return { day: `${p.day}/${p.month}/${p.year}`, time: `${p.hour}:${p.minute}`, seconds: p.second ?? '00' };
}

/** "il y a 12 s", "il y a 3 min", "dans 4 min" (null when further than an hour). */
export function relative(date: Date, now: Date): string | null {
  const delta = date.getTime() - now.getTime();
  const abs = Math.abs(delta);
  if (abs >= RELATIVE_UNTIL_MS) return null;
  const amount = abs < MINUTE ? `${Math.max(1, Math.round(abs / 1000))} s` : `${Math.round(abs / MINUTE)} min`;
  return delta <= 0 ? `il y a ${amount}` : `dans ${amount}`;
}

/**
 * A moment for people: relative when close to now, else "aujourd'hui 09:32", "hier 18:05",
 * "demain 08:00" or "24/11/2026 18:05", in the chosen zone ("… UTC" when UTC was asked for).
 */
export function formatWhen(iso: string | null | undefined, style: TimeStyle): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const near = relative(date, style.now);
  if (near) return near;
  const zone = style.utc ? ' UTC' : '';
  const { day, time } = parts(date, style.utc);
  const dayOf = (offsetDays: number) => parts(new Date(style.now.getTime() + offsetDays * 24 * HOUR), style.utc).day;
  if (day === dayOf(0)) return `aujourd'hui ${time}${zone}`;
  if (day === dayOf(-1)) return `hier ${time}${zone}`;
  if (day === dayOf(1)) return `demain ${time}${zone}`;
  return `${day} ${time}${zone}`;
}

/** A full date and time, to the second, for a receipt: "25/11/2026 09:32:05". */
export function formatDateTime(iso: string | null | undefined, utc: boolean): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const { day, time, seconds } = parts(date, utc);
  return `${day} ${time}:${seconds}${utc ? ' UTC' : ''}`;
}
