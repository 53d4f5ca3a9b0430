//! The null distributions of the two-sample Kolmogorov–Smirnov statistic that scipy's
//! `ks_2samp` uses by default (`method="auto"`, scipy 1.17), ported so that [`crate::ks`]'s
//! p-values agree with scipy's (and so with Evidently's, which calls `ks_2samp`) to 1e-6:
//!
//! - **Exact** when both samples hold at most 10,000 values: the probability that a lattice
//!   path from (0, 0) to (m, n) leaves the band `|x/m - y/n| < D`, by Hodges' "inside method"
//!   with Viehmann's recursion for `1 - p` (scipy's `_compute_outer_prob_inside_method`), or, for
//!   `m = n`, the alternating binomial sum in Horner form (`_compute_prob_outside_square`).
//! - **Asymptotic** otherwise: the exact one-sample distribution of `D_N` (scipy's `kstwo`,
//!   Simard & L'Ecuyer 2011) at `N = round(m n / (m + n))`, not the limiting Kolmogorov
//!   distribution ([`crate::kolmogorov_sf`]), which differs by O(1/sqrt N).
//!
//! statrs 0.18 (the workspace's) has no Kolmogorov–Smirnov test; statrs 0.19's exact method
//! refuses `m n > 10,000` and its asymptotic one is the limiting distribution, so neither
//! matches scipy's choice.

use statrs::function::gamma::ln_gamma;

/// scipy's `MAX_AUTO_N`: `method="auto"` is exact when neither sample is larger.
pub(crate) const MAX_EXACT_N: usize = 10_000;

/// `2^128`, the rescaling step of the Durbin matrix power.
const SCALE: f64 = 3.402_823_669_209_385e38;

/// The p-value of the two-sided two-sample test for samples of sizes `m`, `n` and statistic
/// `d`, as scipy's `ks_2samp(method="auto")` computes it.
pub(crate) fn two_sample_p_value(m: usize, n: usize, d: f64) -> f64 {
    if m.max(n) <= MAX_EXACT_N {
        exact_two_sample_sf(m, n, d)
    } else {
        let (m, n) = (m as f64, n as f64);
        kolmogorov_n_sf((m * n / (m + n)).round() as usize, d)
    }
}

