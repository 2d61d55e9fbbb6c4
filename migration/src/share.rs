//! A traffic share in percent with Consul's precision: 0 to 100 in steps of
//! 0.01, held exactly as hundredths of a percent.

use std::fmt;
use std::str::FromStr;

/// Hundredths of a percent in the whole: 100 %.
pub const WHOLE: u32 = 10_000;

/// A share of traffic, e.g. the Lambda's 25 % of the calls to greeter.
///
/// Held as hundredths of a percent (basis points), the unit both Consul
/// (weights scaled by 100) and the local Envoy (integer weights) use, so no
/// float ever decides a weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Share(u32);

/// Why a share was rejected, as the one line the command prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// Not a decimal number.
    #[error("{0:?} is not a number (expected a percentage such as 25 or 12.5)")]
    NotANumber(String),
    /// Below 0 or above 100.
    #[error("{0} is outside 0-100 (a share is a percentage)")]
    OutOfRange(String),
    /// More than two decimals.
    #[error("{0} is finer than 0.01 (Consul's precision; Consul would round it silently)")]
    TooFine(String),
}

impl Share {
    /// None of the traffic.
    pub const ZERO: Self = Self(0);
    /// All of the traffic.
    pub const ALL: Self = Self(WHOLE);

    /// A share of `hundredths` hundredths of a percent, if at most 100 %.
    pub fn from_hundredths(hundredths: u32) -> Option<Self> {
        (hundredths <= WHOLE).then_some(Self(hundredths))
    }

    /// Hundredths of a percent: 25 % is 2500.
    pub fn hundredths(self) -> u32 {
        self.0
    }

    /// The share of everything else: 100 % minus this one.
    pub fn rest(self) -> Self {
        Self(WHOLE - self.0)
    }

    /// As a probability, 0.0 to 1.0.
    pub fn fraction(self) -> f64 {
        f64::from(self.0) / f64::from(WHOLE)
    }
}

/// `25`, `12.5`, `33.33`: no trailing zeros, no float rounding.
impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, hundredths) = (self.0 / 100, self.0 % 100);
        match hundredths {
            0 => write!(f, "{whole}"),
            h if h % 10 == 0 => write!(f, "{whole}.{}", h / 10),
            h => write!(f, "{whole}.{h:02}"),
        }
    }
}

/// As a JSON number of percent: 12.5.
impl serde::Serialize for Share {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f64::from(self.0) / 100.0)
    }
}

/// Read back from a JSON number of percent, at Consul's precision: a
/// number that is not a whole number of hundredths, or outside 0-100, is
/// refused rather than rounded.
impl<'de> serde::Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let percent = f64::deserialize(d)?;
        let hundredths = (percent * 100.0).round();
        if !percent.is_finite() || (hundredths - percent * 100.0).abs() > 1e-6 {
            return Err(serde::de::Error::custom(format!(
                "{percent} is not a share at 0.01 precision"
            )));
        }
        if !(0.0..=f64::from(WHOLE)).contains(&hundredths) {
            return Err(serde::de::Error::custom(format!("{percent} is outside 0-100")));
        }
        Ok(Self(hundredths as u32))
    }
}

/// Parses a decimal percentage exactly, digit by digit: `50`, `12.5`,
/// `0.01`, `100.00`. A sign, an exponent or a third decimal is refused.
impl FromStr for Share {
    type Err = ShareError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let text = raw.trim().trim_end_matches('%');
        let not_a_number = || ShareError::NotANumber(raw.to_owned());
        if text.starts_with('-') && is_decimal(&text[1..]) {
            return Err(ShareError::OutOfRange(text.to_owned()));
        }
        if !is_decimal(text) {
            return Err(not_a_number());
        }
        let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
        let decimals = decimals.trim_end_matches('0');
        if decimals.len() > 2 {
            return Err(ShareError::TooFine(text.to_owned()));
        }
        let whole: u32 = match whole.trim_start_matches('0') {
            "" => 0,
            digits if digits.len() > 3 => return Err(ShareError::OutOfRange(text.to_owned())),
            digits => digits.parse().map_err(|_| not_a_number())?,
        };
        let hundredths: u32 = format!("{decimals:0<2}").parse().map_err(|_| not_a_number())?;
        Self::from_hundredths(whole * 100 + hundredths).ok_or_else(|| ShareError::OutOfRange(text.to_owned()))
    }
}

