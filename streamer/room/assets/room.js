// The control room page: keeps the server-rendered page current and sends the actions.
// Plain JavaScript, no build step, nothing loaded from elsewhere.
//
// The server pushes the view model (streamer/room/view.py) over server-sent events
// whenever it changes; render() copies its values into the elements that name them
// (data-text, data-show, data-hide, data-state, data-value-of). Text is only ever set
// as text, never as HTML. Actions are POSTed with the session's CSRF token as a header.
'use strict';

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const get = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const present = (v) => (Array.isArray(v) ? v.length > 0 : Boolean(v));
  const drawn = {}; // the last JSON of each list, so unchanged lists are left alone
  // Warnings already on screen: only new ones are announced to screen readers.
  let known = new Set(Array.from(document.querySelectorAll('#warnings li'), (li) => li.dataset.key));

  function setText(el, value) {
    const text = value == null ? '' : String(value);
    if (el.textContent !== text) el.textContent = text;
  }

  function item(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  function list(id, rows, build) {
    const json = JSON.stringify(rows);
    if (drawn[id] === json) return;
    drawn[id] = json;
    $(id).replaceChildren(...rows.map(build));
  }

  function destination(d) {
    const li = $('destination-row').content.firstElementChild.cloneNode(true);
    li.dataset.key = d.key;
    for (const field of ['name', 'state', 'for', 'bitrate', 'restarts', 'error']) {
      setText(li.querySelector('.' + field), d[field]);
    }
    li.querySelector('.state').dataset.value = d.state;
    return li;
  }

  function talk(t) {
    const li = document.createElement('li');
    li.dataset.value = t.state;
    li.append(item('span', t.at, 'at'), ' ', item('span', t.title, 'what'), ' ', item('span', t.state, 'state'));
    return li;
  }

  function announceNew(warnings) {
    const fresh = warnings.filter((w) => !known.has(w.key));
    known = new Set(warnings.map((w) => w.key));
    if (fresh.length) setText($('announcer'), fresh.map((w) => w.text).join('. '));
  }

  function render(view) {
    document.querySelectorAll('[data-text]').forEach((el) => setText(el, get(view, el.dataset.text)));
    document.querySelectorAll('[data-show]').forEach((el) => { el.hidden = !present(get(view, el.dataset.show)); });
    document.querySelectorAll('[data-hide]').forEach((el) => { el.hidden = present(get(view, el.dataset.hide)); });
    document.querySelectorAll('[data-state]').forEach((el) => { el.dataset.value = String(get(view, el.dataset.state) ?? ''); });
    document.querySelectorAll('[data-value-of]').forEach((el) => { el.value = Number(get(view, el.dataset.valueOf) || 0); });
    list('warnings', view.warnings, (w) => { const li = item('li', w.text); li.dataset.key = w.key; return li; });
    list('destinations', view.destinations, destination);
    list('talks', view.talks, talk);
    list('log', view.log, (line) => item('li', line));
    announceNew(view.warnings);
    document.title = view.event + ' · talkcast';
  }

  function connection(text) {
    const el = $('connection');
    setText(el, text);
    el.hidden = !text;
  }

  function result(text, failed) {
    const el = $('result');
    setText(el, text);
    el.dataset.value = failed ? 'error' : 'ok';
  }

  // -- live updates -------------------------------------------------------------------

  const events = new EventSource('/room/events');
  events.addEventListener('state', (e) => {
    connection('');
    render(JSON.parse(e.data));
  });
  events.addEventListener('error', () => {
    if (events.readyState === EventSource.CLOSED) {
      connection('Lost contact with talkcast live: it has stopped or restarted. Reload this page; '
        + 'if it asks you to log in, open a fresh link from the talkcast live screen.');
    } else {
      connection('Reconnecting to talkcast live…');
    }
  });

  // -- actions --------------------------------------------------------------------------

  function ask(text) {
    const dialog = $('confirm');
    setText($('confirm-text'), text);
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
      dialog.showModal();
    });
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    let answer = {};
    try { answer = await response.json(); } catch (err) { /* not JSON: the status says enough */ }
    return [response, answer];
  }

  async function act(button) {
    const action = button.dataset.action;
    let body = {};
    if (button.dataset.confirm) {
      if (!(await ask(button.dataset.confirm))) return;
      body = { confirm: true };
    }
    button.setAttribute('aria-busy', 'true');
    result('Sending “' + button.textContent.trim() + '”…');
    try {
      const [response, answer] = await post('/room/actions/' + encodeURIComponent(action), body);
      if (answer.view) render(answer.view);
      if (response.ok) result(answer.message || 'Done.');
      else if (response.status === 401) result('You are logged out: open a fresh link from the talkcast live screen.', true);
      else result(answer.error || 'Refused (' + response.status + ').', true);
    } catch (err) {
      result('talkcast live did not answer: ' + err.message, true);
    } finally {
      button.removeAttribute('aria-busy');
    }
  }

  document.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    if (button && button.getAttribute('aria-busy') !== 'true') act(button);
  });

  $('logout').addEventListener('click', async () => {
    try { await post('/room/logout', {}); } finally { window.location.assign('/room'); }
  });

  // -- the programme preview: about once a second, only while the page is visible --------

  const img = $('preview');
  let timer = null;
  function later(ms) {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (document.visibilityState === 'visible') img.src = '/room/preview.jpg?t=' + Date.now();
    }, ms);
  }
  img.addEventListener('load', () => {
    img.hidden = false;
    setText($('preview-note'), 'Programme preview, about once a second.');
    later(1000);
  });
  img.addEventListener('error', () => {
    img.hidden = true;
    setText($('preview-note'), 'No preview right now (is OBS connected?).');
    later(5000);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') later(0); else clearTimeout(timer);
  });
  later(0);
})();
