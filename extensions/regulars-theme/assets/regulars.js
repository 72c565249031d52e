/* Regulars theme extension: loads the widget fragment from the app proxy into each [data-regulars-widget] host
   (the rewards block at once, the launcher's panel on first open) and gives it its behaviour: copy, share,
   forms posted in place. Shopify includes it once per page for every block that names it; it installs once. */
(function () {
  if (window.Regulars) return;
  window.Regulars = { version: 2 };
  var VIEW = 'view=theme';  // the fragment without a script or stylesheet of its own: this file and regulars.css

  function hostOf(el) { return el.closest('[data-regulars-widget]'); }
  function rootOf(el) { return el.closest('[data-regulars-root]'); }
  // The proxy path comes from the block's setting (the app's configured one by default): a path on this origin.
  function baseOf(host) {
    var base = ((host && host.getAttribute('data-base')) || '').trim().replace(/\/+$/, '');
    return /^\/[^\/\\]/.test(base) ? base : null;
  }
  function localeOf(host) { return host.getAttribute('data-locale') || document.documentElement.lang || 'en'; }
  function widgetUrl(host) {
    return baseOf(host) + '/widget?locale=' + encodeURIComponent(localeOf(host)) + '&' + VIEW;
  }
  function isFragment(html) { return /data-regulars-root/.test(html || ''); }
  function fragmentOf(html) {
    var holder = document.createElement('div');
    holder.innerHTML = html;
    return holder.querySelector('[data-regulars-root]');
  }
  function getFragment(host) {
    return fetch(widgetUrl(host), { credentials: 'same-origin' }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.text();
    }).then(function (html) {
      var root = isFragment(html) && fragmentOf(html);
      if (!root) throw new Error('not the widget');
      return root;
    });
  }

  // A plain message in the widget's own look, where the widget could not be had.
  function unavailable(host) {
    var box = document.createElement('div');
    box.className = 'regulars';
    var p = document.createElement('p');
    p.className = 'regulars__flash regulars__flash--error';
    p.setAttribute('role', 'alert');
    p.setAttribute('data-regulars-unavailable', '');
    p.textContent = host.getAttribute('data-error-text') || 'Rewards are not available right now.';
    box.appendChild(p);
    host.replaceChildren(box);
  }

  function load(host) {
    if (!host || host.getAttribute('data-loaded')) return;
    host.setAttribute('data-loaded', 'loading');
    if (!baseOf(host)) { unavailable(host); return; }
    getFragment(host).then(function (root) {
      host.replaceChildren(root);
      host.setAttribute('data-loaded', 'yes');
    }).catch(function () {
      unavailable(host);
      host.removeAttribute('data-loaded');  // the next open tries again
    });
  }

  // Every other widget on the page shows the state after a change made in one of them.
  function refreshOthers(except) {
    document.querySelectorAll('[data-regulars-widget][data-loaded=yes]').forEach(function (host) {
      if (host === except) return;
      getFragment(host).then(function (root) { host.replaceChildren(root); }).catch(function () {});
    });
  }

  function showCopied(root, text) {
    var note = root.querySelector('[data-copied-text]');
    var msg = root.getAttribute('data-copied') + ' ' + text;
    if (note) { note.textContent = msg; note.hidden = false; }
    root.setAttribute('data-last-copied', text);
  }
  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    try { document.execCommand('copy'); } catch (e) { /* the text is shown anyway */ }
    area.remove();
  }
  function copy(root, text) {
    var done = function () { showCopied(root, text); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else { fallbackCopy(text); done(); }
  }

  // The request failed or its answer was not the widget: show the widget as it now stands (the change either
  // happened in full or not at all) with a plain message. Nothing is retried on the shopper's behalf.
  function failed(host, root, form) {
    var show = function (target) {
      var old = target.querySelector('[data-flash]');
      if (old) old.remove();
      var p = document.createElement('p');
      p.className = 'regulars__flash regulars__flash--error';
      p.setAttribute('role', 'alert');
      p.setAttribute('data-flash', 'error_unreachable');
      p.textContent = root.getAttribute('data-error-text') || 'Something went wrong. Please try again.';
      var title = target.querySelector('.regulars__title');
      if (title) title.insertAdjacentElement('afterend', p); else target.insertAdjacentElement('afterbegin', p);
    };
    getFragment(host).then(function (next) { root.replaceWith(next); show(next); }).catch(function () {
      form.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
      show(root);
    });
  }

  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest('[data-copy],[data-share]');
    var root = btn && rootOf(btn);
    if (!root) return;
    if (btn.hasAttribute('data-copy')) { copy(root, btn.getAttribute('data-copy')); return; }
    var url = btn.getAttribute('data-share');
    if (navigator.share) {
      navigator.share({ text: root.getAttribute('data-share-text'), url: url }).catch(function () {});
    } else { copy(root, url); }
  });

  document.addEventListener('submit', function (ev) {
    var form = ev.target.closest('[data-regulars-form]');
    var root = form && rootOf(form);
    var host = root && hostOf(root);
    if (!host || !baseOf(host)) return;
    ev.preventDefault();
    form.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
    var body = new URLSearchParams(new FormData(form));
    // The fragment's actions carry the app's own prefix; the block's proxy path replaces it.
    var prefix = root.getAttribute('data-prefix') || '';
    var action = form.getAttribute('action');
    var url = baseOf(host) + (prefix && action.indexOf(prefix) === 0 ? action.slice(prefix.length) : action);
    url += (url.indexOf('?') < 0 ? '?' : '&') + 'locale=' + encodeURIComponent(localeOf(host)) + '&' + VIEW;
    // A network retry sends the same request_key: the app answers with the first result.
    var attempt = function (left) {
      return fetch(url, { method: 'POST', body: body, credentials: 'same-origin',
                          headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
        .catch(function (err) { if (left > 0) return attempt(left - 1); throw err; });
    };
    attempt(1).then(function (res) {
      return res.text().then(function (html) {
        // The app answers every outcome it knows (refusals included) with a fresh widget; anything else
        // (a proxy error page, a server error) is not shown as it came.
        var fresh = isFragment(html) && fragmentOf(html);
        if (!fresh) throw new Error('HTTP ' + res.status);
        root.replaceWith(fresh);
        if (res.ok) refreshOthers(host);
      });
    }).catch(function () { failed(host, root, form); });
  });

  function bindLauncher(launcher) {
    if (launcher.getAttribute('data-bound')) return;
    launcher.setAttribute('data-bound', '1');
    var button = launcher.querySelector('[data-regulars-open]');
    var panel = launcher.querySelector('[data-regulars-panel]');
    var toggle = function (open) {
      panel.hidden = !open;
      button.setAttribute('aria-expanded', open ? 'true' : 'false');
      if (open) load(panel.querySelector('[data-regulars-widget]'));
    };
    button.addEventListener('click', function () { toggle(panel.hidden); });
    launcher.querySelector('[data-regulars-close]').addEventListener('click', function () { toggle(false); });
  }

  function init() {
    document.querySelectorAll('[data-regulars-widget]:not([data-lazy])').forEach(load);
    document.querySelectorAll('[data-regulars-launcher]').forEach(bindLauncher);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
