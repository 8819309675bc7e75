//! Exact time values: [`Nanos`] for media offsets and durations, and the parsing of the
//! service's ISO 8601 timestamps.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// A signed time span or offset in **nanoseconds**, held as an `i64` (±292 years).
///
/// Every duration and media offset in callrec-meta uses this type: it is exact for the
/// service's millisecond durations and for timestamps with up to 9 fractional digits (the
/// service writes 7), so sums never drift as `f64` milliseconds would. Arithmetic saturates
/// at the `i64` range instead of panicking on hostile input.
///
/// ```
/// use callrec_meta::Nanos;
/// let d = Nanos::from_millis(1500);
/// assert_eq!(d.as_nanos(), 1_500_000_000);
/// assert_eq!(d + Nanos::from_millis(500), Nanos::from_secs(2));
/// assert_eq!(Nanos::from_millis_f64(0.0015), Some(Nanos::from_nanos(1500)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(i64);

impl Nanos {
    /// Zero.
    pub const ZERO: Nanos = Nanos(0);
    /// The largest span.
    pub const MAX: Nanos = Nanos(i64::MAX);

    /// From nanoseconds.
    pub const fn from_nanos(ns: i64) -> Nanos {
        Nanos(ns)
    }

    /// From microseconds (saturating).
    pub const fn from_micros(us: i64) -> Nanos {
        Nanos(us.saturating_mul(1_000))
    }

    /// From whole milliseconds (saturating).
    pub const fn from_millis(ms: i64) -> Nanos {
        Nanos(ms.saturating_mul(1_000_000))
    }

    /// From whole seconds (saturating).
    pub const fn from_secs(s: i64) -> Nanos {
        Nanos(s.saturating_mul(1_000_000_000))
    }

    /// From fractional milliseconds, rounded to the nearest nanosecond; `None` when not finite
    /// or outside the `i64` nanosecond range.
    pub fn from_millis_f64(ms: f64) -> Option<Nanos> {
        let ns = (ms * 1e6).round();
        if ns.is_finite() && ns >= i64::MIN as f64 && ns < i64::MAX as f64 {
            Some(Nanos(ns as i64))
        } else {
            None
        }
    }

    /// From a chrono [`TimeDelta`]; saturates past ±292 years.
    pub fn from_time_delta(d: TimeDelta) -> Nanos {
        match d.num_nanoseconds() {
            Some(n) => Nanos(n),
            None if d < TimeDelta::zero() => Nanos(i64::MIN),
            None => Nanos(i64::MAX),
        }
    }

    /// `b - a` on the wall clock (saturating).
    pub fn between(a: DateTime<Utc>, b: DateTime<Utc>) -> Nanos {
        Nanos::from_time_delta(b.signed_duration_since(a))
    }

    /// The value in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The value in whole microseconds, rounded toward negative infinity.
    pub const fn as_micros_floor(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// The value in whole milliseconds, rounded toward negative infinity.
    pub const fn as_millis_floor(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// The value in milliseconds as `f64` (for display; exact below 2^53 ns, about 104 days).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The value in seconds as `f64` (for display).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// As a chrono [`TimeDelta`] (always representable).
    pub fn to_time_delta(self) -> TimeDelta {
        TimeDelta::nanoseconds(self.0)
    }

    /// `true` when below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The value in ticks of a `timescale` (ticks per second), rounded to the nearest tick,
    /// ties away from zero; `None` when `timescale` is 0 or the result does not fit an `i64`.
    ///
    /// ```
    /// use callrec_meta::Nanos;
    /// assert_eq!(Nanos::from_millis(2000).to_ticks(16384), Some(32768));
    /// assert_eq!(Nanos::from_millis(1).to_ticks(1000), Some(1));
    /// assert_eq!(Nanos::from_nanos(1_500_000).to_ticks(1000), Some(2)); // tie: away from 0
    /// assert_eq!(Nanos::from_nanos(-1_500_000).to_ticks(1000), Some(-2));
    /// ```
    pub fn to_ticks(self, timescale: u32) -> Option<i64> {
        if timescale == 0 {
            return None;
        }
        let num = i128::from(self.0) * i128::from(timescale);
        let den: i128 = 1_000_000_000;
        let q = num / den;
        let r = num % den;
        let q = if 2 * r.abs() >= den {
            q + r.signum()
        } else {
            q
        };
        i64::try_from(q).ok()
    }

    /// Ticks of a `timescale` to nanoseconds, rounded to the nearest nanosecond (ties away from
    /// zero); `None` when `timescale` is 0 or the result does not fit.
    pub fn from_ticks(ticks: i64, timescale: u32) -> Option<Nanos> {
        if timescale == 0 {
            return None;
        }
        let num = i128::from(ticks) * 1_000_000_000;
        let den = i128::from(timescale);
        let q = num / den;
        let r = num % den;
        let q = if 2 * r.abs() >= den {
            q + r.signum()
        } else {
            q
        };
        i64::try_from(q).ok().map(Nanos)
    }

    /// Saturating sum.
    pub const fn saturating_add(self, o: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(o.0))
    }

    /// Saturating difference.
    pub const fn saturating_sub(self, o: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(o.0))
    }

