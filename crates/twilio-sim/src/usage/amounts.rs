//! One (account, day)'s amount of every category: drawn from the seed, or computed from
//! that day's calls, then the sums and the total price.

use super::*;

/// Computes every category's amount for one (account, day) with history.
pub(super) fn compute_day(data: &Dataset, acct_idx: usize, day: NaiveDate) -> Vec<Amount> {
    let mut out = vec![Amount::default(); CATEGORIES.len()];
    let Some(acct) = data.accounts.get(acct_idx) else {
        return out;
    };
    let day_no = u64::from(day.num_days_from_ce().unsigned_abs());
    let inputs = DayInputs {
        acct,
        day,
        calls: &data.day_calls(acct_idx, day),
        elapsed: data.elapsed_on(day),
    };
    for (i, c) in CATEGORIES.iter().enumerate() {
        let mut r = Rng::new(hash(&[
            data.seed(),
            TAG_USAGE,
            acct_idx as u64,
            day_no,
            i as u64,
        ]));
        if let Some(a) = inputs.amount(c.kind, &mut r) {
            out[i] = a;
        }
    }
    fill_sums_and_total(&mut out);
    out
}

/// What one (account, day)'s usage derives from besides the draws.
struct DayInputs<'a> {
    acct: &'a Account,
    day: NaiveDate,
    calls: &'a [Call],
    /// Seconds of the day up to the clock (all of them for a past day).
    elapsed: i64,
}

impl DayInputs<'_> {
    /// Today's events so far: the first `n * elapsed / day` of the day's draws, so the amounts
    /// only grow as `now` moves and equal the whole day's once it is over.
    fn so_far(&self, n: u64) -> u64 {
        (i128::from(n) * i128::from(self.elapsed) / 86_400) as u64
    }

    /// The amount of one category of `kind`, drawing from `r`; `None` for the categories
    /// computed from others.
    fn amount(&self, kind: Kind, r: &mut Rng) -> Option<Amount> {
        Some(match kind {
            Kind::Calls(pred) => {
                let mut a = Amount {
                    count: Some(0),
                    ..Amount::default()
                };
                // Calls that never started (queued) are not billed and not counted.
                for call in self
                    .calls
                    .iter()
                    .filter(|x| x.start_time.is_some() && pred(x))
                {
                    a.add(&Amount {
                        count: Some(1),
                        usage: call.duration.billed_minutes(),
                        price: call.price.unwrap_or(0),
                    });
                }
                a
            }
            Kind::Events {
                max,
                units: (lo, hi),
                price,
                per,
            } => {
                let n = self.so_far(if r.permille(850) { r.below(max + 1) } else { 0 });
                let usage = (0..n).map(|_| r.range(lo, hi)).sum::<u64>() as i64;
                Amount {
                    count: Some(n as i64),
                    usage,
                    price: usage * price / per,
                }
            }
            Kind::Fractional { max_units, price } => {
                // Nine decimals, e.g. "0.123456789": exercises decimal handling downstream.
                let nano = self.so_far(if r.permille(800) {
                    r.below(max_units * 1_000_000_000)
                } else {
                    0
                });
                Amount {
                    count: None,
                    usage: nano as i64,
                    price: (i128::from(nano) * i128::from(price) / 1_000_000_000) as i64,
                }
            }
            Kind::PerSecond {
                max,
                secs: (lo, hi),
                price,
            } => {
                let n = self.so_far(if r.permille(700) { r.below(max + 1) } else { 0 });
                let secs = (0..n).map(|_| r.range(lo, hi)).sum::<u64>() as i64;
                Amount {
                    count: Some(n as i64),
                    usage: secs,
                    price: secs * price / 60,
                }
            }
            Kind::Monthly { price, per_number } => {
                let qty = match (self.day.day(), per_number) {
                    (1, true) => self.acct.numbers.len() as i64,
                    (1, false) => 1,
                    _ => 0,
                };
                Amount {
                    count: Some(qty),
                    usage: qty,
                    price: qty * price,
                }
            }
            Kind::Sum(_) | Kind::TotalPrice => return None,
        })
    }
}

/// Fills the `Sum` categories from their parts and `totalprice` from the `in_total` prices.
fn fill_sums_and_total(out: &mut [Amount]) {
    for (i, c) in CATEGORIES.iter().enumerate() {
        if let Kind::Sum(parts) = c.kind {
            let mut a = Amount {
                count: Some(0),
                ..Amount::default()
            };
            for part in parts {
                if let Some(j) = CATEGORIES.iter().position(|x| x.name == *part) {
                    a.add(&out[j]);
                }
            }
            out[i] = a;
        }
    }
    let total: i64 = CATEGORIES
        .iter()
        .zip(out.iter())
        .filter(|(c, _)| c.in_total)
        .map(|(_, a)| a.price)
        .sum();
    for (c, a) in CATEGORIES.iter().zip(out.iter_mut()) {
        if matches!(c.kind, Kind::TotalPrice) {
            *a = Amount {
                count: None,
                usage: total,
                price: total,
            };
        }
    }
}
