// Renders one built UI extension bundle (extensions/<name>/dist/<name>.js) the way Shopify's host runs it:
// a `shopify` global for the target (session token, localization, i18n over the extension's own locales/,
// order data, navigation), a DOM (happy-dom) to render Polaris web components into, and `fetch` to the app.
// The bundle calls the URL it was built with (extensions/shared/app-url.js); here those calls go to the
// backend the test runs, and a response a browser would refuse to show the extension (no CORS header) fails.
//
// stdin: {"extension", "target", "locale", "token", "backend", "order_id"? (a string: ids exceed 2^53), "auth_state"?, "clicks"?: [text]}
// stdout: {"text": what a shopper reads, "html", "fetches": [{method, path, status}], "errors": [...],
//          "navigations": [...]}
import {readFileSync, existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {Window} from 'happy-dom';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const input = JSON.parse(readFileSync(0, 'utf8'));
const errors = [];
const fetches = [];
const navigations = [];
const extDir = join(ROOT, 'extensions', input.extension);
const {APP_URL} = await import(join(ROOT, 'extensions', 'shared', 'app-url.js'));

// --- the DOM the extension renders into --------------------------------------------------------------
const window = new Window({url: 'https://shopify.example/account'});
for (const name of ['window', 'document', 'Node', 'Element', 'HTMLElement', 'Text', 'Event', 'CustomEvent',
  'requestAnimationFrame', 'cancelAnimationFrame', 'MutationObserver']) {
  if (name === 'window') globalThis.window = window;
  else globalThis[name] = typeof window[name] === 'function' && /^[a-z]/.test(name) ? window[name].bind(window) : window[name];
}

// --- i18n as Shopify's host does it: the extension's locales/, the shopper's language, English as fallback --
function localeFile(locale) {
  const candidates = [`${locale}.json`, `${locale.split('-')[0]}.json`];
  for (const c of candidates) if (existsSync(join(extDir, 'locales', c))) return c;
  return 'en.default.json';
}
const defaults = JSON.parse(readFileSync(join(extDir, 'locales', 'en.default.json'), 'utf8'));
const messages = JSON.parse(readFileSync(join(extDir, 'locales', localeFile(input.locale)), 'utf8'));
const plural = new Intl.PluralRules(input.locale);
const lookup = (tree, key) => key.split('.').reduce((node, part) => (node == null ? undefined : node[part]), tree);
function translate(key, options = {}) {
  let entry = lookup(messages, key);
  if (entry === undefined) entry = lookup(defaults, key);
  if (entry !== undefined && typeof entry === 'object' && options.count !== undefined) {
    entry = entry[plural.select(options.count)] ?? entry.other;
  }
  if (typeof entry !== 'string') {
    errors.push(`missing translation: ${key}`);
    return key;
  }
  return entry.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => {
    if (!(name in options)) errors.push(`translation ${key} needs {{${name}}}`);
    return String(options[name]);
  });
}
const signal = (value) => ({value, subscribe: () => () => {}});

const registered = {};
globalThis.shopify = {
  extend(target, fn) {
    registered[target] = fn;
  },
  extension: {target: input.target, apiVersion: '2026-10'},
  sessionToken: {get: async () => input.token},
  localization: {
    language: signal({isoCode: input.locale}),
    extensionLanguage: signal({isoCode: input.locale}),
    country: signal({isoCode: 'US'}),
  },
  i18n: {
    translate,
    formatNumber: (n, options) => new Intl.NumberFormat(input.locale, options).format(n),
    formatCurrency: (n, options = {}) =>
      new Intl.NumberFormat(input.locale, {style: 'currency', currency: 'USD', ...options}).format(n),
    formatDate: (d, options) => new Intl.DateTimeFormat(input.locale, options).format(d),
  },
  authenticationState: signal(input.auth_state || 'fully_authenticated'),
  order: signal(input.order_id ? {id: `gid://shopify/Order/${input.order_id}`, name: '#1001'} : undefined),
  orderConfirmation: signal(input.order_id ? {order: {id: `gid://shopify/Order/${input.order_id}`}, isFirstOrder: false} : undefined),
  requireLogin: async () => navigations.push('requireLogin'),
};
globalThis.navigation = {navigate: (url) => navigations.push(url)};

