//! Heroku's Range pagination: `Range: <field> [\]]start..[end][; max=N[, ]order=asc|desc][;]`.
//! A list answers 200 when it is complete, and 206 with `Next-Range` when more remain; the last
//! page has no `Next-Range` (clients follow it until it is absent).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Page size when the request names none.
pub const DEFAULT_MAX: usize = 200;
/// The largest page.
pub const LIMIT_MAX: usize = 1000;

/// The value a list is sorted and ranged by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// A number (release versions).
    Int(i64),
    /// Text (names, ids, times in RFC 3339).
    Text(String),
}

impl Key {
    fn render(&self) -> String {
        match self {
            Key::Int(n) => n.to_string(),
            Key::Text(s) => s.clone(),
        }
    }

    /// Parses `text` as a key of the same kind as `self`.
    fn parse_like(&self, text: &str) -> Option<Key> {
        match self {
            Key::Int(_) => text.parse().ok().map(Key::Int),
            Key::Text(_) => Some(Key::Text(text.to_string())),
        }
    }
}

/// A parsed `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSpec {
    /// The field to sort by.
    pub field: String,
    /// Where to start (in the iteration order).
    pub start: Option<String>,
    /// Whether `start` itself is excluded (`]start`).
    pub exclusive: bool,
    /// Where to stop, inclusive.
    pub end: Option<String>,
    /// Page size.
    pub max: usize,
    /// Descending order.
    pub desc: bool,
}

/// Parses a `Range` header value.
pub fn parse(text: &str) -> Result<RangeSpec, String> {
    let text = text.trim();
    let (head, params) = text.split_once(';').unwrap_or((text, ""));
    let head = head.trim();
    let (field, bounds) = head.split_once(char::is_whitespace).unwrap_or((head, ""));
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("no field to range by in {text:?}"));
    }
    let bounds = bounds.trim();
    let (mut start, mut exclusive, mut end) = (None, false, None);
    if !bounds.is_empty() {
        let bounds = match bounds.strip_prefix(']') {
            Some(rest) => {
                exclusive = true;
                rest
            }
            None => bounds,
        };
        let (from, to) = bounds.split_once("..").ok_or_else(|| format!("expected `start..end` in {text:?}"))?;
        let (from, to) = (from.trim(), to.trim());
        start = (!from.is_empty()).then(|| from.to_string());
        end = (!to.is_empty()).then(|| to.to_string());
    }
    let (mut max, mut desc) = (DEFAULT_MAX, false);
    for param in params.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = param.split_once('=').ok_or_else(|| format!("expected name=value, got {param:?}"))?;
        match (name.trim(), value.trim()) {
            ("max", n) => {
                max = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=LIMIT_MAX).contains(n))
                    .ok_or_else(|| format!("max must be a number from 1 to {LIMIT_MAX}, got {n:?}"))?;
            }
            ("order", "asc") => desc = false,
            ("order", "desc") => desc = true,
            ("order", other) => return Err(format!("order must be asc or desc, got {other:?}")),
            (other, _) => return Err(format!("unknown range parameter {other:?}")),
        }
    }
    Ok(RangeSpec { field: field.to_string(), start, exclusive, end, max, desc })
}

