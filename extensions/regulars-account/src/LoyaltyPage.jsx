// customer-account.page.render: the shopper's loyalty page in new customer accounts.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {call, date, earnRate, money, num, points, t} from '../../shared/regulars.js';

export default async () => {
  render(<LoyaltyPage />, document.body);
};

function LoyaltyPage() {
  const [state, setState] = useState({status: 'loading'});
  const load = async () => {
    const res = await call('/member');
    setState(res.ok && res.data ? {status: 'ready', data: res.data} : {status: 'error'});
  };
  useEffect(() => {
    load();
  }, []);

  if (state.status === 'loading') {
    return (
      <s-page heading={t('title')}>
        <s-spinner accessibilityLabel={t('loading')} />
      </s-page>
    );
  }
  if (state.status === 'error') {
    return (
      <s-page heading={t('title')}>
        <s-banner tone="critical">{t('loadError')}</s-banner>
      </s-page>
    );
  }
  const {data} = state;
  const program = data.program;
  return (
    <s-page heading={t('title')}>
      <s-stack gap="base">
        {!program.enabled && <s-banner tone="info">{t('paused')}</s-banner>}
        {data.member === null ? (
          <Invitation program={program} signedIn={data.signed_in} />
        ) : (
          <Member data={data} onChange={load} />
        )}
        <WaysToEarn program={program} actions={data.member === null ? null : data.actions} />
      </s-stack>
    </s-page>
  );
}

function Invitation({program, signedIn}) {
  return (
    <s-section heading={t('joinHeading')}>
      <s-stack gap="small">
        <s-paragraph>{t('joinIntro', {shop: program.shop_name})}</s-paragraph>
        <s-paragraph>
          {signedIn ? t('joinSignedIn', {rate: earnRate(program)}) : t('joinVisitor', {n: num(program.signup_points)})}
        </s-paragraph>
      </s-stack>
    </s-section>
  );
}

function Member({data, onChange}) {
  const [flash, setFlash] = useState(null);
  const [balance, setBalance] = useState(data.points_available);
  useEffect(() => setBalance(data.points_available), [data.points_available]);
  const program = data.program;

  const redeemed = async (answer) => {
    setBalance(answer.points_available);
    setFlash({tone: 'success', code: answer.code, balance: answer.points_available});
    await onChange();
  };

  return (
    <s-stack gap="base">
      {flash && <Flash flash={flash} />}
      <s-section heading={t('balanceHeading')}>
        <s-stack gap="small">
          <s-heading>{points(balance)}</s-heading>
          <s-text>{t('available')}</s-text>
          {data.points_pending > 0 && (
            <s-stack gap="small-100">
              <s-text>{t('pendingTotal', {points: points(data.points_pending)})}</s-text>
              {data.pending.map((p) => (
                <s-text key={p.order_id} color="subdued">
                  {t('pendingLine', {points: points(p.points), order: p.order_name || p.order_id, date: date(p.available_at)})}
                </s-text>
              ))}
            </s-stack>
          )}
        </s-stack>
      </s-section>
      <Tier data={data} />
      <Rewards data={data} balance={balance} onRedeemed={redeemed} onFailed={setFlash} />
      {data.codes.length > 0 && <Codes codes={data.codes} />}
      <Referral data={data} program={program} />
      <Birthday birthday={data.birthday} program={program} />
      <History history={data.history} />
    </s-stack>
  );
}

function Flash({flash}) {
  if (flash.code) {
    return (
      <s-banner tone="success" heading={t('redeemed', {code: flash.code})}>
        <s-stack gap="small">
          <s-text>{t('newBalance', {points: points(flash.balance)})}</s-text>
          <CopyButton id="new-code" text={flash.code} />
        </s-stack>
      </s-banner>
    );
  }
  return <s-banner tone={flash.tone}>{flash.message}</s-banner>;
}

function CopyButton({id, text}) {
  const [copied, setCopied] = useState(false);
  return (
    <s-stack direction="inline" gap="small">
      <s-clipboard-item id={id} text={text} onCopy={() => setCopied(true)} />
      <s-button variant="secondary" command="--copy" commandFor={id}>
        {copied ? t('copied') : t('copy')}
      </s-button>
    </s-stack>
  );
}

