-- The first run of run.lua's restore test:
--   luajit tests/persist_child.lua SUPPORT_DIR DOCUMENTS_DIR URL
-- starts a persisted, tagged download of URL into DOCUMENTS_DIR/restored.bin,
-- suspends once 1.5 MiB arrived (so it cannot finish before it is killed),
-- prints "PID BYTES" and waits to be killed (SIGKILL). Prints "ended ..."
-- and exits 1 if the download ended first, or after 10 s without the bytes.
local here = arg[0]:match("(.*/)") or "./"
package.path = here .. "../?.lua;" .. package.path
local ffi = require "ffi"
ffi.cdef "int getpid(void);"
local network = require "network"
local system = network.system
network.setDirectory(system.ApplicationSupportDirectory, arg[1])
network.setDirectory(system.DocumentsDirectory, arg[2])
local got, ended
network.download(arg[3], "GET", function(e)
  if e.phase == "ended" then ended = e end
  if e.bytesTransferred >= 1536 * 1024 then got = got or e.bytesTransferred end
end, { progress = true, persist = true, tag = "pack-7" }, "restored.bin")
for _ = 1, 100 do
  if got or ended then break end
  network.poll(100)
end
if not got or ended then
  print("ended or too slow: " .. tostring(ended and ended.response))
  os.exit(1)
end
network.suspend()
io.write(ffi.C.getpid(), " ", got, "\n")
io.flush()
while true do network.poll(60000) end
