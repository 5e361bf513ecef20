//! Names users type: app names (validated and generated), dyno sizes, config var keys.

use rand::RngExt;

pub use paas_ledger::sizes::{DEFAULT_GRANTED_SIZES, DEFAULT_SIZE, SIZES, SizeClass};

/// An app name that breaks the rules (as given); the text is the message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Name {0:?} is invalid: it must be 3 to 30 characters of lowercase letters, digits and dashes, \
     starting with a letter."
)]
pub struct InvalidAppName(pub String);

/// A dyno size that is none of [`SIZES`] (as given); the text is the message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Size {0:?} is unknown. Sizes: {sizes}", sizes = SIZES.join(", "))]
pub struct UnknownSize(pub String);

/// A config var key that breaks the rules (as given); the text is the message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Config var name {0:?} is invalid: it must be non-empty, without `=` or whitespace.")]
pub struct InvalidConfigKey(pub String);

/// Checks an app name: lowercase letters, digits and dashes, 3–30 characters, starting with a
/// letter.
pub fn validate_app_name(name: &str) -> Result<(), InvalidAppName> {
    let valid_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !(3..=30).contains(&name.chars().count()) || !valid_chars || !starts_with_letter {
        return Err(InvalidAppName(name.to_string()));
    }
    Ok(())
}

const ADJECTIVES: &[&str] = &[
    "ancient", "autumn", "billowing", "bold", "calm", "cool", "crisp", "damp", "dry", "floral",
    "fragrant", "frosty", "gentle", "hidden", "icy", "little", "lively", "misty", "morning",
    "polished", "proud", "quiet", "rapid", "shy", "silent", "sparkling", "still", "sweet",
    "twilight", "wild",
];
const NOUNS: &[&str] = &[
    "bird", "breeze", "brook", "cloud", "dawn", "dew", "dream", "dust", "field", "fire", "flower",
    "fog", "forest", "frost", "glade", "lake", "leaf", "meadow", "moon", "mountain", "pine",
    "rain", "river", "sea", "shadow", "snow", "star", "sun", "wave", "wind",
];

/// A fresh random app name such as `calm-river-48213` (Heroku's style).
pub fn generate_app_name() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let noun = NOUNS[rng.random_range(0..NOUNS.len())];
    format!("{adjective}-{noun}-{:05}", rng.random_range(0..100_000))
}

/// The canonical spelling of a dyno size given in any case (`standard-1x` → `Standard-1X`).
pub fn canonical_size(size: &str) -> Result<&'static str, UnknownSize> {
    SIZES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(size.trim()))
        .copied()
        .ok_or_else(|| UnknownSize(size.to_string()))
}

/// Checks a config var key: not empty, no `=`, no whitespace or control characters.
pub fn validate_config_key(key: &str) -> Result<(), InvalidConfigKey> {
    if key.is_empty() || key.chars().any(|c| c == '=' || c.is_whitespace() || c.is_control()) {
        return Err(InvalidConfigKey(key.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for good in ["abc", "my-app-2", "a23456789012345678901234567890"] {
            assert_eq!(validate_app_name(good), Ok(()), "{good}");
        }
        for bad in ["ab", "1abc", "-abc", "Abc", "my_app", "a234567890123456789012345678901", "ab c"] {
            assert!(validate_app_name(bad).is_err(), "{bad}");
        }
        for _ in 0..100 {
            assert_eq!(validate_app_name(&generate_app_name()), Ok(()));
        }
    }

    #[test]
    fn sizes_are_case_insensitive() {
        assert_eq!(canonical_size("standard-1x"), Ok("Standard-1X"));
        assert_eq!(canonical_size("basic"), Ok("Basic"));
        assert!(canonical_size("huge").unwrap_err().to_string().contains("Standard-2X"));
    }

    /// The API answers these texts in its 422 bodies: they stay as they were written.
    #[test]
    fn messages_are_the_apis() {
        assert_eq!(
            validate_app_name("A b").unwrap_err().to_string(),
            "Name \"A b\" is invalid: it must be 3 to 30 characters of lowercase letters, digits and dashes, starting with a letter."
        );
        assert_eq!(
            canonical_size(" huge").unwrap_err().to_string(),
            format!("Size \" huge\" is unknown. Sizes: {}", SIZES.join(", "))
        );
        assert_eq!(
            validate_config_key("A=B").unwrap_err().to_string(),
            "Config var name \"A=B\" is invalid: it must be non-empty, without `=` or whitespace."
        );
    }
}
