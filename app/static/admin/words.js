// The merchant's words for every internal value the API answers with: the admin never shows a raw key.

export const LEDGER_KINDS = {
  earn_order: "Points for an order", reverse_order: "Order refunded or cancelled", pending_released: "Pending points now available",
  signup: "Sign-up bonus", birthday: "Birthday points", anniversary: "Anniversary points", action: "Points for an action",
  campaign_bonus: "Campaign bonus", tier_bonus: "Tier welcome bonus", referral_advocate: "Points for a referral",
  redeem: "Reward redeemed", redeem_reversed: "Redemption cancelled", code_refunded: "Unused code refunded",
  admin_adjustment: "Manual adjustment", import: "Imported", expiry: "Points expired", forgiven: "Points forgiven",
  automation_bonus: "Automation bonus",
};
export const ENTRY_STATUS = { available: "Available", pending: "Pending" };
export const REWARD_TYPES = {
  fixed_amount: "Amount off the order", percentage: "Percentage off the order", free_shipping: "Free shipping",
  free_product: "Free product", variable: "Shopper picks how many points to spend",
};
export const ACTION_LIMITS = { once: "Once per customer", per_day: "Once a day", per_month: "Once a month", unlimited: "No limit" };
export const CAMPAIGN_KINDS = { multiplier: "Points multiplier", bonus: "Bonus points per order" };
export const CAMPAIGN_STATUS = {
  scheduled: ["Scheduled", "info"], active: ["Running", "success"], paused: ["Paused", "warning"], ended: ["Ended", "neutral"],
};
export const REFERRAL_STATUS = {
  invited: ["Invited", "neutral"], pending: ["Waiting for the order", "info"], completed: ["Completed", "success"],
  withdrawn: ["Withdrawn", "neutral"], blocked: ["Blocked", "critical"], review: ["Needs review", "warning"],
  rejected: ["Rejected", "critical"],
};
export const CODE_STATUS = {
  issued: ["Not used yet", "info"], used: ["Used", "success"], expired: ["Expired", "neutral"], refunded: ["Refunded", "neutral"],
};
export const SEGMENTS_FALLBACK = {};
export const SORTS = [["balance", "Most points"], ["spend", "Highest spend"], ["last_order", "Most recent order"], ["newest", "Newest members"]];
export const REFERRAL_SORTS = [["newest", "Newest first"], ["oldest", "Oldest first"], ["status", "By status"]];
export const TIER_METRICS = {
  points_earned: ["Points earned", "points"], amount_spent: ["Amount spent", "money"], orders: ["Number of orders", "orders"],
};
export const TIER_WINDOWS = { lifetime: "Since they joined", rolling_12_months: "In the last 12 months", calendar_year: "This calendar year" };
export const REVERSAL = {
  allow_negative: "Take the points back, even below zero", cap_at_zero: "Take back what is there, stop at zero",
};
export const EXPIRY = { none: "Points never expire", inactivity: "Points expire after a time without activity" };

// Audit log: what the merchant reads for each recorded action (the API's own label wins when it has one).
export const AUDIT_ACTIONS = {
  setup_completed: "Program set up", setup_repeated: "Setup run again", settings_updated: "Settings changed",
  "program.updated": "Settings changed", tiers_saved: "Tiers changed", "reward.created": "Reward added",
  "reward.updated": "Reward changed", "reward.deactivated": "Reward deleted", "reward.deleted": "Reward deleted",
  custom_action_saved: "Custom action saved", campaign_saved: "Campaign saved", "campaign.paused": "Campaign paused",
  "campaign.resumed": "Campaign resumed", "campaign.ended": "Campaign ended", "campaign.deleted": "Campaign deleted",
  "points.adjusted": "Points adjusted", "referral.approved": "Referral approved", "referral.rejected": "Referral rejected",
  api_key_created: "API key created", api_key_revoked: "API key revoked", automation_updated: "Automation changed",
  export_members: "Customers exported", export_ledger: "Points history exported",
};

export function sentence(key) {
  // The last resort for a value no table names yet: readable words, never the raw key.
  const s = String(key ?? "").replace(/[._]+/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : "";
}
export function actorText(actor) {
  if (!actor) return "Regulars";
  const [kind, id] = String(actor).split(":");
  return { staff: "Staff member", system: "Regulars (automatic)", api: "An app using your API key", webhook: "Shopify",
    flow: "Shopify Flow", cli: "Command line" }[kind] || (id ? sentence(kind) : sentence(actor));
}
