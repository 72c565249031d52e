// customer-account.profile.block.render: points and tier on the profile page, and the way to the rewards page.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {call, earnRate, num, points, t} from '../../shared/regulars.js';

export default async () => {
  render(<ProfileBlock />, document.body);
};

function ProfileBlock() {
  const [data, setData] = useState(undefined);
  useEffect(() => {
    call('/member').then((res) => setData(res.ok ? res.data : null));
  }, []);
  // Nothing while loading, on an error, or while the program is off: a profile page never shows a broken block.
  if (!data || !data.program.enabled) return null;
  const link = <s-link href="extension://regulars-account">{t('viewRewards')}</s-link>;
  if (data.member === null) {
    return (
      <s-section heading={t('title')}>
        <s-stack gap="small">
          <s-text>{data.signed_in ? t('joinSignedIn', {rate: earnRate(data.program)}) : t('joinVisitor', {n: num(data.program.signup_points)})}</s-text>
          {link}
        </s-stack>
      </s-section>
    );
  }
  return (
    <s-section heading={t('title')}>
      <s-stack gap="small">
        <s-heading>{points(data.points_available)}</s-heading>
        {data.points_pending > 0 && <s-text color="subdued">{t('pendingTotal', {points: points(data.points_pending)})}</s-text>}
        <s-text>{data.tier ? t('tierLine', {tier: data.tier.name}) : t('tierNone')}</s-text>
        {link}
      </s-stack>
    </s-section>
  );
}
