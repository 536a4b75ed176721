-- Tests of bindings/lua/network.lua:
--   luajit tests/run.lua BASE_URL DIRECTORY TLS_URL CA_FILE PACED_URL
-- Runs the reference page's two examples unchanged (but for the URLs, and a
-- `display` stand-in), then checks the binding's other promises. TLS_URL is
-- an HTTPS server whose certificate is CA_FILE (tests/tls_server.py);
-- PACED_URL serves DIRECTORY/files like BASE_URL, at 4 MiB/s.
local here = arg[0]:match("(.*/)") or "./"
package.path = here .. "../?.lua;" .. here .. "?.lua;" .. package.path
local BASE, DIR, TLS, CA, PACED = arg[1], arg[2], arg[3], arg[4], arg[5]
assert(BASE and DIR and TLS and CA and PACED,
  "usage: luajit tests/run.lua BASE_URL DIRECTORY TLS_URL CA_FILE PACED_URL")
local ffi = require "ffi"

local network = require "network"
local system = require("network").system
network.setDirectory(system.DocumentsDirectory, DIR .. "/docs")
network.setDirectory(system.TemporaryDirectory, DIR .. "/tmp")

local failures, checks = 0, 0
local function check(cond, what)
  checks = checks + 1
  if not cond then
    failures = failures + 1
    print("FAIL: " .. what)
  end
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Pumps network.poll() like a frame loop until done() or 10 s.
local function pump(done)
  for _ = 1, 500 do
    if done() then return true end
    network.poll(20)
  end
  return done()
end

-- Runs one request to its end; returns the ended event.
local function one(start)
  local ev
  start(function(e) if e.phase == "ended" then ev = e end end)
  pump(function() return ev ~= nil end)
  return ev or {}
end

ffi.cdef "int poll(void *fds, unsigned long nfds, int timeout);"
-- Waits (without polling netdl) until every file exists, or 10 s: their
-- downloads are complete, so their events wait in the queue and the next
-- network.poll() takes them as one batch.
local function wait_for_files(paths)
  for _, path in ipairs(paths) do
    for _ = 1, 5000 do
      if read(path) then break end
      ffi.C.poll(nil, 0, 2)
    end
  end
end

-- 1. The layout network.lua declares matches include/netdl.h: a second
--    LuaJIT cdefs the header itself and prints the same sizes and offsets.
do
  local mine = require("layout")(require("ffi"))
  local p = io.popen(string.format("luajit %slayout.lua %s../../../include/netdl.h 2>&1", here, here))
  local theirs = p:read("*a"):gsub("%s+$", "")
  p:close()
  check(mine:find("net_params=160", 1, true) and mine:find("net_event=192", 1, true) and mine == theirs, "cdef layout matches netdl.h:\n  lua:    " .. mine .. "\n  header: " .. theirs)
end