function Tier({data}) {
  const next = data.next_tier;
  const metric = data.program.tier_metric;
  const remaining = next
    ? metric === 'amount_spent'
      ? money(next.remaining, data.program.currency)
      : num(next.remaining)
    : null;
  return (
    <s-section heading={t('tierHeading')}>
      <s-stack gap="small">
        <s-heading>{data.tier ? data.tier.name : t('tierNone')}</s-heading>
        {data.tier_perks && <s-text>{t('perks', {perks: data.tier_perks})}</s-text>}
        {next ? (
          <s-stack gap="small-100">
            <s-progress value={next.progress_percent} max={100} accessibilityLabel={t('progressLabel', {tier: next.name})} />
            <s-text>{t(`progress.${metric}`, {amount: remaining, tier: next.name})}</s-text>
          </s-stack>
        ) : (
          data.tier && <s-text>{t('tierTop')}</s-text>
        )}
      </s-stack>
    </s-section>
  );
}

function rewardValue(reward, currency) {
  if (reward.type === 'fixed_amount' || reward.type === 'store_credit') return money(reward.value, currency);
  if (reward.type === 'percentage') return `${num(reward.value)}%`;
  return '';
}

function refusalText(reward, balance) {
  if (reward.reason === 'insufficient_points') return t('reason.insufficient_points', {points: points(reward.points_cost - balance)});
  if (reward.reason === 'tier_not_allowed') return t('reason.tier_not_allowed', {tier: reward.tier || ''});
  return t(`reason.${reward.reason || 'disabled'}`);
}

