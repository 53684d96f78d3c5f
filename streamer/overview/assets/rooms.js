// The overview page: keeps every room's card current. Plain JavaScript, no build step,
// nothing loaded from elsewhere.
//
// The server pushes the view model (streamer/overview/view.py) over server-sent events
// after each look at the rooms. Each room's card is found by its data-key and filled in
// place with the control room's conventions (data-text, data-show, data-hide, data-state),
// so a focused button keeps its focus; text is only ever set as text, never as HTML.
// "Open control room" is a plain form: the server answers with the room's one-time link.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const present = (v) => (Array.isArray(v) ? v.length > 0 : Boolean(v));
  const drawn = new WeakMap(); // card -> the JSON of its warnings, so unchanged lists are left alone
  // Alerts (the rooms' warnings, a room that stopped answering) are announced to screen
  // readers once, when they appear; the first view only says what was already on screen.
  let known = null;

  function setText(el, value) {
    const text = value == null ? '' : String(value);
    if (el.textContent !== text) el.textContent = text;
  }

  function fill(root, values) {
    const all = (selector) => [root, ...root.querySelectorAll(selector)].filter((el) => el.matches(selector));
    all('[data-text]').forEach((el) => setText(el, values[el.dataset.text]));
    all('[data-show]').forEach((el) => { el.hidden = !present(values[el.dataset.show]); });
    all('[data-hide]').forEach((el) => { el.hidden = present(values[el.dataset.hide]); });
    all('[data-state]').forEach((el) => { el.dataset.value = String(values[el.dataset.state] ?? ''); });
    all('[data-input]').forEach((el) => { el.value = values[el.dataset.input]; });
  }

  function warnings(card, rows) {
    const json = JSON.stringify(rows);
    if (drawn.get(card) === json) return;
    drawn.set(card, json);
    card.querySelector('.room-warnings').replaceChildren(...rows.map((w) => {
      const li = document.createElement('li');
      li.textContent = w.text;
      li.dataset.key = w.key;
      return li;
    }));
  }

  function card(room, byKey) {
    let li = byKey.get(room.key);
    if (!li) {
      li = $('room-card').content.firstElementChild.cloneNode(true);
      li.dataset.key = room.key;
    }
    fill(li, room);
    warnings(li, room.warnings);
    return li;
  }

  function announceNew(alerts) {
    const fresh = known === null ? [] : alerts.filter((a) => !known.has(a.key));
    known = new Set(alerts.map((a) => a.key));
    if (fresh.length) setText($('announcer'), fresh.map((a) => a.text).join('. '));
  }

  function render(view) {
    setText($('summary'), view.summary);
    setText($('problem'), view.problem);
    $('problem').hidden = !view.problem;
    $('empty').hidden = view.rooms.length > 0;
    const list = $('rooms');
    const byKey = new Map(Array.from(list.children, (li) => [li.dataset.key, li]));
    const cards = view.rooms.map((room) => card(room, byKey));
    // In the file's order, moving nothing that is already in place (focus stays where it is).
    cards.forEach((li, i) => { if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null); });
    while (list.children.length > cards.length) list.lastElementChild.remove();
    announceNew(view.alerts);
  }

  function connection(text) {
    const el = $('connection');
    setText(el, text);
    el.hidden = !text;
  }

  const events = new EventSource('/rooms/events');
  events.addEventListener('state', (e) => {
    connection('');
    render(JSON.parse(e.data));
  });
  events.addEventListener('error', () => {
    if (events.readyState === EventSource.CLOSED) {
      connection('Lost contact with talkcast rooms: it has stopped or restarted. Reload this page; '
        + 'if it asks you to log in, open a fresh link from the talkcast rooms terminal.');
    } else {
      connection('Reconnecting to talkcast rooms…');
    }
  });
})();
