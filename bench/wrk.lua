-- One wrk load process cycling through pre-generated requests.
-- BENCH_LINES: file, one request per line: "cookie<TAB>body" (either may be empty).
-- BENCH_METHOD, BENCH_PATH, BENCH_HEADER ("Name: value", optional), BENCH_EXPECT (status),
-- BENCH_CYCLE=1 reuses lines (else the run stops when they are used up),
-- BENCH_MAX stops after that many responses, BENCH_DELAY_MS paces each connection.
local lines, threads = {}, {}
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local cycle = os.getenv("BENCH_CYCLE") == "1"
local expect = tonumber(os.getenv("BENCH_EXPECT") or "302")
local max = tonumber(os.getenv("BENCH_MAX") or "0")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local extra = os.getenv("BENCH_HEADER")
local cookie_name = os.getenv("BENCH_COOKIE") or "switchyard_session"
-- A 302 whose Location contains this is a failure (e.g. back to sign-in).
local reject = os.getenv("BENCH_REJECT") or "/saml/login"

for line in io.lines(os.getenv("BENCH_LINES")) do
  local cookie, body = line:match("^([^\t]*)\t(.*)$")
  lines[#lines + 1] = { cookie = cookie, body = body }
end

function setup(thread)
  threads[#threads + 1] = thread
end

local index, seen = 0, 0
ok, bad = 0, 0

function request()
  index = index + 1
  if index > #lines then
    if not cycle then
      wrk.thread:stop()
      return wrk.format("GET", "/healthz")
    end
    index = 1
  end
  local item = lines[index]
  local headers = {}
  if item.cookie ~= "" then headers["Cookie"] = cookie_name .. "=" .. item.cookie end
  if item.body ~= "" then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  if extra then
    local name, value = extra:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  return wrk.format(method, path, headers, item.body ~= "" and item.body or nil)
end

function delay()
  return pause
end

function response(status, headers)
  seen = seen + 1
  local location = headers["Location"] or headers["location"] or ""
  if status == expect and not location:find(reject, 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
  end
  if max > 0 and seen >= max then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local ok_total, bad_total = 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    bad_total = bad_total + thread:get("bad")
  end
  io.write(string.format(
    'BENCH {"ok": %d, "bad": %d, "requests": %d, "seconds": %.3f, "errors": %d, '
    .. '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    ok_total, bad_total, summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
