import { describe, expect, it } from 'vitest';
import { SyncResponseSchema, type VenteCreee } from '../src/response-schemas.js';
import { buildSyncAnswer } from '../src/sync-response.js';

const who = { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal: 'Terminal messie vanza' };
const ligne = { article_nom: 'Samsung S24', quantite: 1, prix_unitaire: '40000.00', sous_total: '40000.00' };
const creee = (i: number, lignes: number): VenteCreee => ({
  numero_facture: `V-${i}`,
  montant_total: `${40000 * lignes}.00`,
  lignes: Array.from({ length: lignes }, () => ligne),
});

describe('buildSyncAnswer', () => {
  it("wraps an outcome in the guide's envelope: 201 when a sale was created, ventes_erreurs null when empty", () => {
    const answer = buildSyncAnswer(who, 1, { creees: [creee(1, 1)], erreurs: [] });
    expect(answer).toEqual({
      status: 201,
      body: {
        success: true,
        message: '1 vente(s) synchronisée(s) avec succès',
        ...who,
        statistiques: { total_envoyees: 1, reussies: 1, erreurs: 0 },
        ventes_creees: [creee(1, 1)],
        ventes_erreurs: null,
      },
    });
  });

  it('is 200 with success false when nothing was created', () => {
    const erreur = { index: 1, numero_facture: 'X', erreur: 'Vente X existe déjà, ignorée', code: 'DUPLICATE' as const, identique: true };
    const answer = buildSyncAnswer(who, 1, { creees: [], erreurs: [erreur] });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ success: false, message: '0 vente(s) synchronisée(s) avec succès', ventes_erreurs: [erreur] });
  });

  it('a normal batch (500 sales of 5 lines) comes back whole', () => {
    const creees = Array.from({ length: 500 }, (_, i) => creee(i, 5));
    expect(buildSyncAnswer(who, 500, { creees, erreurs: [] }).body.ventes_creees).toBe(creees);
  });

  it('stays under 1 MiB when created sales would echo more lines: the rest keep numero and amount, with lignes_omises', () => {
    const creees = Array.from({ length: 500 }, (_, i) => creee(i, 580));
    const { body } = buildSyncAnswer(who, 500, { creees, erreurs: [] });
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(1024 * 1024);
    expect(body.ventes_creees).toHaveLength(500);
    expect(body.ventes_creees[0]!.lignes).toHaveLength(580);
    expect(body.ventes_creees[499]).toEqual({ numero_facture: 'V-499', montant_total: '23200000.00', lignes: [], lignes_omises: 580 });
    expect(SyncResponseSchema.safeParse(body).success).toBe(true);
    expect(creees[499]!.lignes).toHaveLength(580);
  });
});
