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
-- linker path. Listeners are called from network.poll(), on the caller's
-- thread. As in the reference, wrong argument types raise a Lua error, and
-- everything else (bad URL, network failure, ResourceDirectory) arrives as
-- an event with isError = true.
local ffi = require "ffi"

-- Keep in sync with include/netdl.h (bindings/lua/tests/run.lua checks the
-- layout against the header).
ffi.cdef [[
typedef uint64_t net_id;
typedef struct net_header { const char *name; const char *value; } net_header;
typedef uint32_t net_body_type;
typedef uint32_t net_dir;
typedef struct net_params {
  const struct net_header *headers;
  size_t header_count;
  const void *body;
  size_t body_len;
  uint32_t timeout;
  bool progress;
  void *user_data;
  net_body_type body_type;
  const char *body_file;
  net_dir body_file_dir;
  bool no_redirects;
  uint32_t max_redirects;
  const char *ca_file;
  uint64_t max_body;
  uint64_t reserved[8];
} net_params;
typedef uint32_t net_phase;
typedef uint32_t net_error;
typedef uint32_t net_response_type;
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
  uint64_t reserved[8];
} net_event;
net_id net_download(const char *url, const char *method, const struct net_params *params,
                    const char *filename, net_dir base_dir);
net_id net_request(const char *url, const char *method, const struct net_params *params);
bool net_cancel(net_id id);
size_t net_poll(struct net_event *out, size_t capacity);
size_t net_wait(struct net_event *out, size_t capacity, uint32_t timeout_ms);
bool net_set_directory(net_dir dir, const char *path);
size_t net_get_directory(net_dir dir, char *buf, size_t capacity);
bool net_set_app_name(const char *name);
bool net_set_limits(uint32_t max_transfers, uint32_t max_per_host);
void net_shutdown(void);
const char *net_version(void);
const char *net_error_name(net_error code);
]]

local C = ffi.load(os.getenv("NETDL_LIB") or "netdl")

local network = { _VERSION = ffi.string(C.net_version()) }

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
    error(what .. " must be one of the system.*Directory constants", 3)
  end
  return d.value
end

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
  if type(filename) ~= "string" then error("filename must be a string", 2) end
  return dir_path(value) .. "/" .. filename
end

--- network.setDirectory(system.XDirectory, path): overrides where it lives.
function network.setDirectory(base, path)
  local value = check_dir(base, "directory")
  if type(path) ~= "string" then error("path must be a string", 2) end
  if not C.net_set_directory(value, path) then
    error("cannot set " .. tostring(base) .. " to " .. path .. " (it must be absolute)", 2)
  end
end

local listeners = {}   -- request id (number) -> { listener, is_download }

local function id_key(id) return tonumber(id) end

-- Turns the Lua params table into a net_params; returns it and what must
-- stay alive until the C call returned.
local function build_params(params)
  local p = ffi.new("net_params")
  local keep = {}
  if params == nil then return p, keep end
  if type(params) ~= "table" then error("params must be a table", 3) end
  if params.headers ~= nil then
    if type(params.headers) ~= "table" then error("params.headers must be a table", 3) end
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
    if type(body.filename) ~= "string" then error("params.body.filename must be a string", 3) end
    p.body_file = body.filename
    p.body_file_dir = check_dir(body.baseDirectory or system.DocumentsDirectory, "params.body.baseDirectory")
    keep[#keep + 1] = body.filename
  elseif body ~= nil then
    error("params.body must be a string or a {filename=, baseDirectory=} table", 3)
  end
  if params.bodyType ~= nil then
    if params.bodyType == "text" then p.body_type = 1
    elseif params.bodyType == "binary" then p.body_type = 2
    else error('params.bodyType must be "text" or "binary"', 3) end
  end
  if params.timeout ~= nil then
    if type(params.timeout) ~= "number" or params.timeout <= 0 then
      error("params.timeout must be a positive number", 3)
    end
    p.timeout = math.max(1, math.floor(params.timeout + 0.5))
  end
  p.progress = params.progress == true or params.progress == "download"
  p.no_redirects = params.handleRedirects == false
  return p, keep
end

local function start(url, method, listener, params, filename, base)
  if type(url) ~= "string" then error("url must be a string", 3) end
  if type(method) ~= "string" then error("method must be a string", 3) end
  if type(listener) ~= "function" and not (type(listener) == "table" and listener.networkRequest) then
    error("listener must be a function or a table with a networkRequest method", 3)
  end
  local response = type(params) == "table" and params.response or nil
  if filename == nil and response ~= nil then -- request with params.response: a download
    if type(response) ~= "table" or type(response.filename) ~= "string" then
      error("params.response must be {filename=, baseDirectory=}", 3)
    end
    filename, base = response.filename, response.baseDirectory or system.DocumentsDirectory
  end
  local p, keep = build_params(params)
  local id
  if filename ~= nil then
    if type(filename) ~= "string" then error("filename must be a string", 3) end
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
  if filename == nil then error("filename must be a string", 2) end
  return start(url, method, listener, params, filename, base)
end

--- network.request(url, method, listener [, params])
function network.request(url, method, listener, params)
  return start(url, method, listener, params, nil, nil)
end

--- network.cancel(handle): true if the request was still live. Its listener
--- is never called again.
function network.cancel(handle)
  if type(handle) ~= "number" then error("handle must be a request handle", 2) end
  listeners[handle] = nil
  return C.net_cancel(handle)
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

local events = ffi.new("net_event[64]")

--- network.poll(): delivers pending events to their listeners. Call it once
--- per frame; it never blocks. `wait_ms` (optional) waits that long for the
--- first event instead. Returns the number of events delivered.
function network.poll(wait_ms)
  local total = 0
  while true do
    local n
    if wait_ms and total == 0 then
      n = tonumber(C.net_wait(events, 64, wait_ms))
    else
      n = tonumber(C.net_poll(events, 64))
    end
    if n == 0 then return total end
    local batch = {}
    for i = 0, n - 1 do -- copy everything before any listener runs
      local key = id_key(events[i].id)
      local entry = listeners[key]
      if entry then batch[#batch + 1] = { key, entry, to_event(events[i], entry[2]) } end
    end
    for _, item in ipairs(batch) do
      local key, entry, event = item[1], item[2], item[3]
      -- Skipped if a listener earlier in this batch cancelled it.
      if listeners[key] == entry then
        if event.phase == "ended" then listeners[key] = nil end
        local listener = entry[1]
        if type(listener) == "function" then listener(event) else listener:networkRequest(event) end
      end
    end
    total = total + n
  end
end

--- network.shutdown(): stops everything; final for the process.
function network.shutdown()
  C.net_shutdown()
  listeners = {}
end

return network
