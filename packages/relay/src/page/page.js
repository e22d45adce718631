// The relay's page: asks the relay for its state every few seconds and shows it. Everything
// from the relay (numeros, reasons: they come from tills and the server) is put on screen as
// text (textContent), never as markup.
'use strict';

(function () {
  var REFRESH_MS = __PAGE_REFRESH_MS__;
  var TOKEN_HEADER = 'X-Relais-Jeton';
  var token = null;
  /** The numero whose discard form is open: the list is left alone while a person types. */
  var discarding = null;
  var timer = null;

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(id, visible) { $(id).hidden = !visible; }

  function setText(id, text) { $(id).textContent = text === null || text === undefined ? '' : String(text); }

  function fillList(id, items) {
    var list = $(id);
    list.replaceChildren();
    (items || []).forEach(function (text) { list.appendChild(el('li', null, text)); });
  }

  function say(text, isError) {
    var box = $('message');
    box.textContent = text;
    box.className = isError ? 'message erreur' : 'message';
    box.hidden = !text;
  }

  var WORDS = { vert: 'Vert', orange: 'Orange', rouge: 'Rouge' };

  /** A till's sales, and its returns under them when it has some ("+ 1 retour"). */
  function countCell(ventes, retours) {
    var cell = el('td', 'nombre', ventes);
    if (retours > 0) {
      cell.appendChild(el('br'));
      cell.appendChild(el('span', 'note', '+ ' + retours + (retours === 1 ? ' retour' : ' retours')));
    }
    return cell;
  }

  function renderTills(tills) {
    var body = $('caisses').querySelector('tbody');
    body.replaceChildren();
    tills.forEach(function (t) {
      var row = el('tr');
      var name = el('td', null, t.nom);
      if (t.boutique) { name.appendChild(el('br')); name.appendChild(el('span', 'note', t.boutique)); }
      row.appendChild(name);
      row.appendChild(countCell(t.en_attente, t.retours_en_attente));
      row.appendChild(countCell(t.rejetees, t.retours_rejetes));
      row.appendChild(el('td', 'nombre', t.synchronisees));
      row.appendChild(el('td', null, t.dernier_envoi));
      row.appendChild(el('td', 'situation', t.situation || ''));
      body.appendChild(row);
    });
    show('aucune-caisse', tills.length === 0);
  }

  function send(path, body) {
    var headers = { 'Content-Type': 'application/json' };
    headers[TOKEN_HEADER] = token || '';
    return fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body), credentials: 'same-origin' })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (answer) {
          if (!res.ok) throw new Error(answer.error || ('Réponse ' + res.status + ' du relais'));
          return answer;
        });
      });
  }

  function decide(path, body, buttons) {
    buttons.forEach(function (b) { b.disabled = true; });
    send(path, body)
      .then(function (answer) { discarding = null; say(answer.message, false); })
      .catch(function (error) { say(error.message, true); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); refresh(); });
  }

  /**
   * A refused sale (`retour` false) or return, with its reason, what to do and, on the shop PC,
   * Renvoyer / Abandonner. A return's decisions say so (`genre`): its numero is not a sale's.
   */
  function refusedCard(v, actions, retour) {
    var numero = retour ? v.numero_retour : v.numero_facture;
    var key = (retour ? 'retour:' : 'vente:') + v.caisse + ':' + numero;
    var card = el('div', retour ? 'refusee retour' : 'refusee');
    card.setAttribute('data-numero', numero);
    card.appendChild(el('p', 'numero', retour ? 'Retour ' + numero : numero));
    card.appendChild(el('p', null, retour
      ? 'Vente ' + v.numero_facture + ' — ' + v.terminal + ' — ' + v.montant + ' — reçu ' + v.recu
      : v.terminal + ' — ' + v.montant + ' — reçue ' + v.recue));
    // The till it shows: the decision acts on that one when tills share a numero.
    var extra = retour ? { genre: 'retour', caisse: v.caisse } : { caisse: v.caisse };
    var reason = el('p');
    reason.appendChild(el('strong', null, 'Raison : '));
    reason.appendChild(document.createTextNode(v.raison));
    card.appendChild(reason);
    var todo = el('p');
    todo.appendChild(el('strong', null, 'Que faire : '));
    todo.appendChild(document.createTextNode(v.que_faire));
    card.appendChild(todo);
    if (!actions) return card;

    var bar = el('div', 'actions');
    var retry = el('button', 'principal', 'Renvoyer');
    retry.type = 'button';
    var discard = el('button', null, 'Abandonner…');
    discard.type = 'button';
    bar.appendChild(retry);
    bar.appendChild(discard);
    card.appendChild(bar);
    retry.addEventListener('click', function () { decide('/etat/renvoyer', Object.assign({ numero: numero }, extra), [retry, discard]); });

    var form = el('div', 'actions');
    form.hidden = discarding !== key;
    var label = el('label', null, 'Raison de l’abandon : ');
    var input = el('input');
    input.type = 'text';
    input.maxLength = 500;
    label.appendChild(input);
    var confirm = el('button', null, 'Confirmer l’abandon');
    confirm.type = 'button';
    var cancel = el('button', null, 'Annuler');
    cancel.type = 'button';
    form.appendChild(label);
    form.appendChild(confirm);
    form.appendChild(cancel);
    card.appendChild(form);
    discard.addEventListener('click', function () { discarding = key; form.hidden = false; input.focus(); });
    cancel.addEventListener('click', function () { discarding = null; form.hidden = true; refresh(); });
    confirm.addEventListener('click', function () {
      if (input.value.trim() === '') { say('Donnez la raison de l’abandon : elle est gardée avec ' + (retour ? 'le retour.' : 'la vente.'), true); input.focus(); return; }
      decide('/etat/abandonner', Object.assign({ numero: numero, raison: input.value }, extra), [retry, discard, confirm, cancel]);
    });
    return card;
  }

  function renderRefused(state) {
    // A person typing a reason keeps the form as it is until they confirm or cancel.
    if (discarding !== null) return;
    var list = $('refusees');
    list.replaceChildren();
    state.refusees.forEach(function (v) { list.appendChild(refusedCard(v, state.actions_permises, false)); });
    show('aucune-refusee', state.refusees.length === 0);
    show('lecture-seule', !state.actions_permises && state.refusees.length > 0);
    setText('refusees-plus', state.refusees_non_montrees > 0 ? '… et ' + state.refusees_non_montrees + ' autre(s) : voir la commande « rejected » du relais.' : '');
    show('refusees-plus', state.refusees_non_montrees > 0);

    var retours = state.retours_refuses || [];
    var returnsList = $('retours-refuses');
    returnsList.replaceChildren();
    retours.forEach(function (r) { returnsList.appendChild(refusedCard(r, state.actions_permises, true)); });
    show('aucun-retour-refuse', retours.length === 0);
    show('retours-lecture-seule', !state.actions_permises && retours.length > 0);
    var more = state.retours_refuses_non_montres || 0;
    setText('retours-refuses-plus', more > 0 ? '… et ' + more + ' autre(s) : voir la commande « rejected » du relais.' : '');
    show('retours-refuses-plus', more > 0);
  }

  function render(state) {
    token = state.jeton || null;
    var head = $('etat');
    head.setAttribute('data-feu', state.feu);
    setText('lampe-mot', WORDS[state.feu] || '?');
    setText('titre', state.titre);
    setText('attente', state.attente || 'Aucune vente en attente');
    if (state.ne_pas_eteindre_texte) setText('ne-pas-eteindre', state.ne_pas_eteindre_texte);
    show('ne-pas-eteindre', state.ne_pas_eteindre);
    show('injoignable', false);
    fillList('raisons', state.raisons);
    fillList('alertes', state.alertes);
    setText('dernier-envoi', state.dernier_envoi);
    setText('serveur', state.serveur);
    setText('mis-a-jour', state.mis_a_jour);
    renderTills(state.terminaux);
    renderRefused(state);
    document.title = (WORDS[state.feu] ? WORDS[state.feu] + ' — ' : '') + 'Relais des caisses';
  }

  function unreachable(text) {
    $('etat').setAttribute('data-feu', '');
    setText('lampe-mot', '?');
    setText('injoignable', text);
    show('injoignable', true);
  }

  function refresh() {
    clearTimeout(timer);
    fetch('/etat', { cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) throw new Error(body.error || ('Réponse ' + res.status + ' du relais'));
          render(body);
        });
      })
      .catch(function (error) {
        unreachable(error instanceof TypeError
          ? 'Le relais ne répond pas : est-il arrêté ? Tant qu’il l’est, les caisses gardent leurs ventes et ne peuvent pas les lui envoyer.'
          : 'État momentanément illisible (' + error.message + ') : nouvel essai dans quelques secondes.');
      })
      .then(function () { timer = setTimeout(refresh, REFRESH_MS); });
  }

  refresh();
})();
