//! A command that imports an interface no paas host provides: must be rejected at load.

wit_bindgen::generate!({
    inline: "
        package paas:test;
        interface missing { ping: func() -> u32; }
        world bad { import missing; }
    ",
});

fn main() {
    println!("{}", paas::test::missing::ping());
}
