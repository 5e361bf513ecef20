//! The line discipline the rendezvous stands in with when the client's terminal is raw (`paas
//! run` on a terminal, `heroku run` from one) and the dyno has no terminal of its own (a wasm
//! guest): what is typed is echoed, Backspace and Ctrl-U edit the line, Enter hands the dyno the
//! whole line (`\r` as `\n`), Ctrl-D at the start of a line ends stdin, Ctrl-C interrupts.
//! Output line ends become `\r\n` (the client's terminal does not add the `\r`).

/// Ctrl-C.
const INTERRUPT: u8 = 0x03;
/// Ctrl-D.
const END_OF_INPUT: u8 = 0x04;
/// Ctrl-U.
const KILL_LINE: u8 = 0x15;

/// What typed bytes did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Typed {
    /// To show the client.
    pub echo: Vec<u8>,
    /// For the dyno's stdin.
    pub input: Vec<u8>,
    /// Stdin ended (Ctrl-D on an empty line).
    pub end: bool,
    /// Ctrl-C: stop the dyno.
    pub interrupt: bool,
}

/// The line being typed.
#[derive(Debug, Default)]
pub struct LineDiscipline {
    line: Vec<u8>,
}

impl LineDiscipline {
    /// Takes typed bytes; stops at Ctrl-C or the end of input (what follows is dropped).
    pub fn feed(&mut self, bytes: &[u8]) -> Typed {
        let mut typed = Typed::default();
        for &b in bytes {
            match b {
                INTERRUPT => {
                    typed.echo.extend_from_slice(b"^C\r\n");
                    typed.interrupt = true;
                    return typed;
                }
                END_OF_INPUT if self.line.is_empty() => {
                    typed.end = true;
                    return typed;
                }
                // Ctrl-D in a line hands over what was typed, without a newline.
                END_OF_INPUT => typed.input.append(&mut self.line),
                b'\r' | b'\n' => {
                    self.line.push(b'\n');
                    typed.input.append(&mut self.line);
                    typed.echo.extend_from_slice(b"\r\n");
                }
                0x7f | 0x08 => {
                    if self.pop_char() {
                        typed.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                KILL_LINE => {
                    while self.pop_char() {
                        typed.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                b => {
                    self.line.push(b);
                    typed.echo.push(b);
                }
            }
        }
        typed
    }

    /// Removes the last character (all its UTF-8 bytes); false on an empty line.
    fn pop_char(&mut self) -> bool {
        while let Some(b) = self.line.pop() {
            if b & 0b1100_0000 != 0b1000_0000 {
                return true;
            }
        }
        false
    }
}

/// Output for a raw terminal: `\n` becomes `\r\n` (`last` is the byte written before, carried
/// from one chunk to the next).
pub fn crlf(bytes: &[u8], last: &mut u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8);
    for &b in bytes {
        if b == b'\n' && *last != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        *last = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines_are_echoed_edited_and_handed_over_whole() {
        let mut line = LineDiscipline::default();
        let typed = line.feed(b"hellp\x7fo");
        assert_eq!((typed.echo, typed.input), (b"hellp\x08 \x08o".to_vec(), vec![]));
        let typed = line.feed("é\x7f wörld\r".as_bytes());
        assert_eq!(typed.input, "hello wörld\n".as_bytes());
        assert!(typed.echo.ends_with(b"\r\n"));
        let typed = line.feed(b"gone\x15kept\x04");
        assert_eq!(typed.input, b"kept");
        assert!(!typed.end);
        let typed = line.feed(b"\x04after");
        assert!(typed.end);
        assert_eq!(typed.input, b"");
    }

    #[test]
    fn ctrl_c_interrupts() {
        let typed = LineDiscipline::default().feed(b"abc\x03def");
        assert!(typed.interrupt);
        assert_eq!(typed.echo, b"abc^C\r\n");
    }

    #[test]
    fn output_line_ends_become_crlf_across_chunks() {
        let mut last = 0;
        assert_eq!(crlf(b"a\nb\r", &mut last), b"a\r\nb\r");
        assert_eq!(crlf(b"\nc\n", &mut last), b"\nc\r\n");
    }
}
