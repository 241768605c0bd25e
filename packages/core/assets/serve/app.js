// @ts-check
// The clipkit page: talks only to the JSON API of `clipkit serve`. No framework, no build step,
// no inline script (the server's CSP forbids it). The view state lives in the URL:
//   /?q=QUERY   /?similar=ID   /?view=duplicates&threshold=T
const PAGE = 50;
/** The server ranks at most this many results per query (offset + k). */
const MAX_RESULTS = 1024;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const grid = /** @type {HTMLUListElement} */ ($('grid'));
const status = $('status');
const more = /** @type {HTMLButtonElement} */ ($('more'));
const q = /** @type {HTMLInputElement} */ ($('q'));
const imageInput = /** @type {HTMLInputElement} */ ($('image-input'));
const detail = /** @type {HTMLDialogElement} */ ($('detail'));
const detailImage = /** @type {HTMLImageElement} */ ($('detail-image'));

/** What the grid shows now; `next` fetches the following page. */
let current = { label: '', next: /** @type {null | ((offset: number) => Promise<any>)} */ (null), offset: 0 };

async function api(/** @type {string} */ url, /** @type {RequestInit} */ init = {}) {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

function setStatus(/** @type {string} */ text, error = false) {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function fileName(/** @type {string} */ p) {
  return p.slice(p.lastIndexOf('/') + 1);
}

function tile(/** @type {{id: number, path: string, score?: number}} */ r) {
  const li = document.createElement('li');
  li.className = 'tile';
  li.dataset.id = String(r.id);
  li.dataset.path = r.path;
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'open';
  const score = r.score === undefined ? '' : ` (score ${r.score.toFixed(3)})`;
  open.setAttribute('aria-label', `Open ${fileName(r.path)}${score}`);
  const img = document.createElement('img');
  img.src = `/api/thumb/${r.id}`;
  img.alt = fileName(r.path);
  img.loading = 'lazy';
  open.append(img);
  open.addEventListener('click', () => showDetail(r.id));
  const meta = document.createElement('div');
  meta.className = 'meta';
  if (r.score !== undefined) {
    const s = document.createElement('span');
    s.className = 'score';
    s.textContent = r.score.toFixed(3);
    meta.append(s);
  }
  const similar = document.createElement('button');
  similar.type = 'button';
  similar.className = 'similar';
  similar.textContent = 'Similar';
  similar.setAttribute('aria-label', `Photos similar to ${fileName(r.path)}`);
  similar.addEventListener('click', () => navigate(`/?similar=${r.id}`));
  const pick = document.createElement('label');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.className = 'select';
  box.addEventListener('change', () => select(li, box.checked));
  pick.append(box, ' Select');
  meta.append(similar, pick);
  const labels = document.createElement('ul');
  labels.className = 'labels';
  labels.setAttribute('aria-label', 'Label scores');
  li.append(open, meta, labels);
  return li;
}

/** Marks a tile selected or not: in search results for classifying, among duplicates for their paths. */
function select(/** @type {HTMLElement} */ li, /** @type {boolean} */ on) {
  li.classList.toggle('selected', on);
  /** @type {HTMLInputElement} */ (li.querySelector('.select')).checked = on;
  if (li.closest('#groups')) showSelectedPaths();
}

/** The duplicates view lists the paths of the selected copies, to remove or move them elsewhere. */
function showSelectedPaths() {
  const paths = [...$('groups').querySelectorAll('.tile.selected')].map((t) => /** @type {HTMLElement} */ (t).dataset.path);
  /** @type {HTMLTextAreaElement} */ ($('dup-selected')).value = paths.join('\n');
  $('dup-count').textContent = String(paths.length);
}

async function copySelectedPaths() {
  const text = /** @type {HTMLTextAreaElement} */ ($('dup-selected'));
  const dupStatus = $('dup-status');
  const n = Number($('dup-count').textContent);
  if (n === 0) {
    dupStatus.textContent = 'Select some photos first (the Select box under each).';
    return;
  }
  try {
    await navigator.clipboard.writeText(text.value);
    dupStatus.textContent = `Copied ${n} ${n === 1 ? 'path' : 'paths'}.`;
  } catch {
    text.select();
    dupStatus.textContent = 'The browser refused the clipboard: the paths are selected in the box, copy them from there.';
  }
}

/** Shows the first page of a result list and remembers how to fetch the next ones. */
async function showResults(/** @type {string} */ label, /** @type {(offset: number) => Promise<any>} */ fetchPage) {
  current = { label, next: fetchPage, offset: 0 };
  grid.replaceChildren();
  more.hidden = true;
  setStatus(`Searching ${label}…`);
  await loadMore();
}

async function loadMore() {
  const { next, offset, label } = current;
  if (!next) return;
  more.disabled = true;
  try {
    const { results } = await next(offset);
    if (current.next !== next) return; // another search started meanwhile
    grid.append(...results.map(tile));
    current.offset = offset + results.length;
    more.hidden = results.length < PAGE || current.offset + PAGE > MAX_RESULTS;
    setStatus(current.offset === 0 ? `No results for ${label}.` : `${current.offset} results for ${label}.`);
  } catch (err) {
    setStatus(String(/** @type {Error} */ (err).message), true);
  } finally {
    more.disabled = false;
  }
}

function searchText(/** @type {string} */ query) {
  q.value = query;
  document.title = `${query} – clipkit`;
  // The query language quotes its texts already.
  return showResults(query, (offset) => api(`/api/search?${new URLSearchParams({ q: query, k: String(PAGE), offset: String(offset) })}`));
}

function searchImage(/** @type {Blob} */ file, /** @type {string} */ name) {
  document.title = `${name} – clipkit`;
  return showResults(`the image ${name}`, (offset) =>
    api(`/api/search?${new URLSearchParams({ k: String(PAGE), offset: String(offset) })}`, {
      method: 'POST',
      headers: { 'Content-Type': file.type || 'application/octet-stream' },
      body: file,
    }),
  );
}

function searchSimilar(/** @type {string} */ id) {
  document.title = `similar to #${id} – clipkit`;
  return showResults(`photos similar to #${id}`, (offset) => api(`/api/similar/${encodeURIComponent(id)}?k=${PAGE}&offset=${offset}`));
}

async function showDuplicates(/** @type {string} */ threshold) {
  const groups = $('groups');
  const dupStatus = $('dup-status');
  /** @type {HTMLInputElement} */ ($('threshold')).value = threshold;
  groups.replaceChildren();
  showSelectedPaths();
  $('dup-actions').hidden = true;
  dupStatus.textContent = 'Looking for near-duplicates…';
  dupStatus.classList.remove('error');
  try {
    const body = await api(`/api/duplicates?threshold=${encodeURIComponent(threshold)}`);
    groups.append(
      ...body.groups.map((/** @type {{minScore: number, files: Array<{id: number, path: string}>}} */ g, /** @type {number} */ i) => {
        const section = document.createElement('section');
        section.className = 'group';
        const h = document.createElement('h3');
        h.textContent = `Group ${i + 1}: ${g.files.length} photos, similarity ≥ ${g.minScore.toFixed(3)}`;
        const list = document.createElement('ul');
        list.className = 'grid';
        list.append(...g.files.map(tile));
        section.append(h, list);
        return section;
      }),
    );
    $('dup-actions').hidden = body.groups.length === 0;
    dupStatus.textContent = body.groups.length === 0 ? `No duplicates at similarity ≥ ${threshold}.` : `${body.groups.length} groups of near-duplicates.`;
  } catch (err) {
    dupStatus.textContent = String(/** @type {Error} */ (err).message);
    dupStatus.classList.add('error');
  }
}

async function showDetail(/** @type {number} */ id) {
  const facts = $('detail-facts');
  facts.replaceChildren();
  detailImage.dataset.fallback = `/api/thumb/${id}`;
  detailImage.src = `/api/image/${id}`;
  /** @type {HTMLAnchorElement} */ ($('detail-original')).href = `/api/image/${id}`;
  $('detail-similar').onclick = () => {
    detail.close();
    navigate(`/?similar=${id}`);
  };
  detail.showModal();
  try {
    const f = await api(`/api/file/${id}`);
    $('detail-title').textContent = fileName(f.path);
    detailImage.alt = fileName(f.path);
    const rows = [
      ['Path', f.path],
      ['Size', `${(f.size / 1024).toFixed(1)} KiB`],
      ['Modified', new Date(f.modified).toLocaleString()],
      ['Pixels', f.width ? `${f.width} × ${f.height}` : 'unknown'],
      ['Format', f.format ?? 'unknown'],
    ];
    for (const [k, v] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      facts.append(dt, dd);
    }
  } catch (err) {
    $('detail-title').textContent = String(/** @type {Error} */ (err).message);
  }
}

async function classifySelected(/** @type {string} */ text) {
  const labels = text.split(',').map((l) => l.trim()).filter((l) => l !== '');
  const tiles = [...grid.querySelectorAll('.tile.selected')];
  if (labels.length === 0) return setStatus('Type some labels, separated by commas.', true);
  if (tiles.length === 0) return setStatus('Select some photos first (the Select box under each).', true);
  try {
    const ids = tiles.map((t) => Number(/** @type {HTMLElement} */ (t).dataset.id));
    const { results } = await api('/api/classify', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ids, labels }) });
    results.forEach((/** @type {{id: number, scores: Array<{label: string, probability: number}>}} */ r, /** @type {number} */ i) => {
      const list = /** @type {HTMLElement} */ (tiles[i]?.querySelector('.labels'));
      list.replaceChildren(
        ...r.scores.map((s) => {
          const li = document.createElement('li');
          const name = document.createElement('span');
          name.textContent = s.label;
          const p = document.createElement('span');
          p.textContent = `${(100 * s.probability).toFixed(1)}%`;
          li.append(name, p);
          return li;
        }),
      );
    });
    setStatus(`Classified ${results.length} photos.`);
  } catch (err) {
    setStatus(String(/** @type {Error} */ (err).message), true);
  }
}

