-- Tests of bindings/lua/network.lua:  luajit tests/run.lua BASE_URL DIRECTORY
-- Runs the reference page's two examples unchanged (but for the URLs, and a
-- `display` stand-in), then checks the binding's other promises.
local here = arg[0]:match("(.*/)") or "./"
package.path = here .. "../?.lua;" .. here .. "?.lua;" .. package.path
local BASE, DIR = arg[1], arg[2]
assert(BASE and DIR, "usage: luajit tests/run.lua BASE_URL DIRECTORY")

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

-- 1. The layout network.lua declares matches include/netdl.h: a second
--    LuaJIT cdefs the header itself and prints the same sizes and offsets.
do
  local mine = require("layout")(require("ffi"))
  local p = io.popen(string.format("luajit %slayout.lua %s../../../include/netdl.h 2>&1", here, here))
  local theirs = p:read("*a"):gsub("%s+$", "")
  p:close()
  check(mine:find("net_event=192", 1, true) and mine == theirs, "cdef layout matches netdl.h:\n  lua:    " .. mine .. "\n  header: " .. theirs)
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

network.shutdown()
print(string.format("%s: %d checks, %d failure(s)", failures == 0 and "ok" or "FAILED", checks, failures))
os.exit(failures == 0 and 0 or 1)
