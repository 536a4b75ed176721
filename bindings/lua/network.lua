-- network.lua: the Solar2D-style `network` API for LuaJIT, over netdl's C ABI
-- (FFI only, no C glue).
--
--   local network = require "network"
--   local system = network.system
--   network.download(url, "GET", listener, {progress = true}, "file.png", system.TemporaryDirectory)
--   -- each frame:
--   network.poll()
--
-- The library is found through $NETDL_LIB (its full path), else the system
-- linker path. Each loaded copy of this module has its own netdl event
-- queue: it never takes the events of C code, of another binding or of
-- another Lua state in the same process (the queue is freed, and its live
-- requests cancelled, when the module is garbage-collected or its Lua state
-- closed).
--
-- Listeners are called from network.poll(), on the caller's thread. Each
-- runs protected: one that raises does not stop the others; its error
-- (with a traceback) goes to the error handler (network.setErrorHandler)
-- once every event of that poll was delivered.
--
-- As in the reference, wrong argument types raise a Lua error, reported at
-- the caller's line; everything else (bad URL, network failure,
-- ResourceDirectory) arrives as an event with isError = true.
local ffi = require "ffi"
local bit = require "bit"

-- Keep in sync with include/netdl.h (bindings/lua/tests/layout.lua checks
-- the layout against the header). Declared once per LuaJIT state, so the
-- module may be loaded more than once.
if not pcall(ffi.typeof, "net_params") then
  ffi.cdef [[
typedef struct net_queue net_queue;
typedef uint64_t net_id;
typedef struct net_header { const char *name; const char *value; } net_header;
typedef uint8_t net_bool;
typedef uint32_t net_body_type;
typedef uint32_t net_dir;
typedef uint32_t net_progress;
typedef struct net_options {
  uint32_t size;
  uint32_t max_retries;
  uint32_t retry_delay_ms;
  uint32_t retry_max_delay_ms;
  uint64_t expected_size;
  const char *sha256;
  const char *const *mirrors;
  size_t mirror_count;
  const char *proxy;
  net_bool compress;
  net_bool keep_partial;
  net_bool if_changed;
  uint8_t reserved8;
  uint32_t segments;
  int32_t priority;
  net_bool persist;
  uint8_t reserved24[3];
  uint64_t max_speed;
  const char *tag;
} net_options;
typedef struct net_params {
  const struct net_header *headers;
  size_t header_count;
  const void *body;
  size_t body_len;
  uint32_t timeout;
  net_bool progress;
  void *user_data;
  net_body_type body_type;
  const char *body_file;
  net_dir body_file_dir;
  net_bool no_redirects;
  uint32_t max_redirects;
  const char *ca_file;
  uint64_t max_body;
  struct net_queue *queue;
  net_progress progress_of;
  uint32_t reserved32;
  const struct net_options *options;
  uint64_t reserved[5];
} net_params;
typedef uint32_t net_phase;
typedef uint32_t net_error;
typedef uint32_t net_response_type;
typedef uint32_t net_event_flags;
typedef struct net_event {
  net_id id;
  void *user_data;
  net_phase phase;
  bool is_error;
  net_error error_code;
  const char *error;
  int32_t status;
  int64_t bytes_transferred;
  int64_t bytes_estimated;
  const char *url;
  const struct net_header *headers;
  size_t header_count;
  const char *path;
  const void *body;
  size_t body_len;
  net_response_type response_type;
  net_dir base_dir;
  const char *filename;
  uint32_t attempt;
  net_event_flags flags;
  int64_t bytes_received;
  const char *tag;
  uint64_t reserved[5];
} net_event;
net_id net_download(const char *url, const char *method, const struct net_params *params,
                    const char *filename, net_dir base_dir);
net_id net_request(const char *url, const char *method, const struct net_params *params);
bool net_cancel(net_id id);
struct net_queue *net_queue_create(void);
void net_queue_destroy(struct net_queue *q);
size_t net_queue_poll(struct net_queue *q, struct net_event *out, size_t capacity);
size_t net_queue_wait(struct net_queue *q, struct net_event *out, size_t capacity, uint32_t timeout_ms);
bool net_set_directory(net_dir dir, const char *path);
size_t net_get_directory(net_dir dir, char *buf, size_t capacity);
bool net_set_app_name(const char *name);
bool net_set_limits(uint32_t max_transfers, uint32_t max_per_host);
void net_suspend(void);
void net_resume(void);
size_t net_restore(void);
size_t net_queue_restore(struct net_queue *q);
bool net_set_priority(net_id id, int32_t priority);
void net_set_max_speed(uint64_t bytes_per_second);
void net_shutdown(void);
const char *net_version(void);
const char *net_error_name(net_error code);
]]
end