// --- fetch to the app, checked as a browser would for a sandboxed extension ---------------------------------
let inFlight = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const target = String(url);
  if (!target.startsWith(`${APP_URL}/`)) {
    errors.push(`fetch outside the app: ${target}`);
    throw new TypeError('blocked');
  }
  const path = target.slice(APP_URL.length);
  inFlight += 1;
  try {
    const res = await realFetch(input.backend + path, {...init, headers: {...init.headers, Origin: 'https://extensions.shopifycdn.com'}});
    fetches.push({method: init.method || 'GET', path, status: res.status});
    if (res.headers.get('access-control-allow-origin') !== '*') {
      errors.push(`no CORS header on ${path}: a browser would hide this response from the extension`);
    }
    return res;
  } finally {
    inFlight -= 1;
  }
};
// The extension's own waits (the thank-you page's retries) are shortened to at most 50 ms, and counted, so the
// render is read once nothing is pending any more.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const timers = new Set();
globalThis.setTimeout = (fn, ms, ...args) => {
  const id = realSetTimeout(() => {
    timers.delete(id);
    fn(...args);
  }, Math.min(ms ?? 0, 50));
  timers.add(id);
  return id;
};
globalThis.clearTimeout = (id) => {
  timers.delete(id);
  realClearTimeout(id);
};

// --- what a shopper reads: headings, texts, buttons and links, in order ------------------------------------
const LEAVES = new Set(['S-TEXT', 'S-HEADING', 'S-PARAGRAPH', 'S-LIST-ITEM', 'S-BUTTON', 'S-LINK', 'S-BADGE']);
function shopperText(node, lines = []) {
  for (const child of node.childNodes) {
    if (child.nodeType === 3) {
      const text = child.textContent.replace(/\s+/g, ' ').trim();
      if (text) lines.push(text);
      continue;
    }
    if (child.nodeType !== 1) continue;
    if (child.hasAttribute('heading')) lines.push(`# ${child.getAttribute('heading')}`);
    if (LEAVES.has(child.tagName)) {
      const text = child.textContent.replace(/\s+/g, ' ').trim();
      if (child.tagName === 'S-BUTTON') lines.push(`[${text}${child.hasAttribute('disabled') ? ' (disabled)' : ''}]`);
      else if (child.tagName === 'S-LINK') lines.push(`<${text} → ${child.getAttribute('href')}>`);
      else lines.push(text);
      continue;
    }
    shopperText(child, lines);
  }
  return lines;
}

async function settle() {
  // Until nothing is in flight and the DOM stops changing for a few turns.
  let quiet = 0;
  let last = '';
  for (let i = 0; i < 400 && quiet < 4; i++) {
    await new Promise((resolve) => window.setTimeout(resolve, 0));
    await new Promise((resolve) => realSetTimeout(resolve, 10));
    const html = document.body.innerHTML;
    quiet = inFlight === 0 && timers.size === 0 && html === last ? quiet + 1 : 0;
    last = html;
  }
}

try {
  (0, eval)(readFileSync(join(extDir, 'dist', `${input.extension}.js`), 'utf8'));
  const run = registered[input.target];
  if (!run) throw new Error(`the bundle registers no ${input.target} (it has: ${Object.keys(registered).join(', ')})`);
  await run();
  await settle();
  for (const label of input.clicks || []) {
    const button = [...document.querySelectorAll('s-button')].find((b) => b.textContent.trim() === label && !b.hasAttribute('disabled'));
    if (!button) {
      errors.push(`no enabled button "${label}"`);
      break;
    }
    button.dispatchEvent(new window.Event('click', {bubbles: true}));
    await settle();
  }
} catch (err) {
  errors.push(`render failed: ${err && err.stack ? err.stack : err}`);
}
process.stdout.write(JSON.stringify({
  text: shopperText(document.body).join('\n'), html: document.body.innerHTML, fetches, errors, navigations,
}));
await window.happyDOM.close();
process.exit(0);