/// The greatest common divisor.
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `P(D_{m,n} >= d)` exactly (scipy's `_attempt_exact_2kssamp`, two-sided): `d` is first
/// rounded to the lattice, `h = round(d lcm(m, n))`.
fn exact_two_sample_sf(m: usize, n: usize, d: f64) -> f64 {
    if m == 0 || n == 0 {
        return 1.0;
    }
    let g = gcd(m, n);
    let lcm = (m / g) as f64 * n as f64;
    let h = (d * lcm).round();
    if h <= 0.0 {
        return 1.0;
    }
    let h = h as usize;
    let p = if m == n {
        prob_outside_square(n, h)
    } else {
        outer_prob_inside_method(m, n, g, h)
    };
    p.clamp(0.0, 1.0)
}

/// `P(D_{n,n} >= h/n)`: `2 Σ_k (-1)^(k-1) C(2n, n - k h) / C(2n, n)`, evaluated as
/// `2 A0 (1 - A1 (1 - A2 (..)))` to avoid cancellation (scipy's `_compute_prob_outside_square`).
fn prob_outside_square(n: usize, h: usize) -> f64 {
    let (nf, hf) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (nf / hf).floor() as i64;
    while k >= 0 {
        let kf = k as f64;
        let mut p1 = 1.0;
        for j in 0..h {
            let j = j as f64;
            p1 = (nf - kf * hf - j) * p1 / (nf + kf * hf + j + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// The share of lattice paths from (0, 0) to (m, n) that do not stay strictly inside
/// `|x/m - y/n| < h / lcm(m, n)`, computed as `1 - p` directly, one column at a time over a
/// sliding window (scipy's `_compute_outer_prob_inside_method`; Hodges 1958, Viehmann 2021).
fn outer_prob_inside_method(m: usize, n: usize, g: usize, h: usize) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as f64, (n / g) as f64);
    let hf = h as f64;
    let mut minj = 0usize;
    let mut maxj = ((hf / mg).ceil() as usize).min(n + 1);
    let mut curlen = maxj - minj;
    let mut a = vec![1.0f64; n + 2];
    a[minj..maxj].fill(0.0);
    for i in 1..=m {
        let fi = i as f64;
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((((ng * fi - hf) / mg).floor() + 1.0).max(0.0) as usize).min(n);
        maxj = (((ng * fi + hf) / mg).ceil() as usize).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..maxj - minj {
            let j = (jj + minj) as f64;
            let previous = a.get(jj + minj - lastminj).copied().unwrap_or(1.0);
            val = (previous * fi + val * j) / (fi + j);
            a[jj] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let end = lastlen.min(a.len());
            a[curlen..end].fill(1.0);
        }
    }
    a[maxj - minj - 1]
}

/// `P(D_n > x)` of the one-sample two-sided statistic for `n` observations (scipy's
/// `kstwo.sf`, `_kolmogn(n, x, cdf=False)`), choosing among the same methods as scipy:
/// Ruben–Gambino's closed forms at the ends, twice the one-sided Smirnov tail where that is
/// exact or accurate, the Durbin matrix (Marsaglia–Tsang–Wang) and the Pelz–Good expansion.
/// Where scipy uses Pomeranz's recursion (n <= 140, 0.754693 < n x² <= 4) this uses the Durbin
/// matrix, which computes the same exact probability.
pub(crate) fn kolmogorov_n_sf(n: usize, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return 1.0;
    }
    let nf = n as f64;
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        // P(D_n <= x) = n! / n^n (2t - 1)^n.
        let log_cdf = ln_gamma(nf + 1.0) - nf * nf.ln() + nf * (2.0 * t - 1.0).ln();
        return (1.0 - log_cdf.exp()).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nx2 = t * x;
    if n <= 140 {
        if nx2 <= 4.0 {
            return (1.0 - durbin_cdf(n, x)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if nx2 >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

/// The one-sided Smirnov tail `P(D+_n >= x)`, exactly, by the Birnbaum–Tingey sum
/// `x Σ_{j=0}^{⌊n(1-x)⌋} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1)`, each term in logarithms
/// (all terms are positive, so the sum keeps its relative accuracy).
fn smirnov_sf(n: usize, x: f64) -> f64 {
    let nf = n as f64;
    let last = (nf * (1.0 - x)).floor() as usize;
    let ln_n_factorial = ln_gamma(nf + 1.0);
    let mut sum = 0.0;
    for j in 0..=last.min(n) {
        let jf = j as f64;
        let rest = 1.0 - x - jf / nf;
        if rest <= 0.0 && j < n {
            continue;
        }
        let ln_binom = ln_n_factorial - ln_gamma(jf + 1.0) - ln_gamma(nf - jf + 1.0);
        let ln_rest = if j == n { 0.0 } else { (nf - jf) * rest.ln() };
        sum += (ln_binom + ln_rest + (jf - 1.0) * (x + jf / nf).ln()).exp();
    }
    x * sum
}

/// A square matrix product.
fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..m {
                out[i * m + j] += aik * b[k * m + j];
            }
        }
    }
    out
}

/// `P(D_n <= d)` by the Durbin matrix: with `d = (k - h)/n`, the `(k, k)` entry of
/// `(n!/n^n) H^n` for the `(2k-1)²` matrix H of Marsaglia, Tsang and Wang (2003), powers
/// rescaled by 2^128 to stay in range (scipy's `_kolmogn_DMTW`).
fn durbin_cdf(n: usize, d: f64) -> f64 {
    let nd = n as f64 * d;
    if d >= 1.0 {
        return 1.0;
    }
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for (r, wv) in (i - 1..m).zip(&w) {
            hm[r * m + i] = *wv;
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
        hm[(m - 1) * m + r] = v[m - 1 - r];
    }
    let mut power: Vec<f64> = (0..m * m)
        .map(|i| if i / m == i % m { 1.0 } else { 0.0 })
        .collect();
    let (mut nn, mut exponent, mut h_exponent) = (n, 0i32, 0i32);
    while nn > 0 {
        if nn % 2 == 1 {
            power = matmul(&power, &hm, m);
            exponent += h_exponent;
        }
        hm = matmul(&hm, &hm, m);
        h_exponent *= 2;
        if hm[(k - 1) * m + k - 1].abs() > SCALE {
            hm.iter_mut().for_each(|x| *x /= SCALE);
            h_exponent += 128;
        }
        nn /= 2;
    }
    let mut p = power[(k - 1) * m + k - 1];
    for i in 1..=n {
        p = i as f64 * p / n as f64;
        if p.abs() < 1.0 / SCALE {
            p *= SCALE;
            exponent -= 128;
        }
    }
    ldexp(p, exponent).clamp(0.0, 1.0)
}

/// `x 2^e` without the intermediate power under- or overflowing.
fn ldexp(mut x: f64, mut e: i32) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// The Pelz–Good (1976) approximation of `P(D_n <= x)`: the Li-Chien–Korolyuk expansion
/// `K0(z) + K1(z)/sqrt n + K2(z)/n + K3(z)/n^1.5`, `z = x sqrt n`, with each term in its
/// Jacobi-theta form (scipy's `_kolmogn_PelzGood`).
fn pelz_good_cdf(n: usize, x: f64) -> f64 {
    use std::f64::consts::PI;
    let nf = n as f64;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let (k1a, k1b) = (-z2, pi2 / 4.0);
    let (k2a, k2b, k2c) = (
        6.0 * z6 + 2.0 * z4,
        (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
        pi4 * (1.0 - 2.0 * z2) / 16.0,
    );
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut terms = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * k as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (t, c) in terms.iter_mut().zip(coeffs) {
            *t = *t * qpower + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let divisors = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (t, d) in terms.iter_mut().zip(divisors) {
        *t = *t * q * sqrt2pi / d;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    let sqrt3z = 3f64.sqrt() * z;
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let qk = q.powf(kf * kf);
        k2extra += kf * kf * qk;
        k3extra += (sqrt3z + PI * kf) * (sqrt3z - PI * kf) * kf * kf * qk;
    }
    terms[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    terms[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    terms
        .iter()
        .enumerate()
        .map(|(i, t)| t / nf.powf(i as f64 / 2.0))
        .sum()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn exact_small_cases_by_counting() {
        // m = n = 2: of the C(4, 2) = 6 orderings, D = 1 for "aabb" and "bbaa": p = 1/3.
        assert!((exact_two_sample_sf(2, 2, 1.0) - 1.0 / 3.0).abs() < 1e-15);
        // m = 1, n = 2: D = 1 when the single value is the smallest or the largest: 2 of 3.
        assert!((exact_two_sample_sf(1, 2, 1.0) - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(exact_two_sample_sf(3, 4, 0.0), 1.0);
    }

    #[test]
    fn one_sample_ends_are_closed_forms() {
        // D_n lies in [1/(2n), 1]: below 1/(2n) it is certain to be exceeded.
        assert_eq!(kolmogorov_n_sf(10, 0.04), 1.0);
        assert_eq!(kolmogorov_n_sf(10, 1.0), 0.0);
        // t >= n - 1: 2 (1 - x)^n.
        assert!((kolmogorov_n_sf(10, 0.95) - 2.0 * 0.05f64.powi(10)).abs() < 1e-20);
    }
}
