//! Object ids: a prefix and a fixed number of digits (`TKT-OBJ`, 3 → `TKT-OBJ-007`).
//!
//! Ids are parsed strictly (exact prefix, exactly `width` digits, never zero)
//! because two spellings of one id (`TKT-OBJ-7`, `TKT-OBJ-007`) would let a
//! collision hide from every check that compares strings.

use crate::authz::FoldRange;

/// Longest accepted prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 32;
/// Widest accepted id, in digits (keeps every id number inside `u64`).
pub const MAX_WIDTH: u32 = 18;

/// How ids are spelled in one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFormat {
    prefix: String,
    width: u32,
}

impl IdFormat {
    /// A format with `prefix` and `width` digits, or a one-line reason it is unusable.
    ///
    /// The prefix is ASCII letters, digits, `-` and `_`, starts with a letter
    /// or digit and does not end with `-` (the separator before the number).
    pub fn new(prefix: &str, width: u32) -> Result<Self, String> {
        if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN {
            return Err(format!(
                "id prefix {prefix:?}: expected 1 to {MAX_PREFIX_LEN} characters"
            ));
        }
        let ok_chars = prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let first_ok = prefix.as_bytes()[0].is_ascii_alphanumeric();
        if !ok_chars || !first_ok || prefix.ends_with('-') {
            return Err(format!(
                "id prefix {prefix:?}: expected ASCII letters, digits, '-' or '_', starting with a letter or digit and not ending with '-'"
            ));
        }
        if width == 0 || width > MAX_WIDTH {
            return Err(format!(
                "id width {width}: expected 1 to {MAX_WIDTH} digits"
            ));
        }
        Ok(IdFormat {
            prefix: prefix.to_string(),
            width,
        })
    }

    /// The prefix, without the `-` separator.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Number of digits of every id.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// The highest id number this width can spell (`999` for width 3).
    pub fn max_number(&self) -> u64 {
        10u64.pow(self.width) - 1
    }

    /// The id of number `n`, zero-padded to the width.
    pub fn format(&self, n: u64) -> String {
        self.id(n).to_string()
    }

    /// [`IdFormat::format`] as something to write, so a document of many
    /// ids is rendered without a string per id.
    pub fn id(&self, n: u64) -> impl std::fmt::Display + '_ {
        Id { fmt: self, n }
    }

    /// Appends the id of number `n` to `s`, as [`IdFormat::format`] spells
    /// it: the documents of a large registry are mostly ids, rendered on
    /// every claim, so this goes straight into the string.
    pub fn push_id(&self, s: &mut String, n: u64) {
        // Writing into a `String` cannot fail.
        let _ = self.write_id(s, n);
    }

    /// Appends a range as [`IdFormat::format_range`] spells it.
    pub fn push_range(&self, s: &mut String, first: u64, last: u64) {
        let _ = self.write_range(s, first, last);
    }

    /// Writes the id of number `n`: `{:0w$}` spelled out, because the
    /// documents of a large registry hold tens of thousands of ids,
    /// rendered on every claim, and the formatter's padding machinery was a
    /// tenth of a claim's time. The one spelling behind [`IdFormat::id`]
    /// and [`IdFormat::push_id`].
    fn write_id(&self, w: &mut impl std::fmt::Write, n: u64) -> std::fmt::Result {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n);
        let pad = (self.width as usize).saturating_sub(digits.len());
        w.write_str(&self.prefix)?;
        w.write_str("-")?;
        w.write_str(ZEROS.get(..pad).unwrap_or(ZEROS))?;
        w.write_str(digits)
    }

    /// Writes a range (`FIRST..LAST`, or one id when they are equal).
    fn write_range(&self, w: &mut impl std::fmt::Write, first: u64, last: u64) -> std::fmt::Result {
        self.write_id(w, first)?;
        if first != last {
            w.write_str("..")?;
            self.write_id(w, last)?;
        }
        Ok(())
    }

    /// [`IdFormat::format_range`] as something to write.
    pub fn range(&self, first: u64, last: u64) -> impl std::fmt::Display + '_ {
        IdRange {
            fmt: self,
            first,
            last,
        }
    }

    /// A range of ids as `FIRST..LAST` (a single id when they are equal).
    pub fn format_range(&self, first: u64, last: u64) -> String {
        self.range(first, last).to_string()
    }

    /// The number of `id`, or why `id` is not an id of this format.
    pub fn parse(&self, id: &str) -> Result<u64, String> {
        let digits = id
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .ok_or_else(|| format!("{id:?} does not start with \"{}-\"", self.prefix))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{id:?}: expected \"{}-\" followed by {} digits",
                self.prefix, self.width
            ));
        }
        if digits.len() != self.width as usize {
            return Err(format!(
                "{id:?} is out of width: {} digits, expected exactly {} (e.g. {})",
                digits.len(),
                self.width,
                self.format(1)
            ));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{id:?}: number too large"))?;
        if n == 0 {
            return Err(format!("{id:?}: id numbers start at 1"));
        }
        Ok(n)
    }

    /// Parses a fold range: numbers (`442..461`, as [`FoldRange`] reads them)
    /// or full ids of this format (`TKT-OBJ-442..TKT-OBJ-461`).
    pub fn parse_range(&self, s: &str) -> Result<FoldRange, String> {
        let by_number = s.parse::<FoldRange>();
        let range = match by_number {
            Ok(r) => r,
            Err(number_err) => {
                let Some((a, b)) = s.split_once("..") else {
                    return Err(number_err);
                };
                if !a.starts_with(self.prefix.as_str()) && !b.starts_with(self.prefix.as_str()) {
                    return Err(number_err);
                }
                let first = self.parse(a).map_err(|e| format!("range {s:?}: {e}"))?;
                let last = self.parse(b).map_err(|e| format!("range {s:?}: {e}"))?;
                if first > last {
                    return Err(format!("range {s:?}: start {a} is after end {b}"));
                }
                FoldRange { first, last }
            }
        };
        if range.last > self.max_number() {
            return Err(format!(
                "range {s:?}: {} is beyond width {} (highest id {})",
                range.last,
                self.width,
                self.format(self.max_number())
            ));
        }
        Ok(range)
    }
}

