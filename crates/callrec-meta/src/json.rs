//! Tolerant field deserializers (numbers as strings, integers as floats, 0–9 fractional digits)
//! and the parse entry point that names the file and JSON path in its errors.

use crate::error::Error;
use crate::time::{parse_timestamp, Nanos};
use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

/// A JSON number as written (or a numeric string).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    I(i64),
    U(u64),
    F(f64),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::I(v) => write!(f, "{v}"),
            Num::U(v) => write!(f, "{v}"),
            Num::F(v) => write!(f, "{v}"),
        }
    }
}

/// Describe what was found, JSON-style: `"eight"`, `true`, `null`, `an object`, `an array`.
struct Found;

impl Found {
    fn string(s: &str) -> String {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

struct NumVisitor;

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
        Ok(Num::I(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
        Ok(Num::U(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
        Ok(Num::F(v))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Num, E> {
        let t = s.trim();
        if let Ok(v) = t.parse::<u64>() {
            return Ok(Num::U(v));
        }
        if let Ok(v) = t.parse::<i64>() {
            return Ok(Num::I(v));
        }
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Num::F(v)),
            _ => Err(E::custom(format!(
                "expected a number, found {}",
                Found::string(s)
            ))),
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Num, E> {
        Err(E::custom(format!("expected a number, found {v}")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
        Err(E::custom("expected a number, found null"))
    }
    fn visit_none<E: de::Error>(self) -> Result<Num, E> {
        self.visit_unit()
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Num, A::Error> {
        Err(de::Error::custom("expected a number, found an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Num, A::Error> {
        Err(de::Error::custom("expected a number, found an array"))
    }
}

fn num<'de, D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
    d.deserialize_any(NumVisitor)
}

fn to_u64<E: de::Error>(n: Num, what: &str) -> Result<u64, E> {
    let bad = || E::custom(format!("expected {what}, found {n}"));
    match n {
        Num::U(v) => Ok(v),
        Num::I(v) => u64::try_from(v).map_err(|_| bad()),
        Num::F(v) if v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 => Ok(v as u64),
        Num::F(_) => Err(bad()),
    }
}

/// An unsigned 32-bit integer (number, integral float, or numeric string).
pub(crate) fn de_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = num(d)?;
    let v = to_u64::<D::Error>(n, "an unsigned 32-bit integer")?;
    u32::try_from(v)
        .map_err(|_| de::Error::custom(format!("expected an unsigned 32-bit integer, found {n}")))
}

/// An unsigned 64-bit integer (number, integral float, or numeric string).
pub(crate) fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    to_u64(num(d)?, "an unsigned integer")
}

/// Optional u32 (`null` or absent is `None`).
pub(crate) fn de_opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v: Value = serde::Deserialize::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    de_u32(v).map(Some).map_err(de::Error::custom)
}

/// A finite f64 (number or numeric string).
pub(crate) fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match num(d)? {
        Num::I(v) => v as f64,
        Num::U(v) => v as f64,
        Num::F(v) => v,
    })
}

/// Milliseconds (integer or float, or numeric string) as exact [`Nanos`].
pub(crate) fn de_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Nanos, D::Error> {
    let n = num(d)?;
    let out = match n {
        Num::I(v) => v.checked_mul(1_000_000).map(Nanos::from_nanos),
        Num::U(v) => i64::try_from(v)
            .ok()
            .and_then(|v| v.checked_mul(1_000_000))
            .map(Nanos::from_nanos),
        Num::F(v) => Nanos::from_millis_f64(v),
    };
    out.ok_or_else(|| {
        de::Error::custom(format!(
            "expected a duration in milliseconds within ±292 years, found {n}"
        ))
    })
}

struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = DateTime<Utc>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ISO 8601 time")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        parse_timestamp(s).ok_or_else(|| {
            E::custom(format!(
                "expected an ISO 8601 time, found {}",
                Found::string(s)
            ))
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(E::custom(format!("expected an ISO 8601 time, found {v}")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(E::custom(format!("expected an ISO 8601 time, found {v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(format!("expected an ISO 8601 time, found {v}")))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(E::custom(format!("expected an ISO 8601 time, found {v}")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("expected an ISO 8601 time, found null"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(
            "expected an ISO 8601 time, found an object",
        ))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(
            "expected an ISO 8601 time, found an array",
        ))
    }
}

/// An ISO 8601 time (0–9 fractional digits).
pub(crate) fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_any(TimeVisitor)
}

/// Optional ISO 8601 time.
pub(crate) fn de_opt_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let v: Value = serde::Deserialize::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    de_time(v).map(Some).map_err(de::Error::custom)
}

/// A list where `null` means empty.
pub(crate) fn de_vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

use serde::Deserialize as _;

/// Parse bytes into a JSON value, with the file in the error.
pub(crate) fn parse_value(bytes: &[u8], file: &Path) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Syntax {
        file: file.to_path_buf(),
        message: e.to_string(),
    })
}

/// Deserialize `T` from a value, naming the JSON path (`prefix` + serde path) on error.
pub(crate) fn from_value<T: DeserializeOwned>(
    v: &Value,
    file: &Path,
    prefix: &str,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, ".") => ".".to_string(),
            (true, _) => inner,
            (false, ".") => prefix.to_string(),
            (false, _) if inner.starts_with('[') => format!("{prefix}{inner}"),
            (false, _) => format!("{prefix}.{inner}"),
        };
        Error::Field {
            file: file.to_path_buf(),
            path,
            message: e.into_inner().to_string(),
        }
    })
}

/// The members of `v` (an object) whose keys are not in `known`.
pub(crate) fn extras(v: Option<&Value>, known: &[&str]) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::path::PathBuf;

    #[derive(Deserialize, Debug)]
    struct T {
        #[serde(deserialize_with = "de_u32")]
        a: u32,
        #[serde(deserialize_with = "de_millis")]
        d: Nanos,
    }

    fn parse(s: &str) -> Result<T, Error> {
        let f = PathBuf::from("x.json");
        from_value(&parse_value(s.as_bytes(), &f)?, &f, "")
    }

    #[test]
    fn numbers_strings_and_floats() {
        let t = parse(r#"{"a": "16000", "d": 5000.0}"#).unwrap();
        assert_eq!((t.a, t.d), (16000, Nanos::from_millis(5000)));
        let t = parse(r#"{"a": 8.0, "d": "0.5"}"#).unwrap();
        assert_eq!((t.a, t.d), (8, Nanos::from_micros(500)));
    }

    #[test]
    fn errors_name_field_and_value() {
        let e = parse(r#"{"a": "eight", "d": 1}"#).unwrap_err().to_string();
        assert_eq!(e, r#"x.json: a: expected a number, found "eight""#);
        let e = parse(r#"{"a": -3, "d": 1}"#).unwrap_err().to_string();
        assert_eq!(
            e,
            "x.json: a: expected an unsigned 32-bit integer, found -3"
        );
        let e = parse(r#"{"a": 1, "d": true}"#).unwrap_err().to_string();
        assert_eq!(e, "x.json: d: expected a number, found true");
        let e = parse(r#"{"a": 1, "d": 1e300}"#).unwrap_err().to_string();
        assert!(e.starts_with("x.json: d: expected a duration"), "{e}");
        let e = parse(r#"{"a": 1"#).unwrap_err().to_string();
        assert!(e.starts_with("x.json: not valid JSON: "), "{e}");
    }
}
