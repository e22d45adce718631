import type { RelayStore } from './relay-store.js';

function isAlive(pid: string | null): boolean {
  if (!pid) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

/** What `status` shows staff: is the relay running, is the server there, what is waiting, per till. */
export function statusReport(store: RelayStore) {
  const summaries = new Map(store.summary().map((s) => [s.serial, s]));
  const terminaux = store.terminaux();
  const serials = [...new Set([...terminaux.map((t) => t.serial), ...summaries.keys()])].sort();
  const daemonUrl = store.getEtat('daemon_url');
  const running = daemonUrl !== null && isAlive(store.getEtat('daemon_pid'));
  const parTerminal = serials.map((serial) => {
    const s = summaries.get(serial);
    const t = terminaux.find((x) => x.serial === serial);
    return {
      serial,
      terminal: t?.terminal_nom ?? null,
      boutique_id: t?.boutique_id ?? null,
      boutique: t?.boutique_nom ?? null,
      etat_terminal: t?.statut ?? 'NON_VERIFIE',
      en_attente: s?.en_attente ?? 0,
      synchronisees: s?.synchronisees ?? 0,
      rejetees: s?.rejetees ?? 0,
      abandonnees: s?.abandonnees ?? 0,
      plus_ancienne_en_attente: s?.plus_ancienne_en_attente ?? null,
      derniere_sync: t?.derniere_sync ?? null,
      derniere_erreur: t?.derniere_erreur ?? null,
      erreur_le: t?.erreur_le ?? null,
      bloque:
        t?.statut === 'INCONNU'
          ? 'Le serveur ne connaît pas ce terminal ou il est désactivé : ses ventes attendent (ventesync-server terminal enable …)'
          : null,
    };
  });
  const sum = (key: 'en_attente' | 'synchronisees' | 'rejetees' | 'abandonnees') => parTerminal.reduce((n, t) => n + t[key], 0);
  const oldest = parTerminal.map((t) => t.plus_ancienne_en_attente).filter((d): d is string => d !== null).sort()[0] ?? null;
  return {
    relais: { en_marche: running, url: running ? daemonUrl : null },
    serveur: {
      url: store.getEtat('serveur_url'),
      joignable: store.getEtat('serveur_joignable') === null ? null : store.getEtat('serveur_joignable') === 'oui',
      verifie_le: store.getEtat('serveur_verifie_le'),
    },
    derniere_sync: store.getEtat('derniere_sync'),
    derniere_erreur: store.getEtat('derniere_erreur') ? { message: store.getEtat('derniere_erreur'), le: store.getEtat('derniere_erreur_le') } : null,
    totaux: {
      en_attente: sum('en_attente'),
      synchronisees: sum('synchronisees'),
      rejetees: sum('rejetees'),
      abandonnees: sum('abandonnees'),
      plus_ancienne_en_attente: oldest,
    },
    terminaux: parTerminal,
  };
}

export type StatusReport = ReturnType<typeof statusReport>;
