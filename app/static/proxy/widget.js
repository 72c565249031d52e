/* Regulars widget behaviour: copy, share, and forms posted in place. Loaded by the fragment from a hashed, long-cached URL; installs once. */
(function () {
  if (window.RegularsWidget) return;
  var W = window.RegularsWidget = {};

  function rootOf(el) { return el.closest('[data-regulars-root]'); }
  // Where the fragment came from: the theme block's data-base, else Shopify's app proxy path.
  function baseOf(root) {
    var host = root.parentElement && root.parentElement.closest('[data-base]');
    return host ? host.getAttribute('data-base') : root.getAttribute('data-prefix');
  }
  function endpoint(root, action) {
    var prefix = root.getAttribute('data-prefix');
    var path = action.indexOf(prefix) === 0 ? action.slice(prefix.length) : action;
    return baseOf(root) + path;
  }
  function locale(root) { return root.getAttribute('lang') || 'en'; }

  function showCopied(root, text) {
    var note = root.querySelector('[data-copied-text]');
    var msg = root.getAttribute('data-copied') + ' ' + text;
    if (note) { note.textContent = msg; note.hidden = false; }
    root.setAttribute('data-last-copied', text);
  }

  W.copy = function (root, text) {
    var done = function () { showCopied(root, text); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else { fallbackCopy(text); done(); }
  };
  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    try { document.execCommand('copy'); } catch (e) { /* the text is shown anyway */ }
    area.remove();
  }

  W.replace = function (root, html) {
    var holder = document.createElement('div');
    holder.innerHTML = html;
    var fresh = holder.querySelector('[data-regulars-root]');
    if (fresh) { root.replaceWith(fresh); } else { root.insertAdjacentHTML('afterbegin', html); }
  };

  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest('[data-copy],[data-share]');
    if (!btn) return;
    var root = rootOf(btn);
    if (!root) return;
    if (btn.hasAttribute('data-copy')) { W.copy(root, btn.getAttribute('data-copy')); return; }
    var url = btn.getAttribute('data-share');
    if (navigator.share) {
      navigator.share({ text: root.getAttribute('data-share-text'), url: url }).catch(function () {});
    } else { W.copy(root, url); }
  });

  document.addEventListener('submit', function (ev) {
    var form = ev.target.closest('[data-regulars-form]');
    if (!form) return;
    var root = rootOf(form);
    if (!root) return;
    ev.preventDefault();
    var buttons = form.querySelectorAll('button');
    buttons.forEach(function (b) { b.disabled = true; });
    var body = new URLSearchParams(new FormData(form));
    var url = endpoint(root, form.getAttribute('action'));
    url += (url.indexOf('?') < 0 ? '?' : '&') + 'locale=' + encodeURIComponent(locale(root));
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
        if (isFragment(html)) { W.replace(root, html); return; }
        throw new Error('HTTP ' + res.status);
      });
    }).catch(function () { W.failed(root, form); });
  });

  function isFragment(html) { return /data-regulars-root/.test(html || ''); }

  // The request failed or its answer was not the widget: show the widget as it now stands (the change
  // either happened in full, e.g. points and code both there, or not at all) with a plain message, in its
  // own look. Nothing is retried on the shopper's behalf.
  W.failed = function (root, form) {
    var message = root.getAttribute('data-error-text') || 'Something went wrong. Please try again.';
    var show = function (target) {
      var old = target.querySelector('[data-flash]');
      if (old) old.remove();
      var p = document.createElement('p');
      p.className = 'regulars__flash regulars__flash--error';
      p.setAttribute('role', 'alert');
      p.setAttribute('data-flash', 'error_unreachable');
      p.textContent = message;
      var title = target.querySelector('.regulars__title');
      if (title) title.insertAdjacentElement('afterend', p); else target.insertAdjacentElement('afterbegin', p);
    };
    var reenable = function () { form.querySelectorAll('button').forEach(function (b) { b.disabled = false; }); };
    var fresh = baseOf(root) + '/widget?locale=' + encodeURIComponent(locale(root));
    fetch(fresh, { credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.text() : ''; })
      .then(function (html) {
        if (!isFragment(html)) throw new Error('no widget');
        var holder = document.createElement('div');
        holder.innerHTML = html;
        var next = holder.querySelector('[data-regulars-root]');
        root.replaceWith(next);
        show(next);
      })
      .catch(function () { reenable(); show(root); });
  };
})();
