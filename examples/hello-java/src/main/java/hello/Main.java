package hello;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Executors;

/** hello-java: a page printing the config var GREETING_NAME, on the JDK's HTTP server at $PORT. */
public final class Main {
    /** One id per start of the process (a restarted dyno answers another). */
    private static final String BOOT = UUID.randomUUID().toString();

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(Objects.requireNonNullElse(System.getenv("PORT"), "5000"));
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 64);
        server.createContext("/", Main::handle);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        System.out.println("hello-java: listening on port " + port + " (Java " + Runtime.version() + ")");
    }

    private static void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        int status = 200;
        String body;
        switch (path) {
            case "/" -> {
                String name = Objects.requireNonNullElse(System.getenv("GREETING_NAME"), "world");
                body = "Hello, " + name + ", from Java " + Runtime.version().feature() + "!\n";
                System.out.println("hello-java: GET /");
            }
            case "/dyno" -> body = "{\"dyno\":\"" + Objects.requireNonNullElse(System.getenv("DYNO"), "") + "\"}\n";
            case "/boot" -> body = BOOT;
            default -> {
                status = 404;
                body = "not found: " + path + "\n";
            }
        }
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
