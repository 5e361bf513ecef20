-- wrk script for bench/density.sh: spreads requests over many apps.
--   DENSITY_HOSTS=file  every request goes to the router with the next `Host` of the file (one
--                       per line), each thread starting at a random line;
--   DENSITY_PORTS=file  thread i connects to 127.0.0.1:<line i of the file> (one `wasmtime
--                       serve` process per port; run as many threads as lines).
local hosts, ports = {}, {}
local next_thread = 0
local i = 0

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function setup(thread)
  local path = os.getenv("DENSITY_PORTS")
  if path then
    if #ports == 0 then ports = lines(path) end
    next_thread = next_thread + 1
    local port = ports[(next_thread - 1) % #ports + 1]
    thread.addr = wrk.lookup("127.0.0.1", port)[1]
  end
end

function init(args)
  local path = os.getenv("DENSITY_HOSTS")
  if path then
    hosts = lines(path)
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
    i = math.random(#hosts)
  end
end

function request()
  if #hosts == 0 then return wrk.format() end
  i = i % #hosts + 1
  return wrk.format(nil, nil, { Host = hosts[i] })
end
