/* The archive page's behaviour. Everything it needs is embedded in the page as JSON:
   on file:// Chromium gives the page a unique origin and refuses fetch(), XHR and
   <track src>, so nothing here loads anything. */
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  /* ---------------------------------------------------------- talk page */

  function preferredTrack(tracks) {
    var wanted = (navigator.languages || [navigator.language || ""]).map(function (l) {
      return l.toLowerCase().split("-")[0];
    });
    for (var w = 0; w < wanted.length; w++) {
      for (var i = 0; i < tracks.length; i++) {
        if (tracks[i].lang.toLowerCase().split("-")[0] === wanted[w]) return i;
      }
    }
    return 0;
  }

  function setupPlayer(video, data) {
    // Each captions track gets its VTT as a blob: URL made from the embedded text: the
    // page's own origin may load that, from file:// and from any server whatever MIME
    // type it sends for .vtt.
    data.tracks.forEach(function (t, i) {
      var track = document.createElement("track");
      track.kind = "captions";
      track.srclang = t.lang;
      track.label = t.label;
      if (i === 0) track.default = true;
      track.src = URL.createObjectURL(new Blob([t.vtt], { type: "text/vtt" }));
      video.appendChild(track);
    });
    // Captions on by default, exactly one track: the viewer's language if there is a
    // track in it, else the talk's own (the first). Chromium's automatic selection would
    // otherwise show both the default track and one in the browser's language at once.
    var chosen = preferredTrack(data.tracks);
    function selectCaptions() {
      for (var i = 0; i < video.textTracks.length; i++) {
        video.textTracks[i].mode = i === chosen ? "showing" : "disabled";
      }
    }
    if (data.tracks.length > 0) {
      selectCaptions();
      // Once more when the metadata is in, after any automatic selection the browser runs.
      video.addEventListener("loadedmetadata", selectCaptions, { once: true });
    }

    var paras = Array.prototype.slice.call(document.querySelectorAll(".para"));
    var starts = paras.map(function (p) { return parseFloat(p.dataset.start); });

    var note = document.getElementById("seek-note");

    function seekable() {
      // A server that ignores Range requests (Python's http.server does) leaves Chromium
      // with nothing seekable, even when the whole file is buffered.
      var s = video.seekable;
      return video.readyState < 1 || (s.length > 0 && s.end(s.length - 1) > 0);
    }

    function seek(seconds, play) {
      video.currentTime = seconds;
      if (note) note.hidden = seekable();
      if (play) {
        var started = video.play();
        // A browser may refuse to autoplay (no user gesture): the viewer presses play.
        if (started && started.catch) started.catch(function () {});
      }
      highlight();
    }

    function timeFromHash() {
      var m = /^#t=(\d+(?:\.\d+)?)$/.exec(location.hash);
      return m ? parseFloat(m[1]) : null;
    }

    var current = null;
    function highlight() {
      var t = video.currentTime, found = null;
      for (var i = 0; i < starts.length && starts[i] <= t + 0.05; i++) found = paras[i];
      if (found === current) return;
      if (current) current.removeAttribute("aria-current");
      if (found) found.setAttribute("aria-current", "time");
      current = found;
    }

    document.addEventListener("click", function (ev) {
      var para = ev.target.closest ? ev.target.closest(".para") : null;
      if (!para) return;
      // Selecting text to copy it is not a request to jump.
      var sel = window.getSelection ? String(window.getSelection()) : "";
      if (sel && !ev.target.closest(".ts")) return;
      ev.preventDefault();
      var start = parseFloat(para.dataset.start);
      // Keep the position in the address so it can be shared, without a history entry per click.
      if (history.replaceState) history.replaceState(null, "", "#t=" + start.toFixed(3));
      seek(start, true);
    });

    window.addEventListener("hashchange", function () {
      var t = timeFromHash();
      if (t !== null) seek(t, true);
    });
    video.addEventListener("timeupdate", highlight);
    video.addEventListener("seeked", highlight);

    var initial = timeFromHash();
    if (initial !== null) {
      if (video.readyState >= 1) seek(initial, false);
      else video.addEventListener("loadedmetadata", function () { seek(initial, false); }, { once: true });
    }
  }

  /* ---------------------------------------------------------- index: search */

  // Case- and accent-insensitive matching: É ~ é ~ e, Ё ~ ё ~ е.
  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  // The same, with a map from each folded character back to the original one, so a
  // match can be marked in the original text. Only run on the paragraphs shown.
  function foldMapped(text) {
    var out = "", map = [];
    for (var i = 0; i < text.length; i++) {
      var f = fold(text[i]);
      for (var j = 0; j < f.length; j++) { out += f[j]; map.push(i); }
    }
    map.push(text.length);
    return { text: out, map: map };
  }

  // Where ``term`` starts a word of ``hay`` (search as you type: "kaf" finds "Kafka",
  // "метрик" finds "метриках", but "one" does not find "everyone"); -1 if nowhere.
  var WORD_CHAR = /[\p{L}\p{N}]/u;
  function findWord(hay, term, from) {
    var at = hay.indexOf(term, from || 0);
    while (at > 0 && WORD_CHAR.test(hay[at - 1])) at = hay.indexOf(term, at + 1);
    return at;
  }

  function snippet(text, terms) {
    // Show the paragraph around the first match, with every match marked.
    var folded = foldMapped(text), first = -1, ranges = [];
    terms.forEach(function (term) {
      var at = findWord(folded.text, term);
      while (at >= 0) {
        ranges.push([folded.map[at], folded.map[at + term.length]]);
        if (first < 0 || folded.map[at] < first) first = folded.map[at];
        at = findWord(folded.text, term, at + term.length);
      }
    });
    ranges.sort(function (a, b) { return a[0] - b[0]; });
    var from = Math.max(0, first - 60), to = Math.min(text.length, first + 160);
    var frag = document.createDocumentFragment(), pos = from;
    if (from > 0) frag.appendChild(document.createTextNode("…"));
    ranges.forEach(function (r) {
      if (r[0] < pos || r[1] > to) return;
      frag.appendChild(document.createTextNode(text.slice(pos, r[0])));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(r[0], r[1]);
      frag.appendChild(mark);
      pos = r[1];
    });
    frag.appendChild(document.createTextNode(text.slice(pos, to) + (to < text.length ? "…" : "")));
    return frag;
  }

  function formatTime(seconds) {
    var s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var ss = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + ss : m + ":" + ss;
  }

  function setupSearch(dataId) {
    var box = document.querySelector(".search");
    var input = document.getElementById("q");
    var status = document.getElementById("search-status");
    var none = document.getElementById("no-results");
    if (!box || !input) return;
    box.hidden = false;

    // Built on first use, not at load: for a big event the index holds megabytes of
    // transcripts, and the list must not wait for them.
    var talks = null;
    function build() {
      return readJson(dataId).talks.map(function (t) {
        var item = document.querySelector('.talk[data-id="' + CSS.escape(t.id) + '"]');
        var folded = t.paragraphs.map(function (p) { return fold(p[1]); });
        var offsets = [], at = 0;
        folded.forEach(function (f) { offsets.push(at); at += f.length + 1; });
        return {
          t: t,
          item: item,
          hit: item.querySelector(".hit"),
          head: fold([t.title].concat(t.speakers, [t.abstract]).join("\n")),
          // One string per talk: a single native search per word and talk. Words never
          // hold a newline, so a match cannot straddle two paragraphs.
          body: folded.join("\n"),
          offsets: offsets,
        };
      });
    }

    // The paragraph to show for a match: the first holding all the words, else the first
    // holding the first of them.
    function bestParagraph(k, words) {
      var first = -1;
      for (var j = 0; j < k.offsets.length; j++) {
        var end = j + 1 < k.offsets.length ? k.offsets[j + 1] - 1 : k.body.length;
        var para = k.body.slice(k.offsets[j], end), all = true;
        for (var i = 0; i < words.length && all; i++) all = findWord(para, words[i]) >= 0;
        if (all) return k.t.paragraphs[j];
        if (first < 0 && findWord(para, words[0]) >= 0) first = j;
      }
      return k.t.paragraphs[Math.max(first, 0)];
    }

    function apply() {
      var terms = fold(input.value).split(/\s+/).filter(Boolean);
      if (!talks) {
        if (terms.length === 0) return;
        talks = build();
      }
      var shown = 0;
      talks.forEach(function (k) {
        var ok = true, inBody = [];
        for (var i = 0; i < terms.length && ok; i++) {
          if (findWord(k.head, terms[i]) >= 0) continue;
          if (findWord(k.body, terms[i]) < 0) ok = false;
          else inBody.push(terms[i]);
        }
        k.item.hidden = !ok;
        k.hit.hidden = true;
        k.hit.textContent = "";
        if (!ok) return;
        shown++;
        if (inBody.length > 0) {
          // The words are (also) in the transcript: link straight to that moment.
          var para = bestParagraph(k, inBody), start = para[0];
          var link = document.createElement("a");
          link.href = k.t.href + "#t=" + start.toFixed(3);
          link.textContent = formatTime(start);
          link.setAttribute("aria-label", "Play from " + formatTime(start));
          k.hit.appendChild(document.createTextNode("In the transcript at "));
          k.hit.appendChild(link);
          k.hit.appendChild(document.createTextNode(": "));
          k.hit.appendChild(snippet(para[1], terms));
          k.hit.hidden = false;
        }
      });
      if (terms.length === 0) status.textContent = "";
      else status.textContent = shown + " of " + talks.length + (talks.length === 1 ? " talk matches." : " talks match.");
      none.hidden = shown > 0 || terms.length === 0;
    }

    input.addEventListener("input", apply);
    // Coming back to the list (back button) restores the typed text: filter by it again.
    window.addEventListener("pageshow", apply);
    apply();
  }

  var video = document.getElementById("player");
  var talk = readJson("talkcast-talk");
  if (video && talk) setupPlayer(video, talk);
  if (document.getElementById("talkcast-index")) setupSearch("talkcast-index");
})();
