import { z } from 'zod';
import { parseMoney } from './money.js';

const Id = z.int({ error: 'doit être un entier positif' }).min(1, { error: 'doit être un entier positif' });
const Nom = z.string({ error: 'doit être un texte' }).trim().min(1, { error: 'ne doit pas être vide' });

/** The data file of `ventesync-server import` (CONTRACT.md section 4). */
export const FixtureSchema = z.object(
  {
    boutiques: z
      .array(z.object({ id: Id, nom: Nom, devise: z.string().trim().min(1).default('CDF') }, { error: 'doit être un objet' }))
      .default([]),
    terminaux: z
      .array(
        z.object(
          {
            serial: Nom,
            nom: Nom,
            boutique_id: Id,
            actif: z.boolean({ error: 'doit être un booléen' }).default(true),
          },
          { error: 'doit être un objet' },
        ),
      )
      .default([]),
    articles: z
      .array(
        z.object(
          {
            id: Id,
            boutique_id: Id,
            nom: Nom,
            prix_vente: z.union([z.number(), z.string()]).transform((value, ctx) => {
              const centimes = parseMoney(value);
              if (centimes === null) {
                ctx.issues.push({ code: 'custom', input: value, message: 'doit être un montant positif avec au plus 2 décimales' });
                return z.NEVER;
              }
              return centimes;
            }),
            stock: z.int({ error: 'doit être un entier positif ou nul' }).min(0, { error: 'doit être un entier positif ou nul' }).default(0),
          },
          { error: 'doit être un objet' },
        ),
      )
      .default([]),
  },
  { error: 'le fichier doit contenir un objet JSON {boutiques, terminaux, articles}' },
);

export type Fixture = z.output<typeof FixtureSchema>;

/** Names the bad entry of a fixture file: `articles[2].prix_vente : doit être…`. */
export function describeFixtureIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path
        .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
        .join('');
      return where ? `${where} : ${issue.message}` : issue.message;
    })
    .join(' ; ');
}