/// A field a list can be ranged by, and how to get it from an item.
pub type RangeField<T> = (&'static str, fn(&T) -> Key);

/// Selects the page the request's `Range` header asks for (the first field is the default sort)
/// and renders it as a 200 or 206 JSON array.
pub fn respond<T, V: serde::Serialize>(
    headers: &HeaderMap,
    mut items: Vec<T>,
    fields: &[RangeField<T>],
    render: impl Fn(&T) -> V,
) -> Result<Response, ApiError> {
    let accepted = || fields.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
    let spec = match headers.get(http::header::RANGE) {
        None => RangeSpec {
            field: fields[0].0.to_string(),
            start: None,
            exclusive: false,
            end: None,
            max: DEFAULT_MAX,
            desc: false,
        },
        Some(value) => {
            let text = value.to_str().map_err(|_| ApiError::bad_range("Range header is not text."))?;
            parse(text).map_err(|e| {
                ApiError::bad_range(format!(
                    "Invalid Range header: {e}. Expected `<field> [start]..[end][; max=N, order=asc|desc]`, \
                     with field one of: {}.",
                    accepted()
                ))
            })?
        }
    };
    let key_of = fields.iter().find(|(name, _)| *name == spec.field).map(|(_, key)| *key).ok_or_else(|| {
        ApiError::bad_range(format!("Cannot range by {:?}. Accepted fields: {}.", spec.field, accepted()))
    })?;
    items.sort_by_key(key_of);
    if spec.desc {
        items.reverse();
    }
    // Bounds are read as keys of the same kind as the list's.
    let bound = |text: &Option<String>| -> Result<Option<Key>, ApiError> {
        match (text, items.first()) {
            (Some(text), Some(first)) => key_of(first).parse_like(text).map(Some).ok_or_else(|| {
                ApiError::bad_range(format!("Invalid Range header: {text:?} is not a valid {}.", spec.field))
            }),
            _ => Ok(None),
        }
    };
    let (start, end) = (bound(&spec.start)?, bound(&spec.end)?);
    // "after" and "before" in the iteration order.
    let after = |key: &Key, start: &Key| if spec.desc { key < start } else { key > start };
    let mut selected: Vec<T> = items
        .into_iter()
        .filter(|item| {
            let key = key_of(item);
            let from_ok = start.as_ref().is_none_or(|s| after(&key, s) || (!spec.exclusive && key == *s));
            let to_ok = end.as_ref().is_none_or(|e| !after(&key, e));
            from_ok && to_ok
        })
        .collect();
    let more = selected.len() > spec.max;
    selected.truncate(spec.max);
    let body: Vec<V> = selected.iter().map(&render).collect();
    let mut response = Json(body).into_response();
    if more && let Some(last) = selected.last() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let next = format!(
            "{} ]{}..; max={}, order={}",
            spec.field,
            key_of(last).render(),
            spec.max,
            if spec.desc { "desc" } else { "asc" }
        );
        if let Ok(value) = HeaderValue::from_str(&next) {
            response.headers_mut().insert("next-range", value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&accepted()) {
        response.headers_mut().insert("accept-ranges", value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(field: &str, start: Option<&str>, exclusive: bool, max: usize, desc: bool) -> RangeSpec {
        RangeSpec { field: field.into(), start: start.map(Into::into), exclusive, end: None, max, desc }
    }

    #[test]
    fn parses_what_the_heroku_cli_sends() {
        assert_eq!(parse("version ..; max=15, order=desc"), Ok(spec("version", None, false, 15, true)));
        assert_eq!(parse("version ..; order=desc,max=1"), Ok(spec("version", None, false, 1, true)));
        assert_eq!(parse("id ..; max=1000;"), Ok(spec("id", None, false, 1000, false)));
        assert_eq!(parse("name ]beta..; max=2, order=asc"), Ok(spec("name", Some("beta"), true, 2, false)));
        assert_eq!(parse("name"), Ok(spec("name", None, false, DEFAULT_MAX, false)));
        let full = parse("version 2..5").unwrap();
        assert_eq!((full.start.as_deref(), full.end.as_deref()), (Some("2"), Some("5")));
    }

    #[test]
    fn rejects_malformed_ranges() {
        for bad in ["", "..", "version ]", "version ..; max=0", "version ..; max=1001", "version ..; max=x",
            "version ..; order=up", "version ..; limit=3", "version ..; max"]
        {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    fn page(range: Option<&str>) -> (StatusCode, Option<String>, Vec<i64>) {
        let mut headers = HeaderMap::new();
        if let Some(range) = range {
            headers.insert(http::header::RANGE, HeaderValue::from_str(range).unwrap());
        }
        let items: Vec<i64> = (1..=5).collect();
        let fields: &[RangeField<i64>] = &[("version", |n| Key::Int(*n))];
        let response = respond(&headers, items, fields, |n| serde_json::json!(n)).unwrap();
        let next = response.headers().get("next-range").map(|v| v.to_str().unwrap().to_string());
        let status = response.status();
        let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 20)).unwrap();
        (status, next, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn pages_follow_next_range_to_the_end() {
        assert_eq!(page(None), (StatusCode::OK, None, vec![1, 2, 3, 4, 5]));
        let (status, next, items) = page(Some("version ..; max=2"));
        assert_eq!((status, items), (StatusCode::PARTIAL_CONTENT, vec![1, 2]));
        assert_eq!(next.as_deref(), Some("version ]2..; max=2, order=asc"));
        assert_eq!(page(next.as_deref()).2, vec![3, 4]);
        assert_eq!(page(Some("version ]4..; max=2, order=asc")), (StatusCode::OK, None, vec![5]));
        assert_eq!(page(Some("version ..; order=desc,max=1")).2, vec![5]);
        let (_, next, items) = page(Some("version ..; max=3, order=desc"));
        assert_eq!((items, next.as_deref()), (vec![5, 4, 3], Some("version ]3..; max=3, order=desc")));
        assert_eq!(page(next.as_deref()), (StatusCode::OK, None, vec![2, 1]));
        assert_eq!(page(Some("version 2..4")).2, vec![2, 3, 4]);
    }
}
