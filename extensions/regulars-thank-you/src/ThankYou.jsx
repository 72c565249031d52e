// purchase.thank-you.block.render: "You earned N points" for members, an invitation to join for everyone
// else, nothing while the program is off.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {call, earnRate, num, numericId, orderSentence, t} from '../../shared/regulars.js';

// The order's webhook may reach the app a moment after the thank-you page opens: ask again a few times.
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default async () => {
  render(<ThankYou />, document.body);
};

async function orderAnswer(orderId) {
  for (let attempt = 0; ; attempt++) {
    const res = await call(`/orders/${orderId}`, {surface: 'checkout'});
    if (res.ok) return res.data;
    if (res.status !== 404 || attempt >= RETRY_DELAYS_MS.length) return res.status === 404 ? 'unknown' : null;
    await sleep(RETRY_DELAYS_MS[attempt]);
  }
}

function ThankYou() {
  const [view, setView] = useState(undefined);
  const orderId = numericId(shopify.orderConfirmation.value?.order?.id);
  useEffect(() => {
    (async () => {
      const res = await call('/member', {surface: 'checkout'});
      if (!res.ok || !res.data) return setView(null);
      const {program} = res.data;
      if (!program.enabled) return setView(null);
      if (res.data.member === null || !orderId) return setView({program, invite: true});
      setView({program, order: await orderAnswer(orderId)});
    })();
  }, [orderId]);

  if (!view) return null;
  if (view.invite) {
    return (
      <s-banner heading={t('joinHeading', {shop: view.program.shop_name})}>
        <s-text>
          {view.program.signup_points > 0
            ? t('joinWithBonus', {rate: earnRate(view.program), n: num(view.program.signup_points)})
            : t('join', {rate: earnRate(view.program)})}
        </s-text>
      </s-banner>
    );
  }
  if (view.order === null) return null;
  const sentence = view.order === 'unknown' ? t('orderUnknown') : orderSentence(view.order);
  if (sentence === null) return null;
  return (
    <s-banner tone={view.order.status === 'none' ? 'info' : 'success'} heading={t('title')}>
      <s-text>{sentence}</s-text>
    </s-banner>
  );
}
