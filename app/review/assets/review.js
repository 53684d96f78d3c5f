// The review page: the talk list's live flags, and per talk a frame-exact player around each boundary.
// Plain JavaScript, no build step, nothing loaded from elsewhere; text is only ever set as text.
//
// A preview is an MP4 of the recording's frames first..stop (recorder/preview.py): its frame k
// is shown from k/fps, and the server sends each frame's time in the recording
// (preview.frame_times). The player seeks to the middle of a frame, (k + 0.5)/fps, so the
// frame shown is never in doubt; "set here" sends (preview, k), and the server turns that
// into the recording's time of exactly that frame.
'use strict';

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  const $ = (id) => document.getElementById(id);

  function clock(seconds) {
    const ms = Math.round(seconds * 1000);
    const pad = (n, w) => String(n).padStart(w, '0');
    const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
    return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(ms % 1000, 3)}`;
  }

  function item(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  async function send(path, body) {
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

  // -- the list: flags fill in while the boundaries are analysed ---------------------------

  function listPage() {
    async function refresh() {
      const response = await fetch('/review/list.json', { cache: 'no-store' });
      if (!response.ok) return;
      const { rows } = await response.json();
      for (const r of rows) {
        const tr = document.querySelector(`#talks tr[data-id="${CSS.escape(r.id)}"]`);
        if (!tr) continue;
        tr.dataset.status = r.status;
        tr.querySelector('.status').textContent = r.status;
        tr.querySelector('.approved').textContent = r.approved || '–';
        tr.querySelector('.flags ul').replaceChildren(...r.flags.map((f) => item('li', f)));
      }
      const busy = rows.some((r) => !r.analysed);
      $('analysing').textContent = busy ? 'Listening to the boundaries: flags fill in as each talk is checked…' : '';
      if (busy) setTimeout(refresh, 2000);
    }
    if ($('analysing').textContent.trim()) setTimeout(refresh, 1000);
  }

  // -- a talk: one player per boundary --------------------------------------------------

  function talkPage() {
    const talkId = $('talk').dataset.id;
    const players = {};
    let active = null;

    function result(text, failed) {
      const el = $('result');
      el.textContent = text;
      el.dataset.value = failed ? 'error' : 'ok';
    }

    function name() { return $('name').value.trim(); }

    function updateTalk(talk) {
      for (const which of ['start', 'end']) players[which].planned = talk[which].at;
      $('approved').textContent = talk.approved || 'Not approved yet.';
      $('status').textContent = talk.row.status;
      $('status').dataset.value = talk.row.status;
      $('origin').textContent = talk.row.origin;
      $('duration').textContent = talk.row.duration;
      $('flags').replaceChildren(...talk.row.flags.map((f) => item('li', f)));
    }

    class Player {
      constructor(section) {
        this.section = section;
        this.which = section.dataset.which;
        this.video = section.querySelector('video');
        this.canvas = section.querySelector('canvas');
        this.data = null;
        this.k = 0;
        this.planned = null;
        this.queue = Promise.resolve(); // steps, jumps and sets, one after another
        this.video.addEventListener('timeupdate', () => { if (!this.video.paused) this.follow(); });
        this.video.addEventListener('pause', () => this.follow());
        this.video.addEventListener('error', () => this.say('The preview could not be played.'));
        section.addEventListener('click', () => activate(this));
        section.querySelector('.set').addEventListener('click', () => this.setHere());
        section.querySelectorAll('[data-step]').forEach((b) => b.addEventListener('click', () => this.step(b.dataset.step)));
        this.canvas.addEventListener('click', (e) => this.clickWave(e));
      }

      say(text) { this.section.querySelector('.position').textContent = text; }

      // Keys pressed while a preview loads wait for it: each step starts where the last one ended.
      act(work) {
        this.queue = this.queue.then(work).catch((err) => this.say(`Something went wrong: ${err.message}`));
        return this.queue;
      }

      // The video's next ``name`` event, or 10 s without one (a broken preview must not stall the keys).
      event(name) {
        return new Promise((resolve) => {
          this.video.addEventListener(name, resolve, { once: true });
          setTimeout(resolve, 10000);
        });
      }

      async load(at) {
        const query = at == null ? '' : `?at=${encodeURIComponent(at.toFixed(3))}`;
        this.say(`Making the preview${at == null ? '' : ' around ' + clock(at)}…`);
        const response = await fetch(`/review/talks/${encodeURIComponent(talkId)}/boundary/${this.which}${query}`, { cache: 'no-store' });
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) { this.say(answer.error || `Could not load it (${response.status}).`); return; }
        this.data = answer;
        this.planned = answer.planned;
        this.section.querySelector('.planned').textContent = answer.planned_clock;
        this.section.querySelector('.speech').hidden = !answer.in_speech;
        this.suggestions();
        this.words();
        if (this.video.getAttribute('src') !== answer.preview.url) {
          const loaded = this.event('loadeddata');
          this.video.src = answer.preview.url;
          await loaded;
        }
        await this.show(this.frameAt(at == null ? answer.planned : at));
      }

      get times() { return this.data.preview.frame_times; }
      get fps() { return this.data.preview.fps; }

      frameAt(t) {
        const times = this.times;
        let best = 0;
        for (let i = 0; i < times.length; i++) if (Math.abs(times[i] - t) < Math.abs(times[best] - t)) best = i;
        return best;
      }

      async show(k) {
        this.k = Math.max(0, Math.min(this.times.length - 1, k));
        const seeked = this.event('seeked');
        this.video.currentTime = (this.k + 0.5) / this.fps;
        this.report();
        await seeked;
      }

      follow() {
        if (!this.data) return;
        this.k = Math.max(0, Math.min(this.times.length - 1, Math.floor(this.video.currentTime * this.fps)));
        this.report();
        this.section.querySelector('.play').textContent = this.video.paused ? 'Play' : 'Pause';
      }

      now() { return this.times[this.k]; }

      report() {
        const delta = this.now() - this.planned;
        const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
        this.say(`At ${clock(this.now())} (frame ${this.k + 1} of ${this.times.length} in this preview), `
          + `${sign}${Math.abs(delta).toFixed(3)} s from cuts.toml`);
        this.draw();
      }

      step(what) {
        if (what === 'play') { if (this.video.paused) this.video.play(); else this.video.pause(); return; }
        this.act(async () => {
          if (!this.data) return;
          this.video.pause();
          const sign = what[0] === '-' ? -1 : 1;
          const frames = what.endsWith('f') ? 1 : Math.round(parseFloat(what.slice(1)) * this.fps);
          await this.go(this.k + sign * frames);
        });
      }

      async go(k) {
        if (k >= 0 && k < this.times.length) { await this.show(k); return; }
        // Past this preview's edge: ask for the one around where we are going.
        const edge = k < 0 ? 0 : this.times.length - 1;
        await this.load(Math.max(0, this.times[edge] + (k - edge) / this.fps));
      }

      jump(t) {
        this.video.pause();
        this.act(async () => {
          if (this.data && t >= this.times[0] && t <= this.times[this.times.length - 1]) await this.show(this.frameAt(t));
          else await this.load(t);
        });
      }

      setHere() {
        this.act(async () => {
          if (this.data) await this.post({ which: this.which, preview: this.data.preview.name, frame: this.k });
        });
      }

      async post(body) {
        const [response, answer] = await send(`/review/talks/${encodeURIComponent(talkId)}/set`, { ...body, name: name() });
        if (!response.ok) { result(answer.error || `Refused (${response.status}).`, true); return; }
        result(answer.message);
        updateTalk(answer.talk);
        await this.load(answer.talk[this.which].at);
      }

      suggestions() {
        const list = this.section.querySelector('.suggestions');
        const rows = this.data.suggestions.map((s) => {
          const li = document.createElement('li');
          const look = item('button', 'Look', 'look');
          look.type = 'button';
          look.addEventListener('click', (e) => { e.stopPropagation(); this.jump(s.at); });
          const use = item('button', `Set ${this.which} to ${s.clock}`, 'use');
          use.type = 'button';
          use.addEventListener('click', (e) => { e.stopPropagation(); this.act(() => this.post({ which: this.which, at: s.at })); });
          li.append(look, use, item('span', s.text));
          return li;
        });
        const agrees = this.section.querySelector('.agrees');
        agrees.textContent = this.data.agrees ? `Where it is now agrees with: ${this.data.agrees}.` : '';
        agrees.hidden = !this.data.agrees;
        const none = this.data.agrees ? 'Nothing better founded nearby.' : 'Nothing stands out near here.';
        list.replaceChildren(...(rows.length ? rows : [item('li', none, 'note')]));
      }

      words() {
        const words = this.data.words;
        this.section.querySelector('.words').replaceChildren(
          ...(words.length ? words.map((w) => item('li', `${clock(w.at)} ${w.text}`))
            : [item('li', 'No transcript of the current cut yet.')]));
      }

      draw() {
        const wave = this.data && this.data.waveform;
        const c = this.canvas;
        const ratio = window.devicePixelRatio || 1;
        c.width = c.clientWidth * ratio;
        c.height = c.clientHeight * ratio;
        const g = c.getContext('2d');
        g.clearRect(0, 0, c.width, c.height);
        if (!wave || !wave.peaks.length) return;
        const span = wave.peaks.length * wave.bin;
        const x = (t) => ((t - wave.start) / span) * c.width;
        g.fillStyle = 'rgba(77,163,255,0.12)';
        g.fillRect(x(this.times[0]), 0, x(this.times[this.times.length - 1]) - x(this.times[0]), c.height);
        g.fillStyle = '#a9b3bf';
        const w = c.width / wave.peaks.length;
        wave.peaks.forEach((p, i) => { const h = Math.max(1, p * c.height); g.fillRect(i * w, (c.height - h) / 2, Math.max(1, w - 0.5), h); });
        const mark = (t, colour) => { g.fillStyle = colour; g.fillRect(x(t) - ratio, 0, 2 * ratio, c.height); };
        this.data.suggestions.forEach((s) => mark(s.at, '#b68cff'));
        mark(this.planned, '#f0b429');
        mark(this.now(), '#4da3ff');
      }

      clickWave(e) {
        const wave = this.data && this.data.waveform;
        if (!wave) return;
        const rect = this.canvas.getBoundingClientRect();
        this.jump(wave.start + ((e.clientX - rect.left) / rect.width) * wave.peaks.length * wave.bin);
      }
    }

    function activate(player) {
      active = player;
      for (const p of Object.values(players)) p.section.classList.toggle('active', p === player);
    }

    document.querySelectorAll('section.boundary').forEach((s) => { players[s.dataset.which] = new Player(s); });
    activate(players.start);
    Object.values(players).forEach((p) => p.act(() => p.load(null)));

    const keys = {
      ArrowLeft: (e) => (e.shiftKey ? '-1s' : '-1f'), ArrowRight: (e) => (e.shiftKey ? '+1s' : '+1f'),
      ',': () => '-1f', '.': () => '+1f', j: () => '-10s', l: () => '+10s', k: () => 'play', ' ': () => 'play',
    };
    document.addEventListener('keydown', (e) => {
      if (e.target.closest('input, textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === 's' || e.key === 'e') { activate(players[e.key === 's' ? 'start' : 'end']); active.section.scrollIntoView({ block: 'nearest' }); e.preventDefault(); return; }
      if (e.key === 'Enter' && !e.target.closest('button, a, summary')) { active.setHere(); e.preventDefault(); return; }
      const step = keys[e.key];
      if (step && !(e.key === ' ' && e.target.closest('button'))) { active.step(step(e)); e.preventDefault(); }
    });
    window.addEventListener('resize', () => Object.values(players).forEach((p) => p.data && p.draw()));

    $('approve').addEventListener('click', async () => {
      const [response, answer] = await send(`/review/talks/${encodeURIComponent(talkId)}/approve`, { name: name() });
      if (!response.ok) { result(answer.error || `Refused (${response.status}).`, true); return; }
      result(answer.message);
      updateTalk(answer.talk);
    });
  }

  if ($('talks')) listPage();
  if ($('talk')) talkPage();
})();