/// Digits with at most one dot, and at least one digit before or after it.
fn is_decimal(text: &str) -> bool {
    let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
    !(whole.is_empty() && decimals.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && decimals.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(raw: &str) -> Share {
        raw.parse().unwrap()
    }

    #[test]
    fn whole_and_decimal_percentages_parse_exactly() {
        assert_eq!(share("0").hundredths(), 0);
        assert_eq!(share("25").hundredths(), 2500);
        assert_eq!(share("12.5").hundredths(), 1250);
        assert_eq!(share("33.33").hundredths(), 3333);
        assert_eq!(share("0.01").hundredths(), 1);
        assert_eq!(share("100").hundredths(), 10_000);
        assert_eq!(share("100.00").hundredths(), 10_000);
        assert_eq!(share(".5").hundredths(), 50);
        assert_eq!(share("7.").hundredths(), 700);
        assert_eq!(share(" 50% ").hundredths(), 5000);
        assert_eq!(share("007.250").hundredths(), 725);
    }

    #[test]
    fn shares_outside_0_to_100_are_rejected() {
        for raw in ["100.01", "101", "-1", "-0.5", "1000", "99999999999999999999"] {
            assert!(
                matches!(raw.parse::<Share>(), Err(ShareError::OutOfRange(_))),
                "{raw}: {:?}",
                raw.parse::<Share>()
            );
        }
    }

    #[test]
    fn shares_finer_than_a_hundredth_are_rejected() {
        for raw in ["33.333", "0.001", "50.125"] {
            assert!(
                matches!(raw.parse::<Share>(), Err(ShareError::TooFine(_))),
                "{raw}"
            );
        }
        assert_eq!(
            "33.333".parse::<Share>().unwrap_err().to_string(),
            "33.333 is finer than 0.01 (Consul's precision; Consul would round it silently)"
        );
    }

    #[test]
    fn things_that_are_not_decimals_are_rejected() {
        for raw in ["", ".", "abc", "1e2", "+5", "5.5.5", "0x10", "NaN", "inf", "1 0"] {
            assert!(
                matches!(raw.parse::<Share>(), Err(ShareError::NotANumber(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn display_is_the_shortest_exact_form() {
        let shown = |h| Share::from_hundredths(h).unwrap().to_string();
        assert_eq!(shown(0), "0");
        assert_eq!(shown(5000), "50");
        assert_eq!(shown(1250), "12.5");
        assert_eq!(shown(3333), "33.33");
        assert_eq!(shown(5), "0.05");
        assert_eq!(shown(10_000), "100");
    }

    #[test]
    fn display_parses_back_to_the_same_share() {
        for h in (0..=WHOLE).step_by(7) {
            let s = Share::from_hundredths(h).unwrap();
            assert_eq!(s.to_string().parse::<Share>().unwrap(), s);
        }
    }

    #[test]
    fn json_round_trips_at_consuls_precision_and_refuses_the_rest() {
        for h in [0, 1, 1250, 3333, WHOLE] {
            let s = Share::from_hundredths(h).unwrap();
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Share>(&json).unwrap(), s, "{json}");
        }
        for bad in ["-1", "100.5", "12.345", "\"5\""] {
            assert!(serde_json::from_str::<Share>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rest_completes_100_percent() {
        assert_eq!(share("25").rest(), share("75"));
        assert_eq!(Share::ZERO.rest(), Share::ALL);
        assert_eq!(Share::from_hundredths(10_001), None);
    }
}