local C = ffi.load(os.getenv("NETDL_LIB") or "netdl")

local network = { _VERSION = ffi.string(C.net_version()) }

-- This module's event queue; every request names it.
local queue = ffi.gc(C.net_queue_create(), C.net_queue_destroy)

-- Raises `msg` at the app's line: the first caller outside this file.
local SOURCE = debug.getinfo(1, "S").source
local function argerror(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or info.source ~= SOURCE then break end
    level = level + 1
  end
  error(msg, level)
end

-- The base directories: opaque constants compared by identity, as in the reference.
local function dir_constant(name, value)
  return setmetatable({ value = value }, { __tostring = function() return name end })
end
local system = {
  DocumentsDirectory = dir_constant("DocumentsDirectory", 0),
  TemporaryDirectory = dir_constant("TemporaryDirectory", 1),
  CachesDirectory = dir_constant("CachesDirectory", 2),
  ApplicationSupportDirectory = dir_constant("ApplicationSupportDirectory", 3),
  ResourceDirectory = dir_constant("ResourceDirectory", 4),
}
local by_value = {}
for _, d in pairs(system) do by_value[d.value] = d end
network.system = system

local function check_dir(d, what)
  if type(d) ~= "table" or by_value[d.value] ~= d then
    argerror(what .. " must be one of the system.*Directory constants")
  end
  return d.value
end

-- A whole number in [min, max], or an error naming `what`.
local function check_int(v, what, min, max)
  if type(v) ~= "number" or v ~= math.floor(v) or v < min or v > max then
    argerror(string.format("%s must be a whole number from %d to %.0f", what, min, max))
  end
  return v
end
local U32 = 4294967295

local function dir_path(value)
  local n = C.net_get_directory(value, nil, 0)
  local buf = ffi.new("char[?]", n + 1)
  C.net_get_directory(value, buf, n + 1)
  return ffi.string(buf, n)
end

--- system.pathForFile(filename [, baseDirectory]): the full path of a file.
function system.pathForFile(filename, base)
  local value = check_dir(base or system.DocumentsDirectory, "baseDirectory")
  if filename == nil then return dir_path(value) end
  if type(filename) ~= "string" then argerror("filename must be a string") end
  return dir_path(value) .. "/" .. filename
end

--- network.setDirectory(system.XDirectory, path): overrides where it lives.
function network.setDirectory(base, path)
  local value = check_dir(base, "directory")
  if type(path) ~= "string" then argerror("path must be a string") end
  if not C.net_set_directory(value, path) then
    argerror("cannot set " .. tostring(base) .. " to " .. path .. " (it must be absolute)")
  end
end

--- network.setAppName(name): the application name the default directories
--- are made of (one path component; default "netdl").
function network.setAppName(name)
  if type(name) ~= "string" then argerror("name must be a string") end
  if not C.net_set_app_name(name) then
    argerror("cannot set the app name to '" .. name .. "' (it must be one non-empty path component)")
  end
end

--- network.setLimits(maxTransfers, maxPerHost): how many requests run at
--- once (default 64; the rest wait in a queue) and how many connections go
--- to one host (default 64). Both at least 1.
function network.setLimits(maxTransfers, maxPerHost)
  check_int(maxTransfers, "maxTransfers", 1, U32)
  check_int(maxPerHost, "maxPerHost", 1, U32)
  if not C.net_set_limits(maxTransfers, maxPerHost) then argerror("cannot set limits after shutdown") end
end

--- network.suspend(): pauses every transfer at once, for an app going to
--- the background (no byte moves, partial data is kept, queued requests do
--- not start); no listener is called while suspended except for requests
--- failing for local reasons. New requests wait. Idempotent.
function network.suspend()
  C.net_suspend()
end

--- network.resume(): ends network.suspend(); downloads continue where their
--- data ends, interrupted requests start again. Idempotent.
function network.resume()
  C.net_resume()
end

--- network.setMaxSpeed(bytesPerSecond): caps the receive rate of all
--- transfers together (0: no cap, the default); they share it by priority.
function network.setMaxSpeed(bytesPerSecond)
  C.net_set_max_speed(check_int(bytesPerSecond, "bytesPerSecond", 0, 2 ^ 53))
end

local listeners = {}   -- request id (number) -> { listener, is_download }
-- The listener of the network.restore() call under way, if any.
local restoring = nil

local function id_key(id) return tonumber(id) end

local progress_of = { [true] = 0, download = 0, upload = 1 }

local function check_string(v, what)
  if type(v) ~= "string" then argerror(what .. " must be a string") end
  return v
end

local function check_boolean(v, what)
  if type(v) ~= "boolean" then argerror(what .. " must be a boolean") end
  return v and 1 or 0
end

-- The net_options of the params table, or nil when none of its fields is
-- given (net_params.options stays NULL). What it points to goes in `keep`.
--   maxRetries     retries of a transient failure (default 0, at most 100)
--   retryDelay     base of the backoff, ms (default 1000)
--   retryMaxDelay  cap of the backoff, ms (default 30000)
--   expectedSize   the file's size in bytes   } else isError with
--   sha256         its SHA-256, 64 hex digits } errorCode "NET_ERROR_INTEGRITY"
--   mirrors        { url, ... } tried in order after url failed
--   proxy          "http://host:port", ...; "" for none (default: the environment)
--   compress, keepPartial, ifChanged   booleans (downloads only)
--   segments       fetch a large file over up to this many ranged connections
--                  at once (at most 16; 0 or 1: one; downloads only)
--   priority       higher starts first (default 0; negative is lower); queued
--                  requests start by priority, then in order (network.setPriority)
--   maxSpeed       largest receive rate of this request, bytes/s (0: none)
--   tag            a string of the app's choosing (at most 1024 bytes), echoed
--                  in every event's `tag`; it survives in the journal (persist)
--   persist        boolean: record the download in the journal so that
--                  network.restore() in a later run continues it (downloads only)
-- Values netdl checks itself (maxRetries at most 100, the sha256 digits,
-- the mirrors' URLs, segments at most 16, the tag's length) are passed as
-- given: a bad one is an isError event.
local function build_options(params, keep)
  local o = ffi.new("net_options")
  o.size = ffi.sizeof("net_options")
  local any = false
  if params.maxRetries ~= nil then
    o.max_retries = check_int(params.maxRetries, "params.maxRetries", 0, U32)
    any = true
  end
  -- In C, 0 means the default: "no delay" and "an empty file" cannot be asked for.
  if params.retryDelay ~= nil then
    o.retry_delay_ms = check_int(params.retryDelay, "params.retryDelay", 1, U32)
    any = true
  end
  if params.retryMaxDelay ~= nil then
    o.retry_max_delay_ms = check_int(params.retryMaxDelay, "params.retryMaxDelay", 1, U32)
    any = true
  end
  if params.expectedSize ~= nil then
    o.expected_size = check_int(params.expectedSize, "params.expectedSize", 1, 2 ^ 53)
    any = true
  end
  if params.sha256 ~= nil then
    o.sha256 = check_string(params.sha256, "params.sha256")
    keep[#keep + 1] = params.sha256
    any = true
  end
  if params.mirrors ~= nil then
    if type(params.mirrors) ~= "table" then argerror("params.mirrors must be an array of URLs") end
    local n = #params.mirrors
    local arr = ffi.new("const char *[?]", n)
    for i = 1, n do
      arr[i - 1] = check_string(params.mirrors[i], "params.mirrors[" .. i .. "]")
      keep[#keep + 1] = params.mirrors[i]
    end
    keep[#keep + 1] = arr
    o.mirrors, o.mirror_count = arr, n
    any = true
  end
  if params.proxy ~= nil then
    o.proxy = check_string(params.proxy, "params.proxy")
    keep[#keep + 1] = params.proxy
    any = true
  end
  if params.segments ~= nil then
    o.segments = check_int(params.segments, "params.segments", 0, U32)
    any = true
  end
  if params.priority ~= nil then
    o.priority = check_int(params.priority, "params.priority", -2147483648, 2147483647)
    any = true
  end
  if params.maxSpeed ~= nil then
    o.max_speed = check_int(params.maxSpeed, "params.maxSpeed", 0, 2 ^ 53)
    any = true
  end
  if params.tag ~= nil then
    o.tag = check_string(params.tag, "params.tag")
    if params.tag:find("\0", 1, true) then argerror("params.tag must not contain a NUL byte") end
    keep[#keep + 1] = params.tag
    any = true
  end
  for _, f in ipairs({ { "compress", "compress" }, { "keepPartial", "keep_partial" }, { "ifChanged", "if_changed" },
    { "persist", "persist" } }) do
    if params[f[1]] ~= nil then
      o[f[2]] = check_boolean(params[f[1]], "params." .. f[1])
      any = true
    end
  end
  if not any then return nil end
  keep[#keep + 1] = o
  return o
end

-- The one place a net_params is filled from the Lua params table; returns
-- it and what must stay alive until the C call returned.
local function build_params(params)
  local p = ffi.new("net_params")
  p.queue = queue
  local keep = {}
  if params == nil then return p, keep end
  if type(params) ~= "table" then argerror("params must be a table") end
  if params.headers ~= nil then
    if type(params.headers) ~= "table" then argerror("params.headers must be a table") end
    local list = {}
    for k, v in pairs(params.headers) do list[#list + 1] = { tostring(k), tostring(v) } end
    local arr = ffi.new("net_header[?]", #list)
    for i, kv in ipairs(list) do
      arr[i - 1].name, arr[i - 1].value = kv[1], kv[2]
    end
    keep[#keep + 1] = list
    keep[#keep + 1] = arr
    p.headers, p.header_count = arr, #list
  end
  local body = params.body
  if type(body) == "string" then
    p.body, p.body_len = body, #body
    keep[#keep + 1] = body
  elseif type(body) == "table" then
    if type(body.filename) ~= "string" then argerror("params.body.filename must be a string") end
    p.body_file = body.filename
    p.body_file_dir = check_dir(body.baseDirectory or system.DocumentsDirectory, "params.body.baseDirectory")
    keep[#keep + 1] = body.filename
  elseif body ~= nil then
    argerror("params.body must be a string or a {filename=, baseDirectory=} table")
  end
  if params.bodyType ~= nil then
    if params.bodyType == "text" then p.body_type = 1
    elseif params.bodyType == "binary" then p.body_type = 2
    else argerror('params.bodyType must be "text" or "binary"') end
  end
  if params.timeout ~= nil then
    if type(params.timeout) ~= "number" or params.timeout < 1 or params.timeout > U32 then
      argerror("params.timeout must be a number of seconds, at least 1")
    end
    p.timeout = math.floor(params.timeout + 0.5) -- netdl counts whole seconds
  end
  local progress = params.progress
  if progress ~= nil and progress ~= false then
    if progress_of[progress] == nil then argerror('params.progress must be true, "download" or "upload"') end
    p.progress = 1
    p.progress_of = progress_of[progress]
  end
  if params.handleRedirects ~= nil then
    if type(params.handleRedirects) ~= "boolean" then argerror("params.handleRedirects must be a boolean") end
    p.no_redirects = params.handleRedirects and 0 or 1
  end
  if params.maxRedirects ~= nil then p.max_redirects = check_int(params.maxRedirects, "params.maxRedirects", 1, U32) end
  if params.maxBody ~= nil then p.max_body = check_int(params.maxBody, "params.maxBody", 1, 2 ^ 53) end
  if params.caFile ~= nil then
    if type(params.caFile) ~= "string" then argerror("params.caFile must be a string") end
    p.ca_file = params.caFile
    keep[#keep + 1] = params.caFile
  end
  local options = build_options(params, keep)
  if options ~= nil then p.options = options end
  return p, keep
end

local function start(url, method, listener, params, filename, base)
  if type(url) ~= "string" then argerror("url must be a string") end
  if type(method) ~= "string" then argerror("method must be a string") end
  if type(listener) ~= "function" and not (type(listener) == "table" and listener.networkRequest) then
    argerror("listener must be a function or a table with a networkRequest method")
  end
  local response = type(params) == "table" and params.response or nil
  if filename == nil and response ~= nil then -- request with params.response: a download
    if type(response) ~= "table" or type(response.filename) ~= "string" then
      argerror("params.response must be {filename=, baseDirectory=}")
    end
    filename, base = response.filename, response.baseDirectory or system.DocumentsDirectory
  end
  local p, keep = build_params(params)
  local id
  if filename ~= nil then
    if type(filename) ~= "string" then argerror("filename must be a string") end
    id = C.net_download(url, method, p, filename, check_dir(base or system.DocumentsDirectory, "baseDirectory"))
  else
    id = C.net_request(url, method, p)
  end
  local _ = keep -- alive until here
  local key = id_key(id)
  if key ~= 0 then listeners[key] = { listener, filename ~= nil } end
  return key
end

--- network.download(url, method, listener [, params], filename [, baseDirectory])
function network.download(url, method, listener, params, filename, base)
  if type(params) == "string" then -- params left out
    params, filename, base = nil, params, filename
  end
  if filename == nil then argerror("filename must be a string") end
  return start(url, method, listener, params, filename, base)
end

--- network.request(url, method, listener [, params])
function network.request(url, method, listener, params)
  return start(url, method, listener, params, nil, nil)
end

--- network.cancel(handle): true if the request was still live. Its listener
--- is never called again.
function network.cancel(handle)
  if type(handle) ~= "number" then argerror("handle must be a request handle") end
  listeners[handle] = nil
  return C.net_cancel(handle)
end

--- network.setPriority(handle, priority): a queued request moves to its new
--- place; a running one changes its share of a bandwidth cap. True when the
--- request is queued or running, false otherwise.
function network.setPriority(handle, priority)
  if type(handle) ~= "number" then argerror("handle must be a request handle") end
  check_int(priority, "priority", -2147483648, 2147483647)
  return C.net_set_priority(handle, priority)
end

local phases = { [0] = "began", [1] = "progress", [2] = "ended" }

local function to_event(e, is_download)
  local headers = {}
  for i = 0, tonumber(e.header_count) - 1 do
    headers[ffi.string(e.headers[i].name)] = ffi.string(e.headers[i].value)
  end
  local status = e.status ~= 0 and e.status or -1 -- the reference's "no response"
  local event = {
    name = "networkRequest",
    phase = phases[e.phase],
    isError = e.is_error,
    status = status,
    requestId = id_key(e.id),
    url = ffi.string(e.url),
    responseHeaders = headers,
    responseType = e.response_type == 0 and "text" or "binary",
    bytesTransferred = tonumber(e.bytes_transferred),
    bytesEstimated = tonumber(e.bytes_estimated),
    bytesReceived = tonumber(e.bytes_received),
    attempt = tonumber(e.attempt),
    unchanged = bit.band(e.flags, 1) ~= 0, -- NET_EVENT_UNCHANGED
    resumed = bit.band(e.flags, 2) ~= 0,   -- NET_EVENT_RESUMED
    restored = bit.band(e.flags, 4) ~= 0,  -- NET_EVENT_RESTORED
    tag = e.tag ~= nil and ffi.string(e.tag) or nil,
  }
  if e.is_error then
    event.response = ffi.string(e.error)
    event.errorCode = ffi.string(C.net_error_name(e.error_code))
  elseif e.phase == 2 then
    local body = e.body ~= nil and ffi.string(e.body, e.body_len) or ""
    if is_download and status >= 200 and status < 300 then
      event.response = { filename = ffi.string(e.filename), baseDirectory = by_value[e.base_dir] }
    else
      event.response = body
    end
  end
  return event
end

local function default_error_handler(message)
  print("network: a listener raised: " .. tostring(message))
end
local error_handler = default_error_handler

--- network.setErrorHandler(fn): fn(message, event) receives the error of
--- each listener that raised (message with a traceback when it is a
--- string), after every event of that poll was delivered. nil restores the
--- default, which prints it. A handler that raises makes network.poll()
--- raise, after the listeners but before the remaining errors are reported.
function network.setErrorHandler(fn)
  if fn ~= nil and type(fn) ~= "function" then argerror("the error handler must be a function or nil") end
  error_handler = fn or default_error_handler
end

local BATCH = 64
local events = ffi.new("net_event[?]", BATCH)
-- Events copied out of netdl, not delivered yet: pending[head..tail],
-- oldest first. A listener that polls again delivers them, in order.
local pending, head, tail = {}, 1, 0

-- The one place events are taken from netdl: up to BATCH of them (waiting
-- up to wait_ms for the first, if given), each copied into a Lua table
-- before any listener runs (the next take frees their C memory).
local function take(wait_ms)
  local n
  if wait_ms then
    n = tonumber(C.net_queue_wait(queue, events, BATCH, wait_ms))
  else
    n = tonumber(C.net_queue_poll(queue, events, BATCH))
  end
  for i = 0, n - 1 do
    local key = id_key(events[i].id)
    local entry = listeners[key]
    -- The first event of a download network.restore() started (a began,
    -- or the ended of one that could not start): its id is new to us.
    if not entry and restoring and bit.band(events[i].flags, 4) ~= 0 and events[i].phase ~= 1 then
      entry = { restoring, true }
      listeners[key] = entry
    end
    if entry then
      tail = tail + 1
      pending[tail] = { key, entry, to_event(events[i], entry[2]) }
    end
  end
  return n
end

-- Delivers pending events until none is left; each listener runs protected
-- and its error is added to `errors`. Returns how many listeners it called.
local function deliver(errors)
  local called = 0
  while head <= tail do
    local item = pending[head]
    pending[head] = nil
    head = head + 1
    local key, entry, event = item[1], item[2], item[3]
    if listeners[key] == entry then -- not cancelled meanwhile
      if event.phase == "ended" then listeners[key] = nil end
      called = called + 1
      local listener, ok, err = entry[1]
      if type(listener) == "function" then
        ok, err = xpcall(listener, debug.traceback, event)
      else
        ok, err = xpcall(listener.networkRequest, debug.traceback, listener, event)
      end
      if not ok then errors[#errors + 1] = { err, event } end
    end
  end
  head, tail = 1, 0
  return called
end

--- network.restore(listener): starts again every download of the journal
--- (params persist = true) an earlier run left unfinished, and returns how
--- many. `listener` (a function or a table with a networkRequest method, as
--- for network.download) gets their events, from network.poll() as usual.
--- Call it after network.setAppName / setDirectory(system.ApplicationSupportDirectory).
--- Each restored download has a new requestId: its first event is a "began"
--- (even without progress; bytesTransferred is the data it continues) and
--- every event has restored = true and its tag, which says what it is.
--- network.cancel(event.requestId) cancels one. One that cannot start has
--- only an "ended" event with isError.
---   network.restore(function(event)
---     if event.phase == "ended" and not event.isError then packReady(event.tag) end
---   end)
function network.restore(listener)
  if type(listener) ~= "function" and not (type(listener) == "table" and listener.networkRequest) then
    argerror("listener must be a function or a table with a networkRequest method")
  end
  -- netdl queues each restored download's first event before
  -- net_queue_restore returns: taking everything queued now gives each of
  -- those ids this listener (their events are delivered by the next poll).
  restoring = listener
  local n = tonumber(C.net_queue_restore(queue))
  if n > 0 then
    repeat until take(nil) < BATCH
  end
  restoring = nil
  return n
end

--- network.poll([wait_ms]): delivers pending events to their listeners.
--- Call it once per frame; it never blocks. `wait_ms` (optional) waits that
--- long for the first event instead. Returns how many listeners it called.
--- Listeners may call network.poll() themselves. Their errors go to the
--- error handler after every event of this call was delivered.
function network.poll(wait_ms)
  if wait_ms ~= nil then wait_ms = check_int(wait_ms, "wait_ms", 0, U32) end
  local errors, called = {}, 0
  if head <= tail then wait_ms = nil end -- events are already waiting
  repeat
    local n = take(wait_ms)
    wait_ms = nil
    called = called + deliver(errors)
  until n < BATCH
  for _, e in ipairs(errors) do error_handler(e[1], e[2]) end
  return called
end

--- network.shutdown(): stops everything; final for the process.
function network.shutdown()
  C.net_shutdown()
  listeners = {}
  pending, head, tail = {}, 1, 0
end

return network
