// The conversation viewer of chatsim's HTML report (chatsim/report/_viewer.py).
// Unpacks the episodes (gzip + base64 JSON in #cv-data; layout in _viewer_data.py) and
// renders one page at a time, filtered by model, outcome and question id. Recorded text is
// only ever set as textContent, never parsed as HTML.
(function () {
  var PAGE = Number(document.getElementById('cv-list').dataset.page) || 50, LETTERS = ['A', 'B', 'C', 'D'], MARK = {correct: '✓', wrong: '✗', error: '!'};
  var data = null, shown = [], page = 0;
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function question(ep) {
    var q = data.questions[ep[1]], box = el('div', 'question');
    if (!q) {
      box.appendChild(el('em', '', 'question text not available · gold ' + ep[4]));
      return box;
    }
    box.appendChild(el('p', '', q[0]));
    var ul = el('ul', 'options');
    q[1].forEach(function (opt, i) {
      var li = el('li', LETTERS[i] === q[2] ? 'gold' : '');
      li.appendChild(el('b', '', LETTERS[i] + '.'));
      li.appendChild(document.createTextNode(' ' + opt));
      ul.appendChild(li);
    });
    box.appendChild(ul);
    return box;
  }
  function turn(t, isFinal, ep) {
    var box = el('div', 'turn ' + t[0]), who = el('div', 'who', t[0] + ' ');
    if (t[4]) who.appendChild(el('span', 'badge', 'states ' + t[4]));
    else if (isFinal && ep[3] !== null) {
      who.appendChild(el('span', 'badge', 'final answer ' + ep[3]));
    }
    var attempts = t[3] > 1 ? ', ' + t[3] + ' attempts' : '';
    who.appendChild(el('span', 'timing', t[2].toFixed(2) + 's' + attempts));
    box.appendChild(who);
    box.appendChild(el('div', 'text', t[1]));
    return box;
  }
  function failures(ep) {
    var box = el('div', 'attempts');
    if (!ep[9].length && !ep[10]) return null;
    if (ep[9].length) {
      box.appendChild(el('div', 'who', 'failed attempts, in order'));
      var ol = el('ol', 'failures');
      ep[9].forEach(function (f) {
        var text = f[1] + ' turn ' + f[0] + ', attempt ' + (f[2] + 1) + ': ' + f[3] +
          (f[4] !== null ? ' (HTTP ' + f[4] + ')' : '') + (f[5] ? ' ' + f[5] : '') +
          (f[6] ? ': ' + f[6] : '') + (f[7] !== null ? ' · waited ' + f[7].toFixed(2) + 's' : '');
        ol.appendChild(el('li', 'failure', text));
      });
      box.appendChild(ol);
    }
    if (ep[10]) box.appendChild(el('div', 'error', 'ended by: ' + ep[10]));
    return box;
  }
  function episode(ep, open) {
    var d = el('details', 'episode'), s = el('summary');
    d.dataset.model = data.models[ep[0]]; d.dataset.outcome = ep[7];
    if (open) d.open = true;
    s.appendChild(el('span', 'mark ' + ep[7], MARK[ep[7]]));
    s.appendChild(document.createTextNode(' ' + data.models[ep[0]] + ' · ' + ep[1] + ' · repeat ' +
      ep[2] + ' · answer ' + (ep[3] || 'none') + ' (gold ' + ep[4] + ') · ' + ep[5] +
      ' · user messages: ' + ep[6]));
    d.appendChild(s);
    d.appendChild(question(ep));
    var lastUser = -1;
    ep[8].forEach(function (t, i) { if (t[0] === 'user') lastUser = i; });
    ep[8].forEach(function (t, i) { d.appendChild(turn(t, i === lastUser, ep)); });
    var f = failures(ep);
    if (f) d.appendChild(f);
    return d;
  }
  function render() {
    var list = $('cv-list'), pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    list.replaceChildren();
    shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (ep, i) {
      list.appendChild(episode(ep, page === 0 && i < 2));
    });
    $('cv-status').textContent = shown.length + ' of ' + data.episodes.length +
      ' episodes match · page ' + (page + 1) + ' of ' + pages;
  }
  function apply() {
    var m = $('cv-model').value, o = $('cv-outcome').value, q = $('cv-question').value.trim();
    shown = data.episodes.filter(function (ep) {
      return (m === '' || String(ep[0]) === m) && (o === '' || ep[7] === o) &&
        (q === '' || ep[1].indexOf(q) >= 0);
    });
    page = 0;
    render();
  }
  async function load() {
    var raw = atob($('cv-data').textContent.trim()), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    data = JSON.parse(await new Response(stream).text());
    data.models.forEach(function (name, i) {
      var opt = el('option', '', name); opt.value = String(i); $('cv-model').appendChild(opt);
    });
    ['cv-model', 'cv-outcome'].forEach(function (id) { $(id).addEventListener('change', apply); });
    $('cv-question').addEventListener('input', apply);
    $('cv-prev').addEventListener('click', function () { page -= 1; render(); });
    $('cv-next').addEventListener('click', function () { page += 1; render(); });
    apply();
  }
  window.chatsimViewer = load().catch(function (e) {
    $('cv-status').textContent = 'The conversation viewer could not unpack its data (' + e +
      '); export the transcripts with chatsim report RUN_DIR --csv DIR instead.';
  });
})();
