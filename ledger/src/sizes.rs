//! Dyno sizes as the ledger stores them: Heroku's names ([`SIZES`]), the [`SizeClass`] that sets
//! what a dyno of a size gets, the size a new formation gets and those every user may use.

/// The dyno sizes, as Heroku spells them.
pub const SIZES: &[&str] = &[
    "Eco",
    "Basic",
    "Standard-1X",
    "Standard-2X",
    "Performance-M",
    "Performance-L",
];

/// The class of a dyno size, which sets what a dyno of it gets: Eco and Basic, Standard-1X and
/// -2X, Performance (and Heroku's Private and Shield sizes, taken as Performance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeClass {
    /// Eco, Basic and anything unknown: 128 MiB.
    Basic,
    /// Standard-1X and -2X: 512 MiB.
    Standard,
    /// Performance-M and -L (Private-*, Shield-*): 2 GiB.
    Performance,
}

impl SizeClass {
    /// The class of Heroku's size name `size`, in any case.
    pub fn of(size: &str) -> SizeClass {
        let size = size.to_ascii_lowercase();
        if size.starts_with("standard") {
            SizeClass::Standard
        } else if size.starts_with("performance") || size.starts_with("private") || size.starts_with("shield") {
            SizeClass::Performance
        } else {
            SizeClass::Basic
        }
    }

    /// The memory a dyno of this class gets, in MiB (what the runtime's `DynoSize` limits).
    pub fn memory_mib(self) -> u64 {
        match self {
            SizeClass::Basic => 128,
            SizeClass::Standard => 512,
            SizeClass::Performance => 2048,
        }
    }
}

/// The size a new formation gets.
pub const DEFAULT_SIZE: &str = "Basic";

/// The sizes every user may use; larger ones (`Performance-M`, 2 GiB) need an operator's grant.
pub const DEFAULT_GRANTED_SIZES: &[&str] = &["Eco", "Basic", "Standard-1X", "Standard-2X"];
