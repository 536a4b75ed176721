-- netdl in a LÖVE 11.4 game: downloads every URL given with network.download
-- (bindings/lua/network.lua, the reference `network` API), calls
-- network.poll() once per frame in love.update, draws one bar per download
-- and shows the downloaded PNG once its "ended" event arrived, as the
-- reference page's example does with display.newImage.
--
--   NETDL_LIB=/path/to/libnetdl.so love examples/love [options] URL...
--     --screenshot FILE    once every download ended, save the window as FILE
--                          in the save directory (its full path is printed)
--     --quit-after SECONDS quit that long after every download ended (default 3)
--
-- `require "network"` finds network.lua in the game folder (copy it there)
-- or on LUA_PATH (scripts/love_demo.sh sets it to bindings/lua). Each file is
-- saved in system.TemporaryDirectory under the URL's last path component.
-- Exit status: 0, or 1 if a download failed; Esc or closing the window quits
-- at once.
local network = require "network"
local system = network.system

local downloads = {} -- in start order: { name, got, total, state = "running" | "done" | "failed", note }
local picture        -- { image, name, alpha } once a .png ended
local screenshot_name, screenshot_state -- state: nil, "requested", "saved"
local quit_after, quit_at = 3, nil
local poll_ms = 0 -- how long network.poll() takes, smoothed over frames
local next_frame = 0

-- Colours as bytes (check_screenshot.py looks for DONE, TRACK, RUNNING and FAILED).
local function rgb(r, g, b) return { r / 255, g / 255, b / 255 } end
local BACKGROUND = rgb(0x17, 0x1a, 0x21)
local TRACK = rgb(0x30, 0x33, 0x3d)
local RUNNING = rgb(0x45, 0x85, 0xe6)
local DONE = rgb(0x3c, 0xb3, 0x70)
local FAILED = rgb(0xdc, 0x42, 0x42)
local TEXT = rgb(0xeb, 0xeb, 0xf0)
local DIM = rgb(0x99, 0x9c, 0xa8)

local BAR_X, BAR_W, BAR_H = 16, 360, 14
local ROW_Y, ROW_H = 56, 44
local PICTURE_X, PICTURE_Y = 408, 76

local function exit_status()
  if #downloads == 0 then return 2 end -- usage error
  for _, d in ipairs(downloads) do
    if d.state == "failed" then return 1 end
  end
  return 0
end

local function all_ended()
  for _, d in ipairs(downloads) do
    if d.state == "running" then return false end
  end
  return true
end

-- love.graphics.newImage reads only inside LÖVE's sandbox: the file's bytes
-- go through io.open and a FileData instead.
local function load_image(path, name)
  local f = assert(io.open(path, "rb"))
  local bytes = f:read("*a")
  f:close()
  return love.graphics.newImage(love.image.newImageData(love.filesystem.newFileData(bytes, name)))
end

local function listener_for(d)
  return function(event)
    if event.isError then
      d.state, d.note = "failed", event.errorCode .. ": " .. event.response
      print("failed: " .. d.name .. ": " .. d.note)
    elseif event.phase == "began" or event.phase == "progress" then
      d.got, d.total = event.bytesTransferred, event.bytesEstimated
    elseif event.phase == "ended" and (event.status < 200 or event.status > 299) then
      d.state, d.note = "failed", "HTTP " .. event.status
      print("failed: " .. d.name .. ": " .. d.note)
    elseif event.phase == "ended" then
      local file, base = event.response.filename, event.response.baseDirectory
      local path = system.pathForFile(file, base)
      d.state, d.got, d.total = "done", event.bytesTransferred, event.bytesTransferred
      print("saved: " .. d.name .. " " .. path)
      if file:lower():match("%.png$") then
        local ok, image = pcall(load_image, path, file)
        if ok then
          picture = { image = image, name = file, alpha = 0 }
        else
          d.state, d.note = "failed", "not an image: " .. tostring(image)
          print("failed: " .. d.name .. ": " .. d.note)
        end
      end
    end
  end
end

