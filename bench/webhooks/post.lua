-- wrk script: POST a signed orders/paid body with a fresh webhook id and event id per request.
-- `tid` stays a global: thread:set() writes globals, and a local of the same name would shadow it,
-- giving every thread the same ids (duplicates the app rightly stores once).
local counter = 0
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  body = os.getenv("BENCH_BODY")
  hmac = os.getenv("BENCH_HMAC")
  run = os.getenv("BENCH_RUN")
end

function request()
  counter = counter + 1
  local id = run .. "-" .. tid .. "-" .. counter
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Topic"] = "orders/paid",
    ["X-Shopify-Hmac-Sha256"] = hmac,
    ["X-Shopify-Shop-Domain"] = "bench.myshopify.com",
    ["X-Shopify-Webhook-Id"] = "w-" .. id,
    ["X-Shopify-Event-Id"] = "e-" .. id,
    ["X-Shopify-Triggered-At"] = "2026-11-22T10:00:00Z",
    ["X-Shopify-API-Version"] = "2026-10",
  }
  return wrk.format("POST", "/webhooks", headers, body)
end
