<?php

namespace Paas\Greeting;

/** The greeting hello-php prints. */
final class Greeting
{
    public static function for(string $name): string
    {
        return sprintf("Hello, %s, from PHP %s!\n", $name, PHP_VERSION);
    }
}
