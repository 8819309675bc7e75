//! Exact non-negative rationals (seconds), for edit-list arithmetic across timescales.

use std::cmp::Ordering;

/// `num / den` seconds, reduced, `den > 0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rat {
    pub num: u128,
    pub den: u128,
}

pub(crate) fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

pub(crate) fn lcm(a: u128, b: u128) -> Option<u128> {
    if a == 0 || b == 0 {
        return Some(0);
    }
    (a / gcd(a, b)).checked_mul(b)
}

impl Rat {
    pub const ZERO: Rat = Rat { num: 0, den: 1 };

    /// `num / den`; `den` must be non-zero (callers pass timescales, which are).
    pub fn new(num: u128, den: u128) -> Rat {
        let den = den.max(1);
        let g = gcd(num, den).max(1);
        Rat {
            num: num / g,
            den: den / g,
        }
    }

    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    pub fn checked_add(self, o: Rat) -> Option<Rat> {
        let den = lcm(self.den, o.den)?;
        let a = self.num.checked_mul(den / self.den)?;
        let b = o.num.checked_mul(den / o.den)?;
        Some(Rat::new(a.checked_add(b)?, den))
    }

    /// `self - o`, `None` when negative or on overflow.
    pub fn checked_sub(self, o: Rat) -> Option<Rat> {
        let den = lcm(self.den, o.den)?;
        let a = self.num.checked_mul(den / self.den)?;
        let b = o.num.checked_mul(den / o.den)?;
        Some(Rat::new(a.checked_sub(b)?, den))
    }

    /// The value in ticks of `scale`, rounded half up; `None` on overflow.
    pub fn ticks_round(self, scale: u128) -> Option<u128> {
        let p = self.num.checked_mul(scale)?;
        Some((p + self.den / 2) / self.den)
    }

    /// The value in ticks of `scale` when it is a whole number of them.
    pub fn ticks_exact(self, scale: u128) -> Option<u128> {
        let p = self.num.checked_mul(scale)?;
        (p % self.den == 0).then_some(p / self.den)
    }
}

impl PartialEq for Rat {
    fn eq(&self, o: &Rat) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Rat {}
impl PartialOrd for Rat {
    fn partial_cmp(&self, o: &Rat) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Rat {
    fn cmp(&self, o: &Rat) -> Ordering {
        // Reduced fractions of realistic media times: the products fit in u128; saturate
        // rather than panic if they ever do not.
        let a = self.num.saturating_mul(o.den);
        let b = o.num.saturating_mul(self.den);
        a.cmp(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_exact() {
        let a = Rat::new(81920, 16384); // 5 s
        let b = Rat::new(80000, 16000); // 5 s
        assert_eq!(a, b);
        let c = a.checked_add(Rat::new(1, 1000)).unwrap();
        assert_eq!(c.ticks_exact(1000), Some(5001));
        assert_eq!(c.ticks_exact(16000), Some(80016));
        assert_eq!(Rat::new(1024, 16000).ticks_exact(16384), None);
        assert_eq!(Rat::new(1024, 16000).ticks_round(16384), Some(1049));
        assert!(Rat::new(1, 3).checked_sub(Rat::new(1, 2)).is_none());
        assert_eq!(lcm(16384, 16000), Some(2_048_000));
    }
}
