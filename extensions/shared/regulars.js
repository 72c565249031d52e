// What every Regulars UI extension shares: the call to the app's /ext/v1 with Shopify's session token, and
// texts, numbers, money and dates in the shopper's language (shopify.i18n formats with Intl in their locale).
import {APP_URL} from './app-url.js';

/** One call to the backend: {status, ok, data}; status 0 when the network failed. */
export async function call(path, {method = 'GET', body, surface} = {}) {
  try {
    const token = await shopify.sessionToken.get();
    const headers = {Authorization: `Bearer ${token}`};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const query = surface ? `${path.includes('?') ? '&' : '?'}surface=${surface}` : '';
    const res = await fetch(`${APP_URL}/ext/v1${path}${query}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    return {status: res.status, ok: res.ok, data};
  } catch {
    return {status: 0, ok: false, data: null};
  }
}

export const t = (key, params) => shopify.i18n.translate(key, params);
export const num = (n) => shopify.i18n.formatNumber(Number(n));
/** "1,400 points" in the shopper's language and plural rules. */
export const points = (n) => t('points', {count: Number(n), n: num(n)});
export const date = (iso) => shopify.i18n.formatDate(new Date(iso), {year: 'numeric', month: 'long', day: 'numeric'});
export const money = (amount, currency) =>
  shopify.i18n.formatCurrency(Number(amount), currency ? {currency} : undefined);
/** Shopify's numeric id from a gid (gid://shopify/Order/123 → "123"). */
export const numericId = (gid) => String(gid || '').split('/').pop();

/** "for every $1.00" and the rest of how points are earned, from the program a visitor sees. */
export function earnRate(program) {
  return t('earnOrder', {n: num(program.points_per_currency_unit), unit: money(1, program.currency)});
}

/** What one order earned, as a sentence; null when there is nothing honest to say (program off). */
export function orderSentence(answer) {
  if (answer.status === 'pending') {
    return t('orderPending', {points: points(answer.points), date: date(answer.available_at)});
  }
  if (answer.status === 'available') return t('orderEarned', {points: points(answer.points)});
  if (answer.reason === 'program_off') return null;
  return t(`orderNone.${answer.reason || 'nothing_eligible'}`);
}
