import { describe, expect, it } from 'vitest';
import { describeError } from '../src/describe-error.js';

describe('errors in words a shop manager understands', () => {
  it.each([
    ['Serveur injoignable (ECONNREFUSED : connect ECONNREFUSED 127.0.0.1:8000)', 'le serveur ne répond pas (connexion refusée)'],
    ['Serveur injoignable (UND_ERR_CONNECT_TIMEOUT : Connect Timeout Error)', 'le serveur ne répond pas (délai de connexion dépassé)'],
    ['Serveur injoignable (UND_ERR_HEADERS_TIMEOUT : Headers Timeout Error)', "le serveur n'a pas répondu à temps"],
    ['Serveur injoignable (ENOTFOUND : getaddrinfo ENOTFOUND serveur)', 'adresse du serveur introuvable (nom inconnu, ou pas de réseau)'],
    ['Serveur injoignable (EINCONNU)', 'le serveur ne répond pas'],
    ['Réponse 503 du serveur : Base de données occupée', 'le serveur est occupé ou en maintenance (503) : Base de données occupée'],
  ])('%s', (raw, words) => {
    expect(describeError(raw)).toBe(words);
  });

  it('French from the server is kept as it is', () => {
    expect(describeError("Le serveur ne connaît pas ce terminal ou l'a désactivé")).toBe("Le serveur ne connaît pas ce terminal ou l'a désactivé");
    expect(describeError(null)).toBe('');
  });
});
