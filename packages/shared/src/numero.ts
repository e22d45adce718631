/**
 * The guide's generated invoice number: `VENTE-{boutique_id}-{YYYYMMDDHHMMSS UTC}-{index}`.
 * `isTaken` lets the caller avoid collisions (stored numeros, numeros earlier in the request,
 * another request in the same second): a taken numero gets a `-1`, `-2`… suffix.
 */
export function formatNumeroTimestamp(date: Date): string {
  const iso = date.toISOString(); // 2025-10-29T02:45:00.000Z
  return iso.slice(0, 19).replace(/[-:T]/g, '');
}

export function generateNumero(
  boutiqueId: number,
  receivedAt: Date,
  index: number,
  isTaken: (numero: string) => boolean = () => false,
): string {
  const base = `VENTE-${boutiqueId}-${formatNumeroTimestamp(receivedAt)}-${index}`;
  let numero = base;
  for (let suffix = 1; isTaken(numero); suffix++) numero = `${base}-${suffix}`;
  return numero;
}