function Rewards({data, balance, onRedeemed, onFailed}) {
  const [busy, setBusy] = useState(null);
  // One key per reward until its request has an answer: a retried click can never spend twice.
  const [keys] = useState({});
  const currency = data.program.currency;

  const redeem = async (reward) => {
    keys[reward.id] = keys[reward.id] || `ext-${reward.id}-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
    setBusy(reward.id);
    const body = {reward_id: reward.id, idempotency_key: keys[reward.id]};
    if (reward.type === 'variable') body.points = reward.min_points;
    const res = await call('/redemptions', {method: 'POST', body});
    setBusy(null);
    if (res.status === 0) {
      onFailed({tone: 'critical', message: t('networkError')});
      return;  // the key is kept: trying again replays this request, never a second debit
    }
    delete keys[reward.id];
    if (res.ok) {
      await onRedeemed(res.data);
    } else if (res.status === 502) {
      onFailed({tone: 'critical', message: t('redeemFailed')});
    } else {
      onFailed({tone: 'warning', message: t('redeemRefused')});
    }
  };

  return (
    <s-section heading={t('rewardsHeading')}>
      {data.rewards.length === 0 ? (
        <s-text>{t('noRewards')}</s-text>
      ) : (
        <s-stack gap="base">
          {data.rewards.map((reward) => (
            <s-stack key={reward.id} direction="inline" gap="base" alignItems="center" justifyContent="space-between">
              <s-stack gap="small-200">
                <s-text type="strong">{reward.name}</s-text>
                <s-text>
                  {[points(reward.points_cost), rewardValue(reward, currency)].filter(Boolean).join(' · ')}
                </s-text>
                {Number(reward.minimum_subtotal) > 0 && (
                  <s-text color="subdued">{t('minSubtotal', {amount: money(reward.minimum_subtotal, currency)})}</s-text>
                )}
                {!reward.redeemable && <s-text color="subdued">{refusalText(reward, balance)}</s-text>}
              </s-stack>
              <s-button
                variant="primary"
                disabled={!reward.redeemable || busy !== null}
                loading={busy === reward.id}
                onClick={() => redeem(reward)}
              >
                {t('redeem')}
              </s-button>
            </s-stack>
          ))}
        </s-stack>
      )}
    </s-section>
  );
}

function Codes({codes}) {
  return (
    <s-section heading={t('codesHeading')}>
      <s-stack gap="base">
        {codes.map((c, i) => (
          <s-stack key={c.code} gap="small-200">
            <s-text type="strong">{c.code}</s-text>
            <s-text color="subdued">
              {[c.reward, c.expires_at ? t('codeExpires', {date: date(c.expires_at)}) : null].filter(Boolean).join(' · ')}
            </s-text>
            <CopyButton id={`code-${i}`} text={c.code} />
          </s-stack>
        ))}
      </s-stack>
    </s-section>
  );
}

function WaysToEarn({program, actions}) {
  const lines = [earnRate(program)];
  if (program.signup_points > 0 && actions === null) lines.push(t('earnSignup', {n: num(program.signup_points)}));
  if (program.birthday_points > 0) lines.push(t('earnBirthday', {n: num(program.birthday_points)}));
  if (program.referral.advocate_points > 0) lines.push(t('earnReferral', {n: num(program.referral.advocate_points)}));
  const done = new Set((actions || []).filter((a) => a.done).map((a) => a.key));
  for (const a of program.actions) {
    lines.push(t('earnAction', {name: a.name, n: num(a.points)}) + (done.has(a.key) ? ` (${t('done')})` : ''));
  }
  return (
    <s-section heading={t('earnHeading')}>
      <s-unordered-list>
        {lines.map((line) => (
          <s-list-item key={line}>{line}</s-list-item>
        ))}
      </s-unordered-list>
    </s-section>
  );
}

function Referral({data, program}) {
  const offer = money(program.referral.friend_discount, program.currency);
  const subject = t('shareSubject', {amount: offer, shop: program.shop_name});
  const mail = `mailto:?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(data.referral_url)}`;
  return (
    <s-section heading={t('referralHeading')}>
      <s-stack gap="small">
        <s-paragraph>{t('referralOffer', {amount: offer, n: num(program.referral.advocate_points)})}</s-paragraph>
        <s-text type="strong">{data.referral_url}</s-text>
        <s-stack direction="inline" gap="small">
          <CopyButton id="referral-link" text={data.referral_url} />
          <s-link href={mail} target="_blank">{t('shareEmail')}</s-link>
        </s-stack>
      </s-stack>
    </s-section>
  );
}

function Birthday({birthday, program}) {
  const when = birthday
    ? shopify.i18n.formatDate(new Date(Date.UTC(2000, birthday.month - 1, birthday.day, 12)), {month: 'long', day: 'numeric'})
    : null;
  return (
    <s-section heading={t('birthdayHeading')}>
      <s-text>
        {when ? t('birthdaySet', {date: when, n: num(program.birthday_points)}) : t('birthdayUnset', {n: num(program.birthday_points)})}
      </s-text>
    </s-section>
  );
}

// The ledger kinds this page has words for (app/loyalty/ledger.py); any other is "Points change".
const KINDS = ['earn_order', 'reverse_order', 'pending_released', 'signup', 'birthday', 'anniversary', 'action',
  'campaign_bonus', 'tier_bonus', 'referral_advocate', 'redeem', 'redeem_reversed', 'code_refunded',
  'admin_adjustment', 'import', 'expiry', 'forgiven'];

function historyLabel(line) {
  return KINDS.includes(line.kind) ? t(`kind.${line.kind}`, {ref: line.ref || ''}) : t('kind.other');
}

function History({history}) {
  return (
    <s-section heading={t('historyHeading')}>
      {history.length === 0 ? (
        <s-text>{t('historyEmpty')}</s-text>
      ) : (
        <s-stack gap="small">
          {history.map((line) => (
            <s-stack key={line.id} direction="inline" gap="base" justifyContent="space-between">
              <s-text>
                {date(line.occurred_at)} · {historyLabel(line)}
                {line.note ? ` — ${line.note}` : ''}
                {line.status === 'pending' ? ` (${t('pendingTag')})` : ''}
              </s-text>
              <s-text type="strong">{line.points > 0 ? `+${num(line.points)}` : num(line.points)}</s-text>
            </s-stack>
          ))}
        </s-stack>
      )}
    </s-section>
  );
}
