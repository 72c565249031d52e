// customer-account.order-status.block.render: what this order earned, pending until when, or why it earned none.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {call, numericId, orderSentence, t} from '../../shared/regulars.js';

export default async () => {
  render(<OrderStatusBlock />, document.body);
};

function OrderStatusBlock() {
  const signedIn = shopify.authenticationState.value === 'fully_authenticated';
  const orderId = numericId(shopify.order.value?.id);
  const [answer, setAnswer] = useState(undefined);
  useEffect(() => {
    if (!signedIn || !orderId) return;
    call(`/orders/${orderId}`).then((res) => setAnswer(res.ok ? res.data : res.status === 404 ? 'unknown' : null));
  }, [signedIn, orderId]);

  if (!signedIn) {
    // Pre-authenticated (arrived from the order email): points are the customer's own, so ask them to sign in.
    return (
      <s-section heading={t('title')}>
        <s-stack gap="small">
          <s-text>{t('signInForPoints')}</s-text>
          <s-button variant="secondary" onClick={() => shopify.requireLogin()}>{t('signIn')}</s-button>
        </s-stack>
      </s-section>
    );
  }
  if (answer === undefined || answer === null) return null;
  const sentence = answer === 'unknown' ? t('orderUnknown') : orderSentence(answer);
  if (sentence === null) return null;
  return (
    <s-section heading={t('title')}>
      <s-text>{sentence}</s-text>
    </s-section>
  );
}