    /// The larger of zero and `self`.
    pub fn clamp_non_negative(self) -> Nanos {
        self.max(Nanos::ZERO)
    }
}

impl Add for Nanos {
    type Output = Nanos;
    fn add(self, o: Nanos) -> Nanos {
        self.saturating_add(o)
    }
}

impl Sub for Nanos {
    type Output = Nanos;
    fn sub(self, o: Nanos) -> Nanos {
        self.saturating_sub(o)
    }
}

impl AddAssign for Nanos {
    fn add_assign(&mut self, o: Nanos) {
        *self = *self + o;
    }
}

impl SubAssign for Nanos {
    fn sub_assign(&mut self, o: Nanos) {
        *self = *self - o;
    }
}

impl Neg for Nanos {
    type Output = Nanos;
    fn neg(self) -> Nanos {
        Nanos(self.0.saturating_neg())
    }
}

impl std::iter::Sum for Nanos {
    fn sum<I: Iterator<Item = Nanos>>(iter: I) -> Nanos {
        iter.fold(Nanos::ZERO, |a, b| a + b)
    }
}

/// Milliseconds with up to six decimals, trailing zeros trimmed: `1500 ms`, `0.5 ms`.
impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_saturated() {
            // A sum or product that saturated is no duration: never print 9223372036854.775807 ms.
            return f.write_str("out of range");
        }
        write!(f, "{} ms", millis_string(*self))
    }
}

impl Nanos {
    /// Whether this lies at least half the range from zero (about 146 years): where
    /// saturating arithmetic ends up, and what is computed from a saturated value (`MAX - x`),
    /// so not a duration that means anything (shown as "out of range").
    pub const fn is_saturated(self) -> bool {
        self.0 >= i64::MAX / 2 || self.0 <= i64::MIN / 2
    }
}

/// Milliseconds as a decimal string without unit: `"1500"`, `"-0.25"`, `"12.000001"`.
pub(crate) fn millis_string(n: Nanos) -> String {
    let v = i128::from(n.0);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.abs();
    let whole = a / 1_000_000;
    let frac = a % 1_000_000;
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let s = format!("{frac:06}");
        format!("{sign}{whole}.{}", s.trim_end_matches('0'))
    }
}

