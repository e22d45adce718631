/** The integration guide's own data, so that its curl example works verbatim. */
export const DEMO_FIXTURE = {
  boutiques: [{ id: 2, nom: 'Ma Boutique', devise: 'CDF' }],
  terminaux: [{ serial: '0a1badae951f8473', nom: 'Terminal messie vanza', boutique_id: 2, actif: true }],
  articles: [
    { id: 6, boutique_id: 2, nom: 'Samsung S24', prix_vente: '40000.00', stock: 100 },
    { id: 7, boutique_id: 2, nom: 'Écouteurs Bluetooth', prix_vente: '25000.00', stock: 100 },
  ],
};
