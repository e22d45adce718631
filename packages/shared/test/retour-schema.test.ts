import { describe, expect, it } from 'vitest';
import { buildRetoursAnswer } from '../src/retour-response.js';
import {
  checkRetoursBatch,
  MAX_RETOURS_PER_REQUEST,
  mergeLignesRetour,
  rawRetourField,
  retourFingerprint,
  type RetourNormalise,
  validateRetour,
} from '../src/retour-schema.js';

const base = { numero_retour: 'R-1', numero_facture: 'V-1', lignes: [{ article_id: 7, quantite: 2 }, { article_id: 6 }] };

function valid(raw: unknown): RetourNormalise {
  const v = validateRetour(raw);
  if (!v.ok) throw new Error(v.erreur);
  return v.retour;
}

describe('a return as a till sends it', () => {
  it('is normalised: quantite defaults to 1, motif and date_retour to null, dates to UTC, unknown fields dropped', () => {
    expect(valid({ ...base, extra: true })).toEqual({
      numero_retour: 'R-1',
      numero_facture: 'V-1',
      lignes: [{ article_id: 7, quantite: 2 }, { article_id: 6, quantite: 1 }],
      motif: null,
      date_retour: null,
    });
    expect(valid({ ...base, motif: 'cassé', date_retour: '2025-10-29T18:10:00+01:00' })).toMatchObject({
      motif: 'cassé',
      date_retour: '2025-10-29T17:10:00.000Z',
    });
  });

  it('is refused with a message naming the field, the line and what was received', () => {
    const check = (raw: unknown) => {
      const v = validateRetour(raw);
      return v.ok ? 'ok' : v.erreur;
    };
    expect(check({ ...base, numero_retour: '   ' })).toBe('Le champ numero_retour ne doit pas être vide (reçu : "   ")');
    expect(check({ ...base, lignes: [{ article_id: 'six' }] })).toContain("Ligne 1 : le champ article_id doit être l'identifiant");
    expect(check([base])).toBe('Le retour doit être un objet JSON');
    // A thousand bad lines: a few problems reported, never an answer as big as the request.
    const many = check({ ...base, lignes: Array.from({ length: 1000 }, () => ({ article_id: 0 })) });
    expect(many).toContain('… et 995 autre(s) problème(s)');
    expect(many.length).toBeLessThan(1000);
  });

  it('echoes a refused return’s numeros only when they could be real ones', () => {
    expect(rawRetourField({ numero_retour: 'R-1' }, 'numero_retour')).toBe('R-1');
    expect(rawRetourField({ numero_retour: 'R'.repeat(65) }, 'numero_retour')).toBeNull();
    expect(rawRetourField({ numero_facture: 'V-\u200b1' }, 'numero_facture')).toBeNull();
    expect(rawRetourField('R-1', 'numero_retour')).toBeNull();
  });
});

describe('the fingerprint behind identique', () => {
  it('is the same for the same articles and quantities in another order or split over lines', () => {
    const a = valid(base);
    const b = valid({ ...base, lignes: [{ article_id: 6 }, { article_id: 7, quantite: 1 }, { article_id: 7, quantite: 1 }] });
    expect(retourFingerprint(b)).toBe(retourFingerprint(a));
    expect(mergeLignesRetour(b.lignes)).toEqual([{ article_id: 6, quantite: 1 }, { article_id: 7, quantite: 2 }]);
  });

  it('differs when the sale, a quantity, the motif or the date the till sent differs', () => {
    const a = retourFingerprint(valid(base));
    for (const other of [
      { ...base, numero_facture: 'V-2' },
      { ...base, lignes: [{ article_id: 7, quantite: 3 }, { article_id: 6 }] },
      { ...base, motif: 'cassé' },
      { ...base, date_retour: '2025-10-29T18:10:00Z' },
    ]) {
      expect(retourFingerprint(valid(other))).not.toBe(a);
    }
  });
});

describe('the request and the answer', () => {
  it('a body must be an array of at most 500 returns', () => {
    expect(checkRetoursBatch({})).toMatchObject({ ok: false, status: 400, body: { code: 'INVALID_FORMAT' } });
    expect(checkRetoursBatch(Array(MAX_RETOURS_PER_REQUEST + 1).fill(base))).toMatchObject({
      ok: false,
      status: 413,
      body: { code: 'BATCH_TOO_LARGE', limit: 500, received: 501 },
    });
    expect(checkRetoursBatch([base])).toEqual({ ok: true, items: [base] });
  });

  it('answers in the sync envelope: 201 when one was recorded, 200 with success false when none was', () => {
    const who = { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal: 'Caisse 1' };
    const created = buildRetoursAnswer(who, 2, {
      crees: [{ numero_retour: 'R-1', numero_facture: 'V-1', montant_total: '10.00', lignes: [] }],
      erreurs: [{ index: 2, numero_retour: 'R-2', numero_facture: 'V-9', erreur: 'Vente V-9 introuvable', code: 'SALE_NOT_FOUND' }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      success: true,
      message: '1 retour(s) enregistré(s) avec succès',
      statistiques: { total_envoyees: 2, reussies: 1, erreurs: 1 },
    });
    const none = buildRetoursAnswer(who, 0, { crees: [], erreurs: [] });
    expect([none.status, none.body.success, none.body.retours_erreurs]).toEqual([200, false, null]);
  });
});
