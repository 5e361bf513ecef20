//! A `wasi:cli` guest: the first argument picks what it does.

use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str).unwrap_or("") {
        // `wasi:cli/exit#exit-with-code` (WASI 0.2.12); Rust's `std::process::exit` still maps
        // every non-zero code to 1 on wasm32-wasip2.
        "exit" => wasi::cli::exit::exit_with_code(args[2].parse().unwrap()),
        "std-exit" => std::process::exit(args[2].parse().unwrap()),
        "args" => println!("{}", args.join(" ")),
        "env" => println!("{}", std::env::var(&args[2]).unwrap_or_else(|e| format!("error: {e}"))),
        "cat" => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).unwrap();
            print!("{}", input.to_uppercase());
        }
        "partial" => {
            print!("first line\nno newline at the end");
            std::io::stdout().flush().unwrap();
        }
        "write-tmp" => std::fs::write(format!("/tmp/{}", args[2]), &args[3]).unwrap(),
        "list-tmp" => {
            let mut names: Vec<String> = std::fs::read_dir("/tmp")
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            println!("[{}]", names.join(","));
        }
        "loop" => {
            let mut i: u64 = 0;
            loop {
                i = std::hint::black_box(i.wrapping_add(1));
            }
        }
        "connect" => match std::net::TcpStream::connect(&args[2]) {
            Ok(_) => println!("connected"),
            Err(e) => println!("error: {e}"),
        },
        "panic" => panic!("cli probe panicked on purpose"),
        "wait-stop" => {
            let stop = std::env::var("PAAS_STOP_FILE").unwrap();
            println!("waiting for {stop}");
            while !std::path::Path::new(&stop).exists() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            println!("stop file seen, exiting");
            std::process::exit(0);
        }
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}