/** Renders the view the URL names. */
function route() {
  const params = new URLSearchParams(location.search);
  const view = params.get('view') === 'duplicates' ? 'duplicates' : 'search';
  $('search-view').hidden = view !== 'search';
  $('duplicates-view').hidden = view !== 'duplicates';
  for (const [id, name] of [['nav-search', 'search'], ['nav-duplicates', 'duplicates']]) {
    if (name === view) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }
  if (view === 'duplicates') return showDuplicates(params.get('threshold') ?? '0.95');
  const similar = params.get('similar');
  if (similar !== null) return searchSimilar(similar);
  const query = params.get('q');
  if (query) return searchText(query);
  grid.replaceChildren();
  more.hidden = true;
  setStatus('');
}

function navigate(/** @type {string} */ url) {
  history.pushState(null, '', url);
  void route();
}

function imageFrom(/** @type {DataTransfer | null} */ data) {
  const file = [...(data?.files ?? [])].find((f) => f.type.startsWith('image/'));
  if (!file) return;
  history.pushState(null, '', '/');
  $('search-view').hidden = false;
  $('duplicates-view').hidden = true;
  void searchImage(file, file.name || 'pasted image');
}

$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const query = q.value.trim();
  if (query) navigate(`/?${new URLSearchParams({ q: query })}`);
});
imageInput.addEventListener('change', () => {
  const file = imageInput.files?.[0];
  if (file) {
    history.pushState(null, '', '/');
    void searchImage(file, file.name);
  }
  imageInput.value = '';
});
$('image-label').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    imageInput.click();
  }
});
$('classify-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void classifySelected(/** @type {HTMLInputElement} */ ($('labels')).value);
});
$('dup-form').addEventListener('submit', (e) => {
  e.preventDefault();
  navigate(`/?${new URLSearchParams({ view: 'duplicates', threshold: /** @type {HTMLInputElement} */ ($('threshold')).value })}`);
});
$('dup-all-but-first').addEventListener('click', () => {
  for (const list of $('groups').querySelectorAll('.grid')) {
    [...list.children].forEach((li, i) => select(/** @type {HTMLElement} */ (li), i > 0));
  }
});
$('dup-clear').addEventListener('click', () => {
  for (const li of $('groups').querySelectorAll('.tile.selected')) select(/** @type {HTMLElement} */ (li), false);
});
$('dup-copy').addEventListener('click', () => void copySelectedPaths());
for (const id of ['nav-search', 'nav-duplicates']) {
  $(id).addEventListener('click', (e) => {
    e.preventDefault();
    navigate(/** @type {HTMLAnchorElement} */ ($(id)).href);
  });
}
// Most browsers cannot display TIFF, HEIC or JPEG XL originals: show the thumbnail instead.
detailImage.addEventListener('error', () => {
  const fallback = detailImage.dataset.fallback;
  delete detailImage.dataset.fallback;
  if (fallback) detailImage.src = fallback;
});
more.addEventListener('click', () => void loadMore());
// Infinite scroll: the "More" button loads itself when it comes into view.
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && !more.hidden && !more.disabled) void loadMore();
}).observe(more);
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  imageFrom(e.dataTransfer);
});
document.addEventListener('paste', (e) => imageFrom(e.clipboardData));
document.addEventListener('keydown', (e) => {
  if (e.key === '/' && document.activeElement?.tagName !== 'INPUT') {
    e.preventDefault();
    q.focus();
  }
});
window.addEventListener('popstate', () => void route());

// A ?token= in the address has become a cookie; keep it out of the history and shared links.
const start = new URLSearchParams(location.search);
if (start.has('token')) {
  start.delete('token');
  history.replaceState(null, '', `/${start.size ? `?${start}` : ''}`);
}
api('/api/status')
  .then((s) => {
    $('catalog-status').textContent = `${s.counts.files} photos${s.model ? ` · ${s.model}` : ''}`;
  })
  .catch(() => {});
void route();
