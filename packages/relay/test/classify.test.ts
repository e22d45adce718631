import { describe, expect, it } from 'vitest';
import { classifyAnswer } from '../src/classify.js';

const numeros = ['A', 'B', 'C'];
const answer = (status: number, body: unknown, retryAfterMs: number | null = null) =>
  ({ kind: 'response', status, body, retryAfterMs }) as const;
const syncBody = (creees: string[], erreurs: unknown[] | null) => ({
  success: creees.length > 0,
  message: '',
  boutique_id: 2,
  boutique_nom: 'Ma Boutique',
  terminal: 'T',
  statistiques: { total_envoyees: 3, reussies: creees.length, erreurs: erreurs?.length ?? 0 },
  ventes_creees: creees.map((n) => ({ numero_facture: n, montant_total: '10.00', lignes: [] })),
  ventes_erreurs: erreurs,
});

describe('classifyAnswer', () => {
  it('a created sale is synced with the server amount', () => {
    const outcome = classifyAnswer(answer(201, syncBody(['A', 'B', 'C'], null)), numeros);
    expect(outcome).toEqual({ kind: 'answered', sales: Array(3).fill({ kind: 'synced', montant: '10.00' }) });
  });

  it('reads each error by its 1-based index: duplicate, stock, permanent', () => {
    const outcome = classifyAnswer(
      answer(
        200,
        syncBody([], [
          { index: 1, numero_facture: 'A', erreur: 'existe', code: 'DUPLICATE', identique: true, vente_existante: { numero_facture: 'A', montant_total: '5.00', date_vente: 'x' } },
          { index: 2, numero_facture: 'B', erreur: 'Stock insuffisant pour X', code: 'INSUFFICIENT_STOCK' },
          { index: 3, numero_facture: 'C', erreur: "l'article 9 n'existe pas", code: 'ARTICLE_NOT_FOUND' },
        ]),
      ),
      numeros,
    );
    expect(outcome).toEqual({
      kind: 'answered',
      sales: [
        { kind: 'synced', montant: '5.00' },
        { kind: 'stock', erreur: 'Stock insuffisant pour X' },
        { kind: 'rejected', code: 'ARTICLE_NOT_FOUND', erreur: "l'article 9 n'existe pas" },
      ],
    });
  });

  it('a duplicate that is not identical is rejected for a person to look at', () => {
    const outcome = classifyAnswer(
      answer(200, syncBody([], [{ index: 1, numero_facture: 'A', erreur: 'existe', code: 'DUPLICATE', identique: false }])),
      ['A'],
    );
    expect(outcome).toMatchObject({ kind: 'answered', sales: [{ kind: 'rejected', code: 'DUPLICATE' }] });
  });

  it('INVALID_SALE is rejected at once', () => {
    const outcome = classifyAnswer(answer(200, syncBody([], [{ index: 1, numero_facture: 'A', erreur: 'quantite', code: 'INVALID_SALE' }])), ['A']);
    expect(outcome).toMatchObject({ kind: 'answered', sales: [{ kind: 'rejected', code: 'INVALID_SALE', erreur: 'quantite' }] });
  });

  it('a sale the answer does not mention, or mentions under another numero, stays unknown: never guessed as synced', () => {
    const outcome = classifyAnswer(
      answer(201, syncBody(['A'], [{ index: 2, numero_facture: 'Z', erreur: 'x', code: 'DUPLICATE', identique: true }])),
      numeros,
    );
    expect(outcome).toEqual({ kind: 'answered', sales: [{ kind: 'synced', montant: '10.00' }, { kind: 'unknown' }, { kind: 'unknown' }] });
  });

  it.each([
    [503, { error: 'occupé', code: 'SERVICE_UNAVAILABLE' }],
    [500, { error: 'Erreur interne', code: 'INTERNAL_ERROR' }],
    [429, 'Too Many Requests'],
    [502, '<html>Bad Gateway</html>'],
    [200, '<html>portail captif</html>'],
    [400, { error: 'Format invalide', code: 'INVALID_FORMAT' }],
  ])('status %i (%j) makes the whole batch wait and retry', (status, body) => {
    expect(classifyAnswer(answer(status, body, 3000), numeros)).toMatchObject({ kind: 'retry', retryAfterMs: 3000 });
  });

  it('a network error or timeout makes the batch wait and retry', () => {
    expect(classifyAnswer({ kind: 'network-error', reason: 'ECONNREFUSED' }, numeros)).toEqual({
      kind: 'retry',
      reason: 'ECONNREFUSED',
      retryAfterMs: null,
    });
  });

  it('404 TERMINAL_NOT_FOUND holds that till; 413 asks for smaller batches', () => {
    expect(classifyAnswer(answer(404, { error: 'Terminal non trouvé ou inactif', code: 'TERMINAL_NOT_FOUND' }), numeros).kind).toBe('terminal-unknown');
    expect(classifyAnswer(answer(404, { error: 'Route introuvable', code: 'NOT_FOUND' }), numeros).kind).toBe('retry');
    expect(classifyAnswer(answer(413, { error: 'trop', code: 'BATCH_TOO_LARGE' }), numeros).kind).toBe('too-large');
  });
});
