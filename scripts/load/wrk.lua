-- wrk script for scripts/load.sh: one request kind per run, a fresh client address (sent as
-- X-Forwarded-For; the resolver runs with --behind-proxy) and suid per request, and a count of
-- the answers that are not the success the kind expects. Usage:
--   wrk -t1 -c32 -d8s -s wrk.lua URL -- KIND key=value...
-- KIND: ceiling | identify_missing | identify_found | pageview | pageview_known | event | add |
--       search | thulium | telefum
-- pageview_known: the page views of `visitors` known visitors (suids 00000000-0000-4000-8000-
--       00000000000K, linked to contacts by scripts/load/link_visitors.py) over 200 product pages
--       (/product/N/), each page seven times in a row, as scripts/load-rules.sh needs.
-- keys: site, token, basic (the Authorization value for Thulium), login, campaign, contacts,
--       first (the first imported contact's id), origin (default http://localhost), run (makes suids and addresses of this run
--       unique), addresses (cycle through this many addresses instead of one per request).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  kind = args[1]
  -- The ceiling gets page-view requests and answers 200.
  shape = kind == "ceiling" and "pageview" or kind
  opts = {}
  for i = 2, #args do
    local key, value = args[i]:match("^([^=]+)=(.*)$")
    if key then opts[key] = value end
  end
  run = tonumber(opts.run or "0")
  contacts = tonumber(opts.contacts or "1")
  first = tonumber(opts.first or "0")
  addresses = tonumber(opts.addresses or "0")
  n = 0
  failed = 0
  math.randomseed(run)
end

-- The k-th address of this run: 11.0.0.0 upwards, shifted by run so runs do not share.
local function address(k)
  local i = (run % 64) * 4000000 + k
  return string.format("%d.%d.%d.%d", 11 + math.floor(i / 16777216), math.floor(i / 65536) % 256,
    math.floor(i / 256) % 256, i % 256)
end

local function suid(k)
  return string.format("%08x-%04x-4%03x-8%03x-%012x", run % 4294967296, 0, 0, 0, k)
end

-- The id of imported contact k: each import call of 5,000 takes one id for its group first.
local function contact_id(k)
  return first + k + math.floor(k / 5000)
end

local function post(path, headers, body)
  return wrk.format("POST", path, headers, body)
end

function request()
  n = n + 1
  local client = address(addresses > 0 and (n % addresses) or n)
  local headers = { ["X-Forwarded-For"] = client }
  if shape == "identify_missing" or shape == "identify_found" or shape == "pageview"
      or shape == "pageview_known" or shape == "event" then
    headers["Origin"] = opts.origin or "http://localhost"
    headers["Content-Type"] = "text/plain"
  end
  if shape == "identify_missing" then
    return post("/t/identify", headers, string.format(
      '{"site":"%s","suid":"%s","value":"nobody.%d@example.org"}', opts.site, suid(n), n))
  elseif shape == "identify_found" then
    return post("/t/identify", headers, string.format(
      '{"site":"%s","suid":"%s","value":"klient.%d@example.com"}', opts.site, suid(n),
      math.random(0, contacts - 1)))
  elseif shape == "pageview" then
    return post("/t/pageview", headers, string.format(
      '{"site":"%s","suid":"%s","url":"http://localhost/products/%d","title":"Product %d","referrer":"https://www.google.com/"}',
      opts.site, suid(n), n % 1000, n % 1000))
  elseif shape == "pageview_known" then
    local k = (run * 7919 + n) % tonumber(opts.visitors)
    return post("/t/pageview", headers, string.format(
      '{"site":"%s","suid":"00000000-0000-4000-8000-%012x","url":"http://localhost/product/%d/","title":"Product","referrer":""}',
      opts.site, k, math.floor((run * 7919 + n) / 7) % 200))
  elseif shape == "event" then
    return post("/t/event", headers, string.format(
      '{"site":"%s","suid":"%s","name":"add_to_cart","props":{"product":%d,"price":"19.99"},"url":"http://localhost/cart"}',
      opts.site, suid(n), n % 1000))
  elseif shape == "add" then
    headers["Authorization"] = "Bearer " .. opts.token
    headers["Content-Type"] = "application/json"
    return post("/contacts/add.json", headers, string.format(
      '{"phone":"60%07d","first_name":"Anna","last_name":"Nowak %d","email":"anna.%d.%d@example.net"}',
      (run * 7919 + n) % 10000000, n, run, n))
  elseif shape == "search" then
    headers["Authorization"] = "Bearer " .. opts.token
    headers["Content-Type"] = "application/json"
    return post("/contacts/index.json", headers, string.format(
      '{"search":"%d","limit":10}', 500000000 + math.random(0, contacts - 1)))
  elseif shape == "list" then
    -- A random page of 50 in one of the ten orders (the default and nine columns), either way.
    local sorts = { "", "first_name", "last_name", "phone", "company", "tax_id", "email",
      "address", "city", "description" }
    local sort = sorts[math.random(1, #sorts)]
    headers["Authorization"] = "Bearer " .. opts.token
    headers["Content-Type"] = "application/json"
    return post("/contacts/index.json", headers, string.format(
      '{"page":%d,"limit":50%s,"order":"%s"}', math.random(1, math.floor(contacts / 50)),
      sort == "" and "" or string.format(',"sort":"%s"', sort),
      math.random(0, 1) == 0 and "asc" or "desc"))
  elseif shape == "thulium" then
    headers["Authorization"] = opts.basic
    headers["Content-Type"] = "application/json"
    local records = {}
    for i = 0, 99 do
      local k = ((run % 10) * 100000 + n * 100 + i) % contacts
      records[#records + 1] = string.format('{"customer_id":%d,"status_id":3}', contact_id(k))
    end
    return post("/api/batch/crm_outbounds/" .. opts.campaign .. "/records", headers,
      '{"records":[' .. table.concat(records, ",") .. ']}')
  elseif shape == "telefum" then
    return wrk.format("GET", string.format("/rest?typereq=find&phone=%d&login=%s&password=%s",
      500000000 + math.random(0, contacts - 1), opts.login, opts.token), headers)
  end
end

-- What counts as a successful answer of each kind (a not-found trackUser answers
-- success:false by design: any 200 counts).
function response(status, headers, body)
  local ok
  if kind == "ceiling" then
    ok = status == 200
  elseif kind == "pageview" or kind == "pageview_known" or kind == "event" then
    ok = status == 204
  elseif kind == "identify_missing" then
    ok = status == 200
  elseif kind == "thulium" then
    ok = status == 200 and not body:find('"FAILED"', 1, true)
  elseif kind == "telefum" then
    ok = status == 200 and body:find("<id>", 1, true) ~= nil
  elseif kind == "search" or kind == "list" then
    ok = status == 200 and body:find('"items":[{', 1, true) ~= nil
  else
    ok = status == 200 and body:find('"success":true', 1, true) ~= nil
  end
  if not ok then
    failed = failed + 1
    if failed == 1 then
      io.stderr:write(string.format("%s: first unsuccessful answer: %d %s\n", kind, status,
        (body or ""):sub(1, 200)))
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("failed") or 0)
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT requests=%d unsuccessful=%d socket_errors=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, bad, errors - summary.errors.status, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