function love.load(args)
  local urls = {}
  local i = 1
  while i <= #args do
    if args[i] == "--screenshot" then
      screenshot_name, i = args[i + 1], i + 2
    elseif args[i] == "--quit-after" then
      quit_after, i = tonumber(args[i + 1]), i + 2
    else
      urls[#urls + 1], i = args[i], i + 1
    end
  end
  if #urls == 0 or not quit_after then
    print("usage: love examples/love [--screenshot FILE] [--quit-after SECONDS] URL...")
    love.event.quit()
    return
  end
  love.graphics.setDefaultFilter("nearest", "nearest")
  for n, url in ipairs(urls) do
    local name = url:gsub("[?#].*$", ""):match("([^/]+)$") or ("download" .. n)
    local d = { name = name, got = 0, total = -1, state = "running" }
    downloads[n] = d
    network.download(url, "GET", listener_for(d), { progress = true }, d.name, system.TemporaryDirectory)
  end
end

local function save_screenshot(imagedata)
  imagedata:encode("png", screenshot_name)
  screenshot_state = "saved"
  print("screenshot: " .. love.filesystem.getSaveDirectory() .. "/" .. screenshot_name)
end

function love.update(dt)
  -- At most 60 frames a second (what vsync does on a real display; Xvfb has none).
  local now = love.timer.getTime()
  if next_frame > now then love.timer.sleep(next_frame - now) else next_frame = now end
  next_frame = next_frame + 1 / 60

  local start = love.timer.getTime()
  network.poll() -- listeners run here, on the game's thread; never blocks
  poll_ms = poll_ms * 0.95 + (love.timer.getTime() - start) * 1000 * 0.05
  if picture then picture.alpha = math.min(1, picture.alpha + dt * 2) end -- fade in
  if #downloads == 0 or not all_ended() then return end
  quit_at = quit_at or love.timer.getTime() + quit_after
  if screenshot_name and not screenshot_state and (not picture or picture.alpha == 1) then
    love.graphics.captureScreenshot(save_screenshot) -- this frame, once drawn
    screenshot_state = "requested"
  end
  if love.timer.getTime() >= quit_at and (screenshot_name == nil or screenshot_state == "saved") then
    love.event.quit()
  end
end

local function size(n)
  if n < 1048576 then return string.format("%.1f KiB", n / 1024) end
  return string.format("%.1f MiB", n / 1048576)
end

local function draw_download(d, y)
  love.graphics.setColor(TEXT)
  love.graphics.print(d.name, BAR_X, y)
  local info
  if d.state == "failed" then
    info = #d.note > 36 and d.note:sub(1, 33) .. "..." or d.note
  elseif d.total > 0 then
    info = size(d.got) .. " / " .. size(d.total)
  else
    info = size(d.got)
  end
  love.graphics.setColor(DIM)
  love.graphics.printf(info, BAR_X + 100, y, BAR_W - 100, "right")
  love.graphics.setColor(TRACK)
  love.graphics.rectangle("fill", BAR_X, y + 18, BAR_W, BAR_H)
  local fill = 0
  if d.state ~= "running" then fill = 1
  elseif d.total > 0 then fill = math.min(1, d.got / d.total) end
  love.graphics.setColor(d.state == "done" and DONE or d.state == "failed" and FAILED or RUNNING)
  love.graphics.rectangle("fill", BAR_X, y + 18, math.floor(BAR_W * fill + 0.5), BAR_H)
end

function love.draw()
  love.graphics.clear(BACKGROUND)
  love.graphics.setColor(TEXT)
  love.graphics.print("netdl " .. network._VERSION .. " in LÖVE: network.download, network.poll() in love.update", 16, 16)
  for n, d in ipairs(downloads) do draw_download(d, ROW_Y + (n - 1) * ROW_H) end
  if picture then
    love.graphics.setColor(DIM)
    love.graphics.print(picture.name .. ": love.graphics.newImage", PICTURE_X, ROW_Y)
    love.graphics.setColor(1, 1, 1, picture.alpha)
    love.graphics.draw(picture.image, PICTURE_X, PICTURE_Y)
  end
  local done = 0
  for _, d in ipairs(downloads) do
    if d.state ~= "running" then done = done + 1 end
  end
  love.graphics.setColor(DIM)
  local frame = love.timer.getAverageDelta() -- 0 in the first second
  if frame == 0 then frame = love.timer.getDelta() end
  love.graphics.print(string.format("frame %.1f ms   network.poll() %.2f ms", frame * 1000, poll_ms), 16, 312)
  local status = string.format("%d of %d ended   Esc quits", done, #downloads)
  if quit_at then
    status = status .. string.format("   quitting in %.1f s", math.max(0, quit_at - love.timer.getTime()))
  end
  love.graphics.print(status, 16, 332)
end

function love.keypressed(key)
  if key == "escape" then love.event.quit() end
end

-- Every way out (Esc, closing the window, the end) quits with exit_status().
local quitting = false
function love.quit()
  if quitting then return false end
  quitting = true
  love.event.quit(exit_status())
  return true
end

-- A Lua error prints its traceback and quits with status 1 (instead of
-- LÖVE's error screen, which waits for a key).
function love.errorhandler(message)
  print(debug.traceback("Error: " .. tostring(message), 3))
  return function() return 1 end
end
