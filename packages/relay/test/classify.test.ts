import { describe, expect, it } from 'vitest';
import { classifyAnswer, classifyRetoursAnswer } from '../src/classify.js';

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
    expect(outcome).toEqual({
      kind: 'answered',
      sales: Array(3).fill({ kind: 'synced', montant: '10.00' }),
      boutique: { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal: 'T' },
    });
  });

  it('a sale created short of stock (STOCK_NEGATIF) is synced with its warning, never sent to the stock-retry cycle', () => {
    const body = syncBody(['A', 'B'], null);
    body.ventes_creees[0] = { ...body.ventes_creees[0]!, avertissements: [{ code: 'STOCK_NEGATIF', article_id: 10, manque: 3 }] } as never;
    // A warning this relay does not know yet is kept too, and does not make the answer unreadable.
    body.ventes_creees[1] = { ...body.ventes_creees[1]!, avertissements: [{ code: 'PRIX_CHANGE' }] } as never;
    const outcome = classifyAnswer(answer(201, body), ['A', 'B']);
    expect(outcome).toMatchObject({
      kind: 'answered',
      sales: [
        { kind: 'synced', montant: '10.00', avertissements: [{ code: 'STOCK_NEGATIF', article_id: 10, manque: 3 }] },
        { kind: 'synced', montant: '10.00', avertissements: [{ code: 'PRIX_CHANGE' }] },
      ],
    });
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
    expect(outcome).toMatchObject({
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
    expect(outcome).toMatchObject({ kind: 'answered', sales: [{ kind: 'synced', montant: '10.00' }, { kind: 'unknown' }, { kind: 'unknown' }] });
  });

  it('a DUPLICATE without a numero is not about any sale, even identique: never synced by its index alone', () => {
    const outcome = classifyAnswer(
      answer(200, syncBody([], [{ index: 1, numero_facture: null, erreur: 'existe', code: 'DUPLICATE', identique: true, vente_existante: null }])),
      ['A'],
    );
    expect(outcome).toMatchObject({ kind: 'answered', sales: [{ kind: 'unknown' }] });
  });

  it('a code this relay does not know is kept for a person, not taken as an unreadable answer', () => {
    const outcome = classifyAnswer(answer(200, syncBody([], [{ index: 1, numero_facture: 'A', erreur: 'nouveau', code: 'PRIX_BLOQUE' }])), ['A']);
    expect(outcome).toMatchObject({ kind: 'answered', sales: [{ kind: 'rejected', code: 'PRIX_BLOQUE', erreur: 'nouveau' }] });
  });

  it.each([
    ['ventes_creees: [null]', { ...syncBody(['A'], null), ventes_creees: [null] }],
    ['a sale without its amount', { ...syncBody([], null), ventes_creees: [{ numero_facture: 'A', lignes: [] }] }],
    ['an amount that is not money', { ...syncBody([], null), ventes_creees: [{ numero_facture: 'A', montant_total: 10, lignes: [] }] }],
    ['ventes_erreurs: [null]', { ...syncBody([], null), ventes_erreurs: [null] }],
    ['no ventes_creees', { ...syncBody([], null), ventes_creees: undefined }],
    ['an HTML page', '<html>portail captif</html>'],
    ['null', null],
  ])('a 200/201 answer that does not read (%s) marks nothing: the batch failed', (_what, body) => {
    expect(classifyAnswer(answer(201, body), ['A'])).toMatchObject({ kind: 'failed', code: 'REPONSE_ILLISIBLE' });
  });

  it('an answer too large to read is a failure of the batch, not a network outage', () => {
    expect(classifyAnswer({ kind: 'network-error', reason: 'trop volumineuse', unreadable: true }, numeros)).toMatchObject({ kind: 'failed' });
  });

  it.each([
    [503, { error: 'occupé', code: 'SERVICE_UNAVAILABLE' }],
    [429, 'Too Many Requests'],
    [502, '<html>Bad Gateway</html>'],
    [504, '<html>Gateway Timeout</html>'],
    [507, { error: 'Disque du serveur plein', code: 'STORAGE_FULL' }],
  ])('status %i (%j): the server is away or busy, the whole batch waits and is retried', (status, body) => {
    expect(classifyAnswer(answer(status, body, 3000), numeros)).toMatchObject({ kind: 'retry', retryAfterMs: 3000 });
  });

  it.each([
    [500, { error: 'Erreur interne', code: 'INTERNAL_ERROR' }, 'INTERNAL_ERROR'],
    [400, { error: 'Format invalide', code: 'INVALID_FORMAT' }, 'INVALID_FORMAT'],
    [418, 'teapot', 'HTTP_418'],
  ])('status %i (%j): the batch failed, maybe because of one of its sales (code %s)', (status, body, code) => {
    expect(classifyAnswer(answer(status, body), numeros)).toMatchObject({ kind: 'failed', code });
  });

  it('a network error or timeout makes the batch wait and retry', () => {
    expect(classifyAnswer({ kind: 'network-error', reason: 'ECONNREFUSED', maybeReceived: false }, numeros)).toEqual({
      kind: 'retry',
      reason: 'ECONNREFUSED',
      retryAfterMs: null,
      unsure: false,
    });
  });

  it('after a reset, a timeout, an unreadable answer, a 500 or a gateway error, the server may have the sales: the send is unsure', () => {
    expect(classifyAnswer({ kind: 'network-error', reason: 'ECONNRESET', maybeReceived: true }, numeros)).toMatchObject({ kind: 'retry', unsure: true });
    expect(classifyAnswer(answer(201, '<html>proxy</html>'), numeros)).toMatchObject({ kind: 'failed', unsure: true });
    expect(classifyAnswer(answer(500, { error: 'x', code: 'INTERNAL_ERROR' }), numeros)).toMatchObject({ kind: 'failed', unsure: true });
    expect(classifyAnswer(answer(504, 'Gateway Timeout'), numeros)).toMatchObject({ kind: 'retry', unsure: true });
    expect(classifyAnswer(answer(503, { error: 'occupé', code: 'SERVICE_UNAVAILABLE' }), numeros)).toMatchObject({ kind: 'retry', unsure: false });
    expect(classifyAnswer(answer(400, { error: 'Format invalide', code: 'INVALID_FORMAT' }), numeros)).toMatchObject({ kind: 'failed', unsure: false });
  });

  it('404 TERMINAL_NOT_FOUND holds that till; 413 asks for smaller batches', () => {
    expect(classifyAnswer(answer(404, { error: 'Terminal non trouvé ou inactif', code: 'TERMINAL_NOT_FOUND' }), numeros).kind).toBe('terminal-unknown');
    expect(classifyAnswer(answer(404, { error: 'Route introuvable', code: 'NOT_FOUND' }), numeros).kind).toBe('failed');
    expect(classifyAnswer(answer(413, { error: 'trop', code: 'BATCH_TOO_LARGE' }), numeros).kind).toBe('too-large');
  });

  it("a §6 refusal of the relay (401/403) is never the sales' fault: they wait with a reason for the staff, soon again for a time or a replay", () => {
    const trust = (status: number, code: string) => classifyAnswer(answer(status, { error: 'refus', code }), numeros);
    expect(trust(401, 'RELAY_NOT_FOUND')).toEqual({
      kind: 'trust',
      code: 'RELAY_NOT_FOUND',
      reason: expect.stringContaining('relais inconnu ou désactivé sur le serveur : vérifiez --relay-id et le secret'),
      retryAfterMs: null,
    });
    expect(trust(403, 'RELAY_FORBIDDEN')).toMatchObject({ kind: 'trust', reason: expect.stringContaining("n'est pas une de celles du relais") });
    expect(trust(401, 'SIGNATURE_REQUIRED')).toMatchObject({ kind: 'trust', reason: expect.stringContaining('--relay-id') });
    expect(trust(401, 'INVALID_SIGNATURE')).toMatchObject({ kind: 'trust', retryAfterMs: null });
    expect(trust(401, 'SIGNATURE_EXPIRED')).toMatchObject({ kind: 'trust', retryAfterMs: 1_000 });
    expect(trust(401, 'SIGNATURE_REPLAYED')).toMatchObject({ kind: 'trust', retryAfterMs: 1_000 });
    // Another 401/403 code stays a failure of the batch, as before.
    expect(trust(403, 'FORBIDDEN').kind).toBe('failed');
  });
});

