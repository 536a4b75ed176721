function love.conf(t)
  t.identity = "netdl-love-demo" -- the save directory: ~/.local/share/love/netdl-love-demo
  t.version = "11.4"
  t.window.title = "netdl in LÖVE"
  t.window.width, t.window.height = 640, 360
  t.window.vsync = 1
  -- A download demo makes no sound: no audio device needed (nor under Xvfb).
  t.modules.audio = false
  t.modules.sound = false
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.video = false
end
