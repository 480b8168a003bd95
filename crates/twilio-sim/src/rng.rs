//! Deterministic hashing, a tiny PRNG and SID minting for the simulator.
//!
//! Everything the simulator generates derives from these functions, so one seed yields the same
//! accounts, calls and usage on every platform and with every `rand` release (we deliberately do
//! not use `rand`'s generators, whose streams may change between versions).
//!
//! This module does no I/O and knows nothing about Twilio resources beyond the SID shape
//! (two upper-case letters + 32 lower-case hex digits, `docs/twilio-api.md` §8).

/// Domain tags keep hashes for different purposes independent even when the other inputs match.
pub(crate) const TAG_ACCOUNT: u64 = 1;
pub(crate) const TAG_NUMBER: u64 = 2;
pub(crate) const TAG_CONNECT_APP: u64 = 3;
pub(crate) const TAG_DAY: u64 = 4;
pub(crate) const TAG_CALL: u64 = 5;
pub(crate) const TAG_USAGE: u64 = 6;
pub(crate) const TAG_TOKEN: u64 = 7;
pub(crate) const TAG_GROUP: u64 = 8;
pub(crate) const TAG_TRUNK: u64 = 9;
pub(crate) const TAG_AUTH_TOKEN: u64 = 10;
pub(crate) const TAG_AS_OF: u64 = 11;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a cheap bijective mixer with good avalanche.
fn fmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a sequence of words; order matters.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(GOLDEN, |h, &p| fmix(h.wrapping_add(GOLDEN) ^ p))
}

/// Hashes a string: its length, then its bytes eight at a time (little-endian, the last word
/// zero-padded).
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut words = vec![s.len() as u64];
    words.extend(s.as_bytes().chunks(8).map(|c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(w)
    }));
    hash(&words)
}

/// A SID: `prefix` + 32 lower-case hex digits derived from `parts`.
pub(crate) fn sid(prefix: &str, parts: &[u64]) -> String {
    let a = hash(parts);
    let b = hash(&[a, GOLDEN]);
    format!("{prefix}{a:016x}{b:016x}")
}

/// SplitMix64: small, fast, and its stream is fixed by its definition.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        fmix(self.0)
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift instead of `%` avoids modulo bias for the small ranges used here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (requires `lo <= hi`).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`/1000.
    pub(crate) fn permille(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One value, chosen with the given relative weights (at least one weight must be non-zero).
    pub(crate) fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut x = self.below(total);
        for &(item, w) in items {
            if x < u64::from(w) {
                return item;
            }
            x -= u64::from(w);
        }
        items[items.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_order_sensitive() {
        assert_eq!(hash(&[1, 2, 3]), hash(&[1, 2, 3]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[3, 2, 1]));
        assert_ne!(hash(&[0]), hash(&[0, 0]));
        assert_eq!(hash_str("abc"), hash_str("abc"));
        assert_ne!(hash_str("abc"), hash_str("abc\0"));
        assert_ne!(hash_str("/a?Page=1"), hash_str("/a?Page=2"));
    }

    #[test]
    fn sid_has_twilio_shape() {
        let s = sid("AC", &[42, TAG_ACCOUNT, 0]);
        assert_eq!(s.len(), 34);
        assert!(s.starts_with("AC"));
        assert!(s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn rng_ranges_stay_in_bounds() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            let x = r.range(5, 9);
            assert!((5..=9).contains(&x));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.weighted(&[("a", 0), ("b", 3)]), "b");
    }
}
