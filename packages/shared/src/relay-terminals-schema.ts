import { z } from 'zod';
import { SECRET_LENGTH } from './signature.js';

export const RelaisTerminalSchema = z
  .object({
    serial: z.string().meta({ description: 'Numéro de série du terminal' }),
    boutique_id: z.int().meta({ description: 'Sa boutique (une de celles du relais)' }),
    actif: z.boolean().meta({ description: 'false : terminal désactivé, le relais le refuse' }),
    secret: z
      .string()
      .length(SECRET_LENGTH)
      .nullable()
      .meta({ description: 'Son secret (CONTRACT §6), pour que le relais vérifie ses signatures ; null : le terminal ne signe pas' }),
  })
  .meta({ id: 'RelaisTerminal', description: "Un terminal d'une boutique du relais" });

export const RelaisTerminauxResponseSchema = z
  .object({
    success: z.literal(true),
    relais_id: z.int().meta({ description: 'Le relais qui a signé la requête' }),
    signatures_requises: z
      .boolean()
      .meta({ description: 'true : le serveur tourne avec --require-signatures, un terminal sans secret est refusé' }),
    version: z.string().meta({ description: 'La version de cette liste, celle du header X-Relais-Terminaux-Version' }),
    terminaux: z.array(RelaisTerminalSchema),
  })
  .meta({ id: 'RelaisTerminauxResponse', description: 'Réservé aux relais enregistrés : les terminaux de leurs boutiques' });

export type RelaisTerminal = z.infer<typeof RelaisTerminalSchema>;
export type RelaisTerminauxResponse = z.infer<typeof RelaisTerminauxResponseSchema>;