/// Parse an ISO 8601 / RFC 3339 timestamp as the service writes it: `Z` or a numeric offset,
/// 0 to 9 fractional digits (`2021-04-14T16:32:34.1115003Z`). A time without offset is read
/// as UTC. Returns `None` when the text is not such a time.
///
/// ```
/// use callrec_meta::parse_timestamp;
/// let t = parse_timestamp("2021-04-14T16:32:34.1115003Z").unwrap();
/// assert_eq!(t.timestamp_subsec_nanos(), 111_500_300);
/// assert_eq!(parse_timestamp("2021-04-14T16:32:34Z").unwrap().timestamp_subsec_nanos(), 0);
/// assert!(parse_timestamp("yesterday").is_none());
/// ```
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// Format a wall-clock time as RFC 3339 UTC with as many fractional digits as needed (0, 3, 6
/// or 9) and a `Z`: `2024-05-16T10:20:30.125Z`.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `t + d`, saturating at chrono's representable range instead of panicking.
pub(crate) fn add_nanos(t: DateTime<Utc>, d: Nanos) -> DateTime<Utc> {
    match t.checked_add_signed(d.to_time_delta()) {
        Some(x) => x,
        None if d.is_negative() => DateTime::<Utc>::MIN_UTC,
        None => DateTime::<Utc>::MAX_UTC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_durations_display_as_out_of_range() {
        assert_eq!(Nanos::MAX.to_string(), "out of range");
        assert_eq!(
            (-Nanos::MAX - Nanos::from_nanos(1)).to_string(),
            "out of range"
        );
        assert_eq!(
            Nanos::from_millis(i64::MAX)
                .saturating_add(Nanos::ZERO)
                .to_string(),
            "out of range"
        );
        assert_eq!(
            (Nanos::MAX - Nanos::from_secs(9000)).to_string(),
            "out of range"
        );
        assert_eq!(Nanos::from_millis(1500).to_string(), "1500 ms");
        assert_eq!(
            Nanos::from_secs(100 * 365 * 86_400).to_string(),
            "3153600000000 ms"
        );
    }

    #[test]
    fn ticks_round_trip_at_common_timescales() {
        for ts in [1000u32, 16000, 16384, 48000, 90000] {
            for ticks in [0i64, 1, 1023, 1024, 2048, 32768, 1_000_000] {
                let n = Nanos::from_ticks(ticks, ts).unwrap();
                assert_eq!(n.to_ticks(ts), Some(ticks), "ts {ts} ticks {ticks}");
            }
        }
        assert_eq!(Nanos::from_millis(1).to_ticks(0), None);
    }

    #[test]
    fn millis_string_trims() {
        assert_eq!(millis_string(Nanos::from_millis(1500)), "1500");
        assert_eq!(millis_string(Nanos::from_nanos(-250_000)), "-0.25");
        assert_eq!(millis_string(Nanos::from_nanos(12_000_001)), "12.000001");
        assert_eq!(
            millis_string(Nanos::from_nanos(i64::MIN)),
            "-9223372036854.775808"
        );
    }

    #[test]
    fn timestamps_with_0_to_7_fraction_digits() {
        let base = parse_timestamp("2024-05-16T10:20:30Z").unwrap();
        for (s, ns) in [
            ("2024-05-16T10:20:30.1Z", 100_000_000),
            ("2024-05-16T10:20:30.125Z", 125_000_000),
            ("2024-05-16T10:20:30.1250000Z", 125_000_000),
            ("2024-05-16T10:20:30.0000420Z", 42_000),
            ("2024-05-16T10:20:30.1115003+00:00", 111_500_300),
            ("2024-05-16T12:20:30.1115003+02:00", 111_500_300),
            ("2024-05-16T10:20:30.1115003", 111_500_300),
        ] {
            let t = parse_timestamp(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(Nanos::between(base, t).as_nanos(), ns, "{s}");
        }
        assert_eq!(format_timestamp(base), "2024-05-16T10:20:30Z");
        assert_eq!(
            format_timestamp(parse_timestamp("2024-05-16T10:20:30.0000420Z").unwrap()),
            "2024-05-16T10:20:30.000042Z"
        );
    }

    #[test]
    fn add_nanos_saturates() {
        assert_eq!(
            add_nanos(DateTime::<Utc>::MAX_UTC, Nanos::MAX),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            add_nanos(DateTime::<Utc>::MIN_UTC, -Nanos::MAX),
            DateTime::<Utc>::MIN_UTC
        );
        assert_eq!(
            Nanos::between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
            Nanos::MAX
        );
    }
}
