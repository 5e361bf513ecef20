<?php
// hello-php: a page printing the config var GREETING_NAME, served by php-fpm behind nginx.
require __DIR__ . '/../vendor/autoload.php';

use Paas\Greeting\Greeting;

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
header('Content-Type: text/plain; charset=utf-8');
switch ($path) {
    case '/':
        echo Greeting::for(getenv('GREETING_NAME') ?: 'world');
        error_log('hello-php: GET /');
        break;
    case '/dyno':
        header('Content-Type: application/json');
        echo json_encode(['dyno' => getenv('DYNO') ?: null]), "\n";
        break;
    case '/boot':
        // One id per dyno start: the dyno's /tmp is its own and starts empty.
        $file = sys_get_temp_dir() . '/hello-php-boot';
        if (!file_exists($file)) {
            file_put_contents($file, bin2hex(random_bytes(8)));
        }
        echo file_get_contents($file);
        break;
    case '/length':
        echo mb_strlen('héllo'), "\n";
        break;
    default:
        http_response_code(404);
        echo "not found: $path\n";
}
