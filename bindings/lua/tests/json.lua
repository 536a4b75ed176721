-- A minimal stand-in for Solar2D's json module (encode only), so the
-- reference's examples run unchanged.
local json = {}

local function encode(v, indent, depth)
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local pad = indent and ("\n" .. string.rep("  ", depth + 1)) or ""
    local parts = {}
    for _, k in ipairs(keys) do
      local val = v[k]
      if val == nil then val = v[tonumber(k)] end
      parts[#parts + 1] = pad .. string.format("%q", k) .. ":" .. encode(val, indent, depth + 1)
    end
    local close = indent and ("\n" .. string.rep("  ", depth)) or ""
    return "{" .. table.concat(parts, ",") .. close .. "}"
  elseif t == "string" then
    return string.format("%q", v)
  elseif t == "number" or t == "boolean" then
    return tostring(v)
  end
  return "null"
end

function json.encode(v, opts)
  return encode(v, opts and opts.indent, 0)
end

return json
