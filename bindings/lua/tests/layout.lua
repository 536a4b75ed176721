-- Struct layout of net_params, net_options and net_event as LuaJIT sees it.
--   require("layout")(ffi)      the layout of the declarations already cdef'd
--   luajit tests/layout.lua H   cdefs header H (minus preprocessor lines and
--                               comments, and the static inline functions
--                               after its include guard) and prints its layout
local fields = {
  net_params = { "headers", "header_count", "body", "body_len", "timeout", "progress", "user_data",
    "body_type", "body_file", "body_file_dir", "no_redirects", "max_redirects", "ca_file", "max_body", "queue",
    "progress_of", "reserved32", "options", "reserved" },
  net_options = { "size", "max_retries", "retry_delay_ms", "retry_max_delay_ms", "expected_size", "sha256",
    "mirrors", "mirror_count", "proxy", "compress", "keep_partial", "if_changed", "reserved8", "segments",
    "priority", "persist", "reserved24", "max_speed", "tag" },
  net_event = { "id", "user_data", "phase", "is_error", "error_code", "error", "status", "bytes_transferred",
    "bytes_estimated", "url", "headers", "header_count", "path", "body", "body_len", "response_type",
    "base_dir", "filename", "attempt", "flags", "bytes_received", "tag", "reserved" },
}

local function layout(ffi)
  local out = {}
  for _, s in ipairs({ "net_params", "net_options", "net_event" }) do
    out[#out + 1] = s .. "=" .. ffi.sizeof(s)
    for _, f in ipairs(fields[s]) do out[#out + 1] = f .. "@" .. tostring(ffi.offsetof(s, f) or "missing") end
  end
  return table.concat(out, " ")
end

if arg and arg[0] and arg[0]:match("layout%.lua$") and arg[1] then
  local f = assert(io.open(arg[1], "rb"))
  local header = f:read("*a")
  f:close()
  -- The declarations end with the include guard; after it come header
  -- functions (net_options_init), which a cdef cannot take.
  local guard_end = header:find("#endif%s*/%*%s*NETDL_H%s*%*/")
  assert(guard_end, "no '#endif /* NETDL_H */' in " .. arg[1])
  header = header:sub(1, guard_end - 1)
  local decls = header:gsub("/%*.-%*/", ""):gsub("//[^\n]*", ""):gsub("\n#[^\n]*", "\n")
    :gsub('extern "C" {', ""):gsub("\n}%s*\n", "\n")
  local ffi = require "ffi"
  ffi.cdef(decls)
  print(layout(ffi))
end

return layout
