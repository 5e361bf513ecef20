# A Rack app: the ruby buildpack runs it with `bundle exec rackup config.ru -p $PORT` (Heroku's
# default for a Rack app) in a native dyno.
require "json"
require "socket"

$stdout.sync = true
# SIGTERM (ps:restart, a new release, scaling down) stops WEBrick cleanly, as Ctrl-C does.
Signal.trap("TERM") { Rack::Handler::WEBrick.shutdown } if defined?(Rack::Handler::WEBrick)
BOOT = "#{Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond).to_s(36)}-#{Process.pid}"

run lambda { |env|
  case env["PATH_INFO"]
  when "/"
    puts "hello-ruby: #{env["REQUEST_METHOD"]} /"
    [200, { "content-type" => "text/plain; charset=utf-8" }, ["Hello, #{ENV.fetch("GREETING_NAME", "world")}, from Ruby!\n"]]
  when "/dyno"
    body = { dyno: ENV["DYNO"], host: Socket.gethostname, pid: Process.pid, ruby: RUBY_VERSION, rack_env: ENV["RACK_ENV"] }
    [200, { "content-type" => "application/json" }, [JSON.generate(body)]]
  when "/boot"
    [200, { "content-type" => "text/plain" }, [BOOT]]
  else
    [404, { "content-type" => "text/plain" }, ["not found\n"]]
  end
}