-- 2. The reference's download example, unchanged but for the URL and a
--    `display` stand-in that checks the file it is asked to show.
local shown = {}
display = {
  newImage = function(filename, base, x, y)
    local img = { filename = filename, base = base, x = x, y = y, data = read(system.pathForFile(filename, base)) }
    shown[#shown + 1] = img
    return img
  end,
}
transition = { to = function() end }
do
  local phases = {}
  local function networkListener( event )
    phases[#phases + 1] = event.phase
    if ( event.isError ) then
        print( "Network error - download failed: ", event.response )
    elseif ( event.phase == "began" ) then
        print( "Progress Phase: began" )
    elseif ( event.phase == "ended" ) then
        print( "Displaying response image file" )
        myImage = display.newImage( event.response.filename, event.response.baseDirectory, 60, 40 )
        myImage.alpha = 0
        transition.to( myImage, { alpha=1.0 } )
    end
  end

  local params = {}
  params.progress = true

  local handle = network.download(
      BASE .. "/bytes/120000",
      "GET",
      networkListener,
      params,
      "helloCopy.png",
      system.TemporaryDirectory
  )
  check(type(handle) == "number" and handle > 0, "download returns a handle")
  pump(function() return #shown == 1 end)
  check(phases[1] == "began" and phases[#phases] == "ended", "began ... ended: " .. table.concat(phases, ","))
  local expected = {}
  for i = 0, 119999 do expected[#expected + 1] = string.char(i % 251) end
  check(shown[1] and shown[1].data == table.concat(expected), "the image file is byte-exact")
  check(shown[1] and shown[1].base == system.TemporaryDirectory, "baseDirectory is the constant given")
end

-- 3. The reference's URL-encoding example (4th argument a string: no params).
do
  local json = require "json"

  function urlencode( str )
      if ( str ) then
          str = string.gsub( str, "\n", "\r\n" )
          str = string.gsub( str, "([^%w ])",
                function ( c ) return string.format ( "%%%02X", string.byte( c ) ) end )
          str = string.gsub( str, " ", "+" )
      end
      return str
  end

  local got
  function myNetworkListener( event )
      print( "myNetworkListener: "..json.encode( event, { indent=true } ) )
      got = event
  end

  addedText = "これはテストです"
  local paramFormat = "&parm3=".. urlencode( addedText )
  local request = BASE .. "/echo?parm1=1&parm2=2" .. paramFormat
  network.download( request, "GET", myNetworkListener, "result.txt", system.DocumentsDirectory )
  pump(function() return got ~= nil end)
  check(got and not got.isError and got.status == 200, "URL-encoding example succeeded")
  check(got and got.response.filename == "result.txt", "response.filename")
  local saved = read(system.pathForFile("result.txt", system.DocumentsDirectory)) or ""
  check(saved:find(paramFormat:gsub("%%", "%%%%"), 1, false) ~= nil, "server got the encoded text: " .. saved)
end

-- 4. The binding's other promises.
do
  -- A 404 is not an error; the error body is the response; no file.
  local ev
  network.download(BASE .. "/status/404", "GET", function(e) ev = e end, "missing.bin")
  pump(function() return ev ~= nil end)
  check(ev and ev.isError == false and ev.status == 404 and ev.response == "status 404", "404 is a status")
  check(read(system.pathForFile("missing.bin")) == nil, "404 writes no file")

  -- requestId is the handle; request() gives the body; headers and body go out.
  local rev
  local h = network.request(BASE .. "/echo", "POST", function(e) rev = e end,
    { headers = { ["X-Lua"] = "yes" }, body = "a=1&b=2" })
  pump(function() return rev ~= nil end)
  check(rev and rev.requestId == h, "event.requestId is the handle")
  check(rev and rev.responseType == "text" and rev.response:find('"X-Lua": "yes"', 1, true), "headers sent")
  check(rev and rev.response:find('"body": "a=1&b=2"', 1, true), "body sent")
  check(rev and rev.responseHeaders["Content-Type"] == "application/json", "responseHeaders")

  -- Cancel: the listener is never called again.
  local calls = 0
  local slow = network.download(BASE .. "/slow/100000?ms=20", "GET", function() calls = calls + 1 end,
    { progress = true }, "slow.bin")
  pump(function() return calls > 0 end)
  check(network.cancel(slow) == true, "cancel of a live request returns true")
  local before, done = calls, false
  network.download(BASE .. "/bytes/10", "GET", function(e) done = e.phase == "ended" end, "after.bin")
  pump(function() return done end)
  check(calls == before, "no event after cancel")
  check(network.cancel(slow) == false, "second cancel returns false")

  -- ResourceDirectory and bad URLs arrive as isError events.
  local rerr, berr
  network.download(BASE .. "/bytes/10", "GET", function(e) rerr = e end, "x.bin", system.ResourceDirectory)
  network.download("ftp://127.0.0.1/x", "GET", function(e) berr = e end, "x.bin")
  pump(function() return rerr ~= nil and berr ~= nil end)
  check(rerr and rerr.isError and rerr.status == -1 and rerr.errorCode == "NET_ERROR_INVALID_ARGUMENT",
    "ResourceDirectory is an isError event")
  check(berr and berr.isError and berr.errorCode == "NET_ERROR_UNSUPPORTED_SCHEME", "ftp is an isError event")

  -- Wrong argument types raise Lua errors, as in the reference.
  local function raises(f, what) check(not pcall(f), what .. " raises") end
  raises(function() network.download(42, "GET", function() end, "f") end, "non-string url")
  raises(function() network.download("http://x/", "GET", "not a function", "f") end, "bad listener")
  raises(function() network.request("http://x/", "GET", function() end, 7) end, "non-table params")
  raises(function() network.download("http://x/", "GET", function() end, "f", "Documents") end, "bad directory")
  raises(function() network.request("http://x/", "GET", function() end, { bodyType = "xml" }) end, "bad bodyType")
  raises(function() network.cancel("nope") end, "bad handle")
  check(system.pathForFile("a/b.txt", system.DocumentsDirectory) == DIR .. "/docs/a/b.txt", "pathForFile")
end

-- 5. Argument errors are raised at the caller's line.
do
  local function line() return debug.getinfo(2, "l").currentline end
  local function at(where, f, text)
    local ok, err = pcall(f)
    err = tostring(err)
    check(not ok and err:find("run.lua:" .. where .. ": ", 1, true) and err:find(text, 1, true),
      "error at run.lua:" .. where .. " saying '" .. text .. "', got: " .. err)
  end
  local f = function() end
  at(line(), function() network.download(42, "GET", f, "x") end, "url must be a string")
  at(line(), function() network.download("http://x/", "GET", f, "x", "Documents") end, "baseDirectory must be")
  at(line(), function() network.request("http://x/", "GET", f, { headers = 1 }) end, "params.headers must be")
  at(line(), function() network.request("http://x/", "GET", f, { body = { filename = "a", baseDirectory = 1 } }) end,
    "params.body.baseDirectory must be")
  at(line(), function() network.request("http://x/", "GET", f, { timeout = 0.5 }) end, "params.timeout must be")
  at(line(), function() network.request("http://x/", "GET", f, { progress = "sideways" }) end, "params.progress must be")
  at(line(), function() network.request("http://x/", "GET", f, { maxRedirects = 0 }) end, "params.maxRedirects must be")
  at(line(), function() network.request("http://x/", "GET", f, { maxBody = 1.5 }) end, "params.maxBody must be")
  at(line(), function() network.request("http://x/", "GET", f, { caFile = 5 }) end, "params.caFile must be")
  at(line(), function() network.request("http://x/", "GET", f, { handleRedirects = "no" }) end, "params.handleRedirects")
  at(line(), function() network.request("http://x/", "GET", f, { maxRetries = -1 }) end, "params.maxRetries must be")
  at(line(), function() network.request("http://x/", "GET", f, { retryDelay = 0 }) end, "params.retryDelay must be")
  at(line(), function() network.request("http://x/", "GET", f, { retryMaxDelay = 0.5 }) end, "params.retryMaxDelay must be")
  at(line(), function() network.request("http://x/", "GET", f, { expectedSize = 0 }) end, "params.expectedSize must be")
  at(line(), function() network.request("http://x/", "GET", f, { sha256 = 1 }) end, "params.sha256 must be")
  at(line(), function() network.request("http://x/", "GET", f, { mirrors = "http://y/" }) end, "params.mirrors must be")
  at(line(), function() network.request("http://x/", "GET", f, { mirrors = { "http://y/", 2 } }) end, "params.mirrors[2] must be")
  at(line(), function() network.request("http://x/", "GET", f, { proxy = false }) end, "params.proxy must be")
  at(line(), function() network.request("http://x/", "GET", f, { compress = 1 }) end, "params.compress must be")
  at(line(), function() network.request("http://x/", "GET", f, { keepPartial = "yes" }) end, "params.keepPartial must be")
  at(line(), function() network.request("http://x/", "GET", f, { ifChanged = 0 }) end, "params.ifChanged must be")
  at(line(), function() network.request("http://x/", "GET", f, { segments = 1.5 }) end, "params.segments must be")
  at(line(), function() network.setLimits(0, 1) end, "maxTransfers must be")
  at(line(), function() network.setLimits(1) end, "maxPerHost must be")
  at(line(), function() network.setAppName("a/b") end, "one non-empty path component")
  at(line(), function() network.setErrorHandler(7) end, "error handler must be")
  at(line(), function() system.pathForFile(7) end, "filename must be a string")
  at(line(), function() network.poll(-1) end, "wait_ms must be")
  at(line(), function() network.cancel("nope") end, "handle must be")
end

-- The loopback server accepts few connections at once (listen backlog 5):
-- from here on, requests share 4 kept-alive connections.
network.setLimits(4, 4)

-- 6. A listener that raises does not stop the others; its error goes to the
--    error handler after the whole batch was delivered.
do
  local n, log, handled, names = 8, {}, {}, {}
  local raise_line
  network.setErrorHandler(function(msg, ev) log[#log + 1] = "handler"; handled[#handled + 1] = { msg, ev } end)
  for i = 1, n do
    names[i] = system.pathForFile("batch/" .. i .. ".bin")
    network.download(BASE .. "/bytes/" .. (100 + i), "GET", function(e)
      log[#log + 1] = i
      raise_line = debug.getinfo(1, "l").currentline + 1
      if #log == 1 then error("boom " .. i) end
      if #log == 3 then error({ code = 3 }) end
    end, "batch/" .. i .. ".bin")
  end
  wait_for_files(names)
  network.poll()
  local first_handler = #log + 1
  for k, v in ipairs(log) do if v == "handler" then first_handler = k break end end
  check(first_handler > 3 and #log == first_handler + 1 and log[#log] == "handler",
    "every listener of the batch ran before the two reports: " .. table.concat(log, ","))
  local msg, ev = handled[1] and handled[1][1], handled[1] and handled[1][2]
  check(type(msg) == "string" and msg:find("run.lua:" .. raise_line .. ": boom", 1, true)
    and msg:find("stack traceback", 1, true), "message names the line and has a traceback: " .. tostring(msg))
  check(ev and ev.phase == "ended" and ev.name == "networkRequest", "the handler gets the event")
  check(handled[2] and type(handled[2][1]) == "table" and handled[2][1].code == 3, "a non-string error is passed as is")
  pump(function() local c = 0 for _, v in ipairs(log) do if v ~= "handler" then c = c + 1 end end return c == n end)
  local seen = {}
  for _, v in ipairs(log) do if v ~= "handler" then seen[v] = (seen[v] or 0) + 1 end end
  local once = true
  for i = 1, n do once = once and seen[i] == 1 end
  check(once, "each listener called once: " .. table.concat(log, ","))

  -- The default handler prints; nil restores it.
  network.setErrorHandler(nil)
  local printed = {}
  local real_print = print
  print = function(...) printed[#printed + 1] = table.concat({ ... }, " ") end
  one(function(l) network.request(BASE .. "/bytes/1", "GET", function(e) l(e) error("printed boom") end) end)
  print = real_print
  check(printed[1] and printed[1]:find("printed boom", 1, true), "default handler prints: " .. tostring(printed[1]))
end

-- 7. A listener may poll again: events still arrive once each, in order.
do
  local n, order, names, reentered = 6, {}, {}, false
  for i = 1, n do
    names[i] = system.pathForFile("nested/" .. i .. ".bin")
    network.download(BASE .. "/bytes/" .. (200 + i), "GET", function(e)
      order[#order + 1] = i .. e.phase
      if not reentered then
        reentered = true
        network.poll()
        network.poll(0)
      end
    end, { progress = true }, "nested/" .. i .. ".bin")
  end
  wait_for_files(names)
  pump(function() local c = 0 for _, v in ipairs(order) do if v:find("ended") then c = c + 1 end end return c == n end)
  local ok = reentered
  for i = 1, n do
    local mine = {}
    for _, v in ipairs(order) do if v:match("^(%d+)") == tostring(i) then mine[#mine + 1] = v:sub(#tostring(i) + 1) end end
    local s = table.concat(mine, ",")
    ok = ok and s:match("^began,[progres,]*ended$") ~= nil
  end
  check(ok, "each request: began, progress..., ended: " .. table.concat(order, " "))
end

-- 8. setLimits: with one transfer at a time, requests run one after another.
do
  network.setLimits(1, 1)
  local order, ended = {}, 0
  for i = 1, 3 do
    network.download(BASE .. "/slow/3072?ms=30", "GET", function(e)
      order[#order + 1] = i
      if e.phase == "ended" then ended = ended + 1 end
    end, { progress = true }, "seq" .. i .. ".bin")
  end
  pump(function() return ended == 3 end)
  network.setLimits(4, 4)
  local done, current, contiguous = {}, nil, ended == 3
  for _, i in ipairs(order) do
    if i ~= current then
      if done[i] then contiguous = false end
      if current then done[current] = true end
      current = i
    end
  end
  check(contiguous, "one request at a time: " .. table.concat(order, ","))
end

-- 9. setAppName names the default directories.
do
  network.setAppName("netdl-lua-test")
  check(system.pathForFile("x", system.CachesDirectory):match("/netdl%-lua%-test/x$"),
    "CachesDirectory: " .. system.pathForFile("x", system.CachesDirectory))
end

-- 10. The other params reach netdl.
do
  local function req(path, params, method)
    return one(function(l) network.request(BASE .. path, method or "GET", l, params) end)
  end
  local e = req("/redirect/1", { handleRedirects = false })
  check(not e.isError and e.status == 302, "handleRedirects = false reports the 302")
  e = req("/redirect/3", { maxRedirects = 2 })
  check(e.isError and e.errorCode == "NET_ERROR_TOO_MANY_REDIRECTS", "maxRedirects = 2 stops /redirect/3")
  e = req("/redirect/3", { maxRedirects = 3 })
  check(not e.isError and e.response == "done", "maxRedirects = 3 follows /redirect/3")
  e = req("/bytes/1000", { maxBody = 999 })
  check(e.isError and e.errorCode == "NET_ERROR_TOO_LARGE", "maxBody = 999 refuses 1000 bytes")
  e = req("/bytes/1000", { maxBody = 1000 })
  check(not e.isError and #e.response == 1000, "maxBody = 1000 accepts 1000 bytes")
  e = req("/slow/10000?ms=1500", { timeout = 1 })
  check(e.isError and e.errorCode == "NET_ERROR_TIMEOUT", "timeout = 1 ends a 1.5 s stall")

  local tls = one(function(l) network.request(TLS .. "/", "GET", l, { caFile = CA }) end)
  check(not tls.isError and tls.status == 200 and tls.response == "secure", "caFile trusts the test server")
  tls = one(function(l) network.request(TLS .. "/", "GET", l) end)
  check(tls.isError and tls.errorCode == "NET_ERROR_TLS", "without caFile the test server is refused")

  -- A body file from a base directory, labelled binary.
  local f = assert(io.open(system.pathForFile("upload.txt", system.TemporaryDirectory), "wb"))
  f:write("from a file")
  f:close()
  e = req("/echo", { body = { filename = "upload.txt", baseDirectory = system.TemporaryDirectory }, bodyType = "binary" }, "POST")
  check(e.response and e.response:find('"body": "from a file"', 1, true)
    and e.response:find('"Content-Type": "application/octet-stream"', 1, true), "body file and bodyType")

  -- Upload progress: began and progress count the request body sent.
  local body, events = string.rep("u", 1048576), {}
  network.request(BASE .. "/echo", "POST", function(ev) events[#events + 1] = ev end, { body = body, progress = "upload" })
  pump(function() return #events > 0 and events[#events].phase == "ended" end)
  local ok, sent = #events >= 2 and events[1].phase == "began", 0
  for i = 1, #events - 1 do
    local ev = events[i]
    ok = ok and ev.bytesEstimated == #body and ev.bytesTransferred >= sent and ev.bytesTransferred <= #body
    sent = ev.bytesTransferred
  end
  local last = events[#events] or {}
  check(ok and last.status == 200 and last.response:find('"body": "uuuu', 1, true), "upload progress")
end

-- 11. Each loaded copy of the module polls its own queue: this one never
--     takes (and drops) the events of another.
do
  local other = assert(loadfile(here .. "../network.lua"))()
  check(other ~= network, "a second copy of the module")
  local theirs, mine
  other.download(BASE .. "/bytes/9", "GET", function(e) theirs = e end, "other.bin")
  wait_for_files({ system.pathForFile("other.bin") })
  network.request(BASE .. "/bytes/5", "GET", function(e) mine = e end)
  pump(function() return mine ~= nil end)
  check(mine and mine.status == 200 and theirs == nil, "this copy's poll delivers only its events")
  other.poll(5000)
  check(theirs and theirs.status == 200 and theirs.response.filename == "other.bin", "the other copy gets its event")
end

-- 12. The net_options params: integrity, retries, mirrors, bad values.
do
  -- A port on 127.0.0.1 that refuses connections: bound, never listening.
  ffi.cdef [[
struct lua_sockaddr_in { uint16_t family; uint8_t port[2]; uint8_t addr[4]; uint8_t zero[8]; };
int socket(int domain, int type, int protocol);
int bind(int fd, const struct lua_sockaddr_in *addr, uint32_t len);
int getsockname(int fd, struct lua_sockaddr_in *addr, uint32_t *len);
int close(int fd);
]]
  local fd = ffi.C.socket(2, 1, 0) -- AF_INET, SOCK_STREAM
  local sa = ffi.new("struct lua_sockaddr_in", { family = 2, addr = { 127, 0, 0, 1 } })
  local len = ffi.new("uint32_t[1]", ffi.sizeof(sa))
  assert(fd >= 0 and ffi.C.bind(fd, sa, len[0]) == 0 and ffi.C.getsockname(fd, sa, len) == 0)
  local REFUSED = string.format("http://127.0.0.1:%d", sa.port[0] * 256 + sa.port[1])

  local function dl(url, name, params)
    return one(function(l) network.download(url, "GET", l, params, name) end)
  end
  local size, expected = 100000, {}
  for i = 0, size - 1 do expected[#expected + 1] = string.char(i % 251) end
  expected = table.concat(expected)
  local ref = system.pathForFile("opt/ref.bin")
  os.execute("mkdir -p " .. DIR .. "/docs/opt")
  local f = assert(io.open(ref, "wb"))
  f:write(expected)
  f:close()
  local p = assert(io.popen("sha256sum " .. ref))
  local sum = p:read("*a"):match("^(%x+)")
  p:close()
  check(sum and #sum == 64, "sha256sum of the expected bytes")
  local wrong = (sum:sub(1, 1) == "0" and "1" or "0") .. sum:sub(2)

  local e = dl(BASE .. "/bytes/" .. size, "opt/sum.bin", { sha256 = wrong })
  check(e.isError and e.errorCode == "NET_ERROR_INTEGRITY", "a wrong sha256 is NET_ERROR_INTEGRITY: " .. tostring(e.errorCode))
  check(read(system.pathForFile("opt/sum.bin")) == nil, "a wrong sha256 leaves no file")
  e = dl(BASE .. "/bytes/" .. size, "opt/sum.bin", { sha256 = sum })
  check(not e.isError and e.status == 200 and read(system.pathForFile("opt/sum.bin")) == expected,
    "the right sha256 gives the file byte-exact")
  check(e.attempt == 1 and e.bytesReceived == size and e.unchanged == false and e.resumed == false,
    "attempt 1, bytesReceived, no flags")
  e = dl(BASE .. "/bytes/1000", "opt/size.bin", { expectedSize = 999 })
  check(e.isError and e.errorCode == "NET_ERROR_INTEGRITY" and read(system.pathForFile("opt/size.bin")) == nil,
    "a wrong expectedSize is NET_ERROR_INTEGRITY")

  e = dl(REFUSED .. "/x", "opt/retry.bin", { maxRetries = 2, retryDelay = 10 })
  check(e.isError and e.errorCode == "NET_ERROR_CONNECT" and e.attempt == 3,
    "maxRetries = 2 ends at attempt 3 with the connect error: " .. tostring(e.errorCode) .. " " .. tostring(e.attempt))

  local mirror = BASE .. "/bytes/5000"
  e = dl(REFUSED .. "/x", "opt/mirror.bin", { mirrors = { mirror } })
  check(not e.isError and e.status == 200 and e.url == mirror and e.attempt == 2 and e.bytesReceived == 5000,
    "the mirror delivers when the main URL is refused: " .. tostring(e.url))
  check(read(system.pathForFile("opt/mirror.bin")) == expected:sub(1, 5000), "the mirror's file is byte-exact")

  for _, bad in ipairs({ { sha256 = "xyz" }, { maxRetries = 101 }, { mirrors = { "not a url" } }, { proxy = "http://a b" },
    { segments = 17 } }) do
    local k = next(bad)
    e = dl(BASE .. "/bytes/10", "opt/bad.bin", bad)
    check(e.isError and e.errorCode == "NET_ERROR_INVALID_ARGUMENT", "bad " .. k .. " is NET_ERROR_INVALID_ARGUMENT")
  end
  check(read(system.pathForFile("opt/bad.bin")) == nil, "bad options write no file")
  e = one(function(l) network.request(BASE .. "/bytes/10", "GET", l, { sha256 = sum }) end)
  check(e.isError and e.errorCode == "NET_ERROR_INVALID_ARGUMENT", "sha256 is for downloads only")
  e = one(function(l) network.request(BASE .. "/bytes/10", "GET", l, { segments = 2 }) end)
  check(e.isError and e.errorCode == "NET_ERROR_INVALID_ARGUMENT", "segments is for downloads only")

  -- An explicit proxy carries the request (this one refuses); "" means none.
  e = one(function(l) network.request(BASE .. "/bytes/10", "GET", l, { proxy = REFUSED }) end)
  check(e.isError and e.errorCode == "NET_ERROR_CONNECT", "the proxy is used")
  e = one(function(l) network.request(BASE .. "/bytes/10", "GET", l, { proxy = "" }) end)
  check(not e.isError and e.response == expected:sub(1, 10), 'proxy = "" goes direct')
  ffi.C.close(fd)
end

-- 13. segments = 2: an 8 MiB file (DIR/files, served under /files/ with
--     ranges and an ETag) comes over two connections: the first keeps the
--     first 4 MiB, a helper asks for the rest with a Range.
do
  local function sha256(path)
    local p = assert(io.popen("sha256sum " .. path))
    local sum = p:read("*a"):match("^(%x+)")
    p:close()
    return sum
  end
  local served = DIR .. "/files/big.bin"
  assert(os.execute("head -c 8388608 /dev/urandom > " .. served) == 0)
  local e = one(function(l) network.download(BASE .. "/files/big.bin", "GET", l, { segments = 2 }, "big.bin") end)
  check(not e.isError and e.status == 200, "segments = 2 download succeeds: " .. tostring(e.errorCode))
  local want = sha256(served)
  check(want and #want == 64 and sha256(system.pathForFile("big.bin")) == want, "segments = 2 file is byte-exact")
  e = one(function(l) network.request(BASE .. "/ranges/big.bin", "GET", l) end)
  check(e.response == "bytes=4194304-8388607\n", "the server saw the helper's one Range: " .. tostring(e.response))
end

-- 14. tag, priority, maxSpeed and persist; suspend/resume, restore,
--     setPriority and setMaxSpeed.
do
  -- The tag is in every event of a download and of a request.
  local events, tag = {}, "level-3/pack \xC3\xA9"
  network.download(BASE .. "/bytes/300000", "GET", function(e) events[#events + 1] = e end,
    { progress = true, tag = tag }, "tag.bin")
  pump(function() return #events > 0 and events[#events].phase == "ended" end)
  local all = #events >= 2 and events[1].phase == "began" and not events[#events].isError
  for _, e in ipairs(events) do all = all and e.tag == tag and e.restored == false end
  check(all, "the tag is in every event of a download (" .. #events .. " events)")
  events = {}
  network.request(BASE .. "/bytes/10", "GET", function(e) events[#events + 1] = e end, { progress = true, tag = "req" })
  pump(function() return #events > 0 and events[#events].phase == "ended" end)
  all = #events >= 2
  for _, e in ipairs(events) do all = all and e.tag == "req" end
  check(all and events[#events].status == 200, "the tag is in every event of a request")
  local e = one(function(l) network.request(BASE .. "/bytes/10", "GET", l) end)
  check(e.status == 200 and e.tag == nil, "no tag: event.tag is nil")

  -- A tag of 1024 bytes passes; one more is refused by netdl.
  e = one(function(l) network.download(BASE .. "/bytes/10", "GET", l, { tag = string.rep("x", 1024) }, "tag1024.bin") end)
  check(not e.isError and e.tag == string.rep("x", 1024), "a 1024-byte tag passes")
  e = one(function(l) network.download(BASE .. "/bytes/10", "GET", l, { tag = string.rep("x", 1025) }, "tag1025.bin") end)
  check(e.isError and e.errorCode == "NET_ERROR_INVALID_ARGUMENT" and e.response:find("tag", 1, true)
    and read(system.pathForFile("tag1025.bin")) == nil, "a 1025-byte tag is NET_ERROR_INVALID_ARGUMENT")
  -- persist is for downloads only.
  e = one(function(l) network.request(BASE .. "/bytes/10", "GET", l, { persist = true }) end)
  check(e.isError and e.errorCode == "NET_ERROR_INVALID_ARGUMENT"
    and e.response:find("persist applies to downloads only", 1, true), "persist on a request: " .. tostring(e.response))
  -- priority and maxSpeed reach netdl (a download with both completes).
  e = one(function(l)
    network.download(BASE .. "/bytes/1000", "GET", l, { priority = -3, maxSpeed = 1048576 }, "prio.bin")
  end)
  check(not e.isError and e.status == 200
    and read(system.pathForFile("prio.bin")) == read(system.pathForFile("opt/ref.bin")):sub(1, 1000),
    "priority and maxSpeed: the download completes byte-exact")

  -- Values Lua cannot pass raise.
  local function raises(f, text)
    local ok, err = pcall(f)
    check(not ok and tostring(err):find(text, 1, true), "raises '" .. text .. "': " .. tostring(err))
  end
  local f = function() end
  raises(function() network.request("http://x/", "GET", f, { priority = 2 ^ 31 }) end, "params.priority must be")
  raises(function() network.request("http://x/", "GET", f, { priority = 0.5 }) end, "params.priority must be")
  raises(function() network.request("http://x/", "GET", f, { maxSpeed = -1 }) end, "params.maxSpeed must be")
  raises(function() network.request("http://x/", "GET", f, { tag = 1 }) end, "params.tag must be a string")
  raises(function() network.request("http://x/", "GET", f, { tag = "a\0b" }) end, "params.tag must not contain")
  raises(function() network.request("http://x/", "GET", f, { persist = "yes" }) end, "params.persist must be")
  raises(function() network.setPriority("nope", 1) end, "handle must be")
  raises(function() network.setPriority(1, 2 ^ 31) end, "priority must be")
  raises(function() network.setMaxSpeed(-1) end, "bytesPerSecond must be")

  -- restore with an empty journal starts nothing; it needs a listener.
  network.setDirectory(system.ApplicationSupportDirectory, DIR .. "/support")
  check(network.restore(f) == 0 and network.restore(f) == 0, "restore of an empty journal returns 0")
  raises(function() network.restore() end, "listener must be a function")

  -- setPriority: true for a queued request, false for unknown and ended ones.
  network.setLimits(1, 1)
  local slow_end, queued_end
  network.request(BASE .. "/slow/20480?ms=20", "GET", function(ev) if ev.phase == "ended" then slow_end = ev end end)
  local queued = network.request(BASE .. "/bytes/10", "GET", function(ev) queued_end = ev end, { priority = 1 })
  check(network.setPriority(queued, 5) == true, "setPriority of a queued request is true")
  check(network.setPriority(2 ^ 52, 1) == false and network.setPriority(0, 1) == false,
    "setPriority of unknown ids is false")
  network.setLimits(4, 4)
  pump(function() return slow_end ~= nil and queued_end ~= nil end)
  check(slow_end and #slow_end.response == 20480 and queued_end and #queued_end.response == 10, "both complete")
  check(network.setPriority(queued, 1) == false, "setPriority of an ended request is false")

  -- setMaxSpeed(0): no cap.
  network.setMaxSpeed(0)
  e = one(function(l) network.request(BASE .. "/bytes/1000", "GET", l) end)
  check(e.status == 200 and #e.response == 1000, "setMaxSpeed(0) is accepted")

  -- suspend / resume: a 3 MiB download at 4 MiB/s, suspended once bytes flow.
  ffi.cdef [[
struct lua_timespec { long sec; long nsec; };
int clock_gettime(int clock, struct lua_timespec *ts);
]]
  local ts = ffi.new("struct lua_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.sec) * 1000 + tonumber(ts.nsec) / 1e6
  end
  local served = DIR .. "/files/suspend.bin"
  assert(os.execute("head -c 3145728 /dev/urandom > " .. served) == 0)
  events = {}
  network.download(PACED .. "/files/suspend.bin", "GET", function(ev) events[#events + 1] = ev end,
    { progress = true, tag = "s" }, "suspend.bin")
  local function flowing()
    for _, ev in ipairs(events) do if ev.phase == "progress" and ev.bytesTransferred > 0 then return true end end
    return false
  end
  local function ended()
    for _, ev in ipairs(events) do if ev.phase == "ended" then return ev end end
    return nil
  end
  pump(flowing)
  network.suspend()
  check(flowing() and not ended(), "bytes flow before the suspend")
  local until_ms = now_ms() + 300 -- absence of an ended event, over a short bounded time
  while now_ms() < until_ms do network.poll(math.max(0, math.floor(until_ms - now_ms()))) end
  check(not ended(), "no ended event while suspended")
  network.resume()
  pump(function() return ended() ~= nil end)
  e = ended() or {}
  check(not e.isError and e.status == 200 and e.tag == "s" and e.resumed, "the download completes after resume")
  check(read(system.pathForFile("suspend.bin")) == read(served), "the resumed file is byte-exact")
  e = one(function(l) network.request(PACED .. "/ranges/suspend.bin", "GET", l) end)
  local from = tonumber((e.response or ""):match("^bytes=(%d+)%-\n$"))
  check(from and from > 0 and from < 3145728, "it continued with one Range where its data ended: " .. tostring(e.response))

  -- restore(listener): a second LuaJIT starts a persisted, tagged 4 MiB
  -- download from the paced server and is killed (SIGKILL) once 1.5 MiB
  -- arrived; this one restores it with a listener, which gets its events
  -- from network.poll().
  ffi.cdef "int kill(int pid, int sig);"
  local support, docs = DIR .. "/restore-support", DIR .. "/restore-docs"
  served = DIR .. "/files/restored.bin"
  assert(os.execute("head -c 4194304 /dev/urandom > " .. served) == 0)
  local child = io.popen(string.format("exec luajit %spersist_child.lua %s %s %s/files/restored.bin",
    here, support, docs, PACED))
  local line = child:read("*l") or ""
  local pid, got = line:match("^(%d+) (%d+)$")
  check(pid and tonumber(got) < 4194304, "the first run got part of the file: " .. line)
  if pid then check(ffi.C.kill(tonumber(pid), 9) == 0, "the first run is killed") end
  child:close()
  network.setDirectory(system.ApplicationSupportDirectory, support)
  network.setDirectory(system.DocumentsDirectory, docs)
  events = {}
  check(network.restore(function(ev) events[#events + 1] = ev end) == 1, "restore returns 1")
  pump(function() return ended() ~= nil end)
  local began, last = events[1] or {}, events[#events] or {}
  check(began.phase == "began" and began.restored and began.tag == "pack-7" and began.status == -1,
    "the restored download's first event is a began, restored, with its tag")
  all = #events >= 2
  for _, ev in ipairs(events) do
    all = all and ev.requestId == began.requestId and ev.restored and ev.tag == "pack-7"
  end
  check(all, "every event of it has its id, restored and the tag (" .. #events .. " events)")
  check(last.phase == "ended" and not last.isError and last.status == 200 and type(last.response) == "table"
    and last.response.filename == "restored.bin" and last.response.baseDirectory == system.DocumentsDirectory,
    "the restored download ends with its file: " .. tostring(last.response))
  check(read(docs .. "/restored.bin") == read(served), "the restored file is byte-exact")
  local listing = io.popen("ls -A " .. docs):read("*a")
  check(listing == "restored.bin\n", "no partial file is left: " .. listing)
  -- It continued the data the journal claimed (a Range from there), or
  -- started over when it had claimed none yet.
  e = one(function(l) network.request(PACED .. "/ranges/restored.bin", "GET", l) end)
  if began.bytesTransferred and began.bytesTransferred > 0 then
    check(e.response == "bytes=" .. began.bytesTransferred .. "-\n" and last.resumed,
      "it continued with a Range from the began's bytesTransferred: " .. tostring(e.response))
  else
    check(e.response == "", "it started over: " .. tostring(e.response))
  end
  check(network.restore(f) == 0, "its record went when it ended")
  network.setDirectory(system.DocumentsDirectory, DIR .. "/docs")
end

network.shutdown()
print(string.format("%s: %d checks, %d failure(s)", failures == 0 and "ok" or "FAILED", checks, failures))
os.exit(failures == 0 and 0 or 1)