describe('classifyRetoursAnswer', () => {
  const retoursBody = (crees: string[], erreurs: unknown[] | null) => ({
    success: crees.length > 0,
    message: '',
    boutique_id: 2,
    boutique_nom: 'Ma Boutique',
    terminal: 'T',
    statistiques: { total_envoyees: 4, reussies: crees.length, erreurs: erreurs?.length ?? 0 },
    retours_crees: crees.map((n) => ({ numero_retour: n, numero_facture: 'V', montant_total: '5.00', lignes: [] })),
    retours_erreurs: erreurs,
  });
  const error = (index: number, numero: string, code: string, extra: object = {}) => ({ index, numero_retour: numero, numero_facture: 'V', erreur: `refus ${code}`, code, ...extra });

  it('created and DUPLICATE identique are synced; SALE_NOT_FOUND is for the forwarder to judge; other codes are rejected with the reason', () => {
    const body = retoursBody(['R1'], [
      error(2, 'R2', 'DUPLICATE', { identique: true, retour_existant: { numero_retour: 'R2', numero_facture: 'V', montant_total: '7.00', date_retour: '2025-10-01T08:00:00.000Z' } }),
      error(3, 'R3', 'SALE_NOT_FOUND'),
      error(4, 'R4', 'RETURN_EXCEEDS_SALE'),
      error(5, 'R5', 'DUPLICATE', { identique: false }),
    ]);
    const outcome = classifyRetoursAnswer(answer(201, body), ['R1', 'R2', 'R3', 'R4', 'R5', 'R6']);
    expect(outcome).toEqual({
      kind: 'answered',
      retours: [
        { kind: 'synced', montant: '5.00' },
        { kind: 'synced', montant: '7.00' },
        { kind: 'missing', erreur: 'refus SALE_NOT_FOUND' },
        { kind: 'rejected', code: 'RETURN_EXCEEDS_SALE', erreur: 'refus RETURN_EXCEEDS_SALE' },
        { kind: 'rejected', code: 'DUPLICATE', erreur: 'refus DUPLICATE (numéro réutilisé pour un autre retour)' },
        { kind: 'unknown' },
      ],
      boutique: { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal: 'T' },
    });
  });

  it('any other answer means what it means for sales: away, too large, failed, unreadable', () => {
    expect(classifyRetoursAnswer(answer(503, { error: 'occupé', code: 'OVERLOADED' }, 2000), ['R1'])).toMatchObject({ kind: 'retry', retryAfterMs: 2000 });
    expect(classifyRetoursAnswer(answer(413, { error: 'trop gros', code: 'PAYLOAD_TOO_LARGE' }), ['R1'])).toMatchObject({ kind: 'too-large' });
    expect(classifyRetoursAnswer(answer(500, 'boom'), ['R1'])).toMatchObject({ kind: 'failed', code: 'HTTP_500' });
    expect(classifyRetoursAnswer(answer(201, { success: true }), ['R1'])).toMatchObject({ kind: 'failed', code: 'REPONSE_ILLISIBLE' });
  });
});