/// Whether `s` is 64 lowercase hex digits (a sha256 as holdfast writes it).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compresses sorted, distinct numbers into ranges of consecutive numbers.
pub fn runs(sorted: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &n in sorted {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => out.push((n, n)),
        }
    }
    out
}

/// One id, written as [`IdFormat::format`] spells it.
struct Id<'a> {
    fmt: &'a IdFormat,
    n: u64,
}

/// Zeros to pad a number to [`MAX_WIDTH`] digits.
const ZEROS: &str = "000000000000000000";
const _: () = assert!(ZEROS.len() == MAX_WIDTH as usize);

impl std::fmt::Display for Id<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fmt.write_id(f, self.n)
    }
}

/// A range of ids, written as [`IdFormat::format_range`] spells it.
struct IdRange<'a> {
    fmt: &'a IdFormat,
    first: u64,
    last: u64,
}

impl std::fmt::Display for IdRange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fmt.write_range(f, self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tkt() -> IdFormat {
        IdFormat::new("TKT-OBJ", 3).unwrap()
    }

    proptest::proptest! {
        /// The spelled-out padding is `{:0w$}`'s, for every width and
        /// number (also numbers wider than the width, which it does not cut).
        #[test]
        fn an_id_is_spelled_as_zero_padded_formatting_spells_it(
            width in 1..=MAX_WIDTH,
            n in proptest::prop_oneof![0..1000u64, proptest::num::u64::ANY],
        ) {
            let f = IdFormat::new("TKT-OBJ", width).unwrap();
            let w = width as usize;
            let want = format!("TKT-OBJ-{n:0w$}");
            proptest::prop_assert_eq!(f.format(n), want.clone());
            let mut pushed = String::from("x");
            f.push_id(&mut pushed, n);
            proptest::prop_assert_eq!(pushed, format!("x{want}"));
            let last = n.saturating_add(n % 3);
            let mut range = String::new();
            f.push_range(&mut range, n, last);
            proptest::prop_assert_eq!(range, f.format_range(n, last));
        }
    }

    #[test]
    fn ids_are_spelled_with_exactly_width_digits() {
        let f = tkt();
        assert_eq!(f.format(7), "TKT-OBJ-007");
        assert_eq!(f.parse("TKT-OBJ-007"), Ok(7));
        assert_eq!(f.parse("TKT-OBJ-461"), Ok(461));
        assert_eq!(f.max_number(), 999);
        assert_eq!(f.format_range(442, 461), "TKT-OBJ-442..TKT-OBJ-461");
        assert_eq!(f.format_range(5, 5), "TKT-OBJ-005");
    }

    #[test]
    fn every_other_spelling_is_refused_with_a_reason() {
        let f = tkt();
        let cases = [
            ("TKT-OBJ-7", "out of width"),
            ("TKT-OBJ-1000", "out of width"),
            ("XYZ-OBJ-007", "does not start with"),
            ("TKT-OBJ007", "does not start with"),
            ("TKT-OBJ-", "followed by 3 digits"),
            ("TKT-OBJ-00a", "followed by 3 digits"),
            ("TKT-OBJ-+07", "followed by 3 digits"),
            ("TKT-OBJ-000", "start at 1"),
            ("tkt-obj-007", "does not start with"),
        ];
        for (id, why) in cases {
            let err = f.parse(id).unwrap_err();
            assert!(err.contains(why), "{id}: {err}");
        }
    }

    #[test]
    fn bad_prefixes_and_widths_are_refused() {
        for p in ["", "-X", "X-", "A B", "É", &"A".repeat(33)] {
            assert!(IdFormat::new(p, 3).is_err(), "{p:?}");
        }
        assert!(IdFormat::new("X", 0).is_err());
        assert!(IdFormat::new("X", 19).is_err());
        assert_eq!(
            IdFormat::new("X", 18).unwrap().max_number(),
            999_999_999_999_999_999
        );
        assert!(IdFormat::new("TKT_OBJ-2", 1).is_ok());
    }

    #[test]
    fn ranges_parse_as_numbers_or_ids() {
        let f = tkt();
        let r = FoldRange {
            first: 442,
            last: 461,
        };
        assert_eq!(f.parse_range("442..461"), Ok(r));
        assert_eq!(f.parse_range("TKT-OBJ-442..TKT-OBJ-461"), Ok(r));
        for bad in [
            "461..442",
            "TKT-OBJ-461..TKT-OBJ-442",
            "0..3",
            "442..1000",
            "TKT-OBJ-442..TKT-OBJ-1000",
            "x",
            "TKT-OBJ-442",
        ] {
            assert!(f.parse_range(bad).is_err(), "{bad}");
        }
        assert!(f.parse_range("461..442").unwrap_err().contains("after"));
    }

    #[test]
    fn runs_compress_consecutive_numbers() {
        assert_eq!(runs(&[1, 2, 3, 5, 7, 8]), vec![(1, 3), (5, 5), (7, 8)]);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn sha256_hex_is_exactly_64_lowercase_hex() {
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex(&"a".repeat(63)));
        assert!(!is_sha256_hex(&"g".repeat(64)));
    }
}
