//! The SVG charts of a monitor report, drawn here as inline SVG (no script, no image): a
//! distribution check's baseline and window shares overlaid bin for bin, and a check's value
//! over its history with the threshold. Every label from the data goes through maud's
//! escaping.

use super::evaluate::Outcome;
use maud::{html, Markup};
use serde_json::Value;

/// Most bars a distribution chart draws; past it the smallest categories or values are
/// summed into one "other" bar.
const MAX_BARS: usize = 30;

/// Colour of the baseline's bars.
pub const BASELINE_COLOUR: &str = "#90a4ae";
/// Colour of the window's bars.
pub const WINDOW_COLOUR: &str = "#ef6c00";

/// A number for people: 4 decimals, or scientific notation when very large or small.
pub fn fmt_num(x: f64) -> String {
    if x.is_infinite() || x.abs() >= 1e4 || (x != 0.0 && x.abs() < 1e-3) {
        format!("{x:.3e}")
    } else {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    }
}

/// The colour of an outcome.
pub fn outcome_colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "#2e7d32",
        Outcome::Fail => "#c62828",
        Outcome::NoData => "#757575",
        Outcome::Error => "#6a1b9a",
    }
}

/// The word for an outcome.
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::NoData => "no data",
        Outcome::Error => "error",
    }
}

/// SVG coordinates with one decimal.
fn c(x: f64) -> String {
    format!("{x:.1}")
}

/// Shortens a label to `n` characters, with an ellipsis.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The shares of a distribution check, bin for bin, with their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    /// One label a bin.
    pub labels: Vec<String>,
    /// The baseline's share in each bin.
    pub baseline: Vec<f64>,
    /// The window's share in each bin.
    pub window: Vec<f64>,
    /// Bins summed into the last bar, when there were too many.
    pub folded: usize,
}

fn floats(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

/// The labels of the bins in `details`: equal-width edges as intervals, distinct values,
/// categories, or the bins' numbers for a history written before bins were labelled.
fn labels(details: &Value, n: usize) -> Vec<String> {
    let bins = &details["bins"];
    if let Some(e) = floats(&bins["edges"]).filter(|e| e.len() == n + 1) {
        let width = (e[n] - e[0]) / n as f64;
        return (0..n)
            .map(|i| {
                let close = if i + 1 == n { ']' } else { ')' };
                let (a, b) = (edge_label(e[i], width), edge_label(e[i + 1], width));
                format!("[{a}, {b}{close}")
            })
            .collect();
    }
    if let Some(v) = floats(&bins["values"]).filter(|v| v.len() == n) {
        return v.into_iter().map(fmt_num).collect();
    }
    let cats: Option<Vec<String>> = details["categories"].as_array().map(|a| {
        a.iter()
            .map(|s| s.as_str().unwrap_or("").to_string())
            .collect()
    });
    match cats.filter(|c| c.len() == n) {
        Some(c) => c,
        None => (1..=n).map(|i| format!("bin {i}")).collect(),
    }
}

impl Bars {
    /// The bars of a check's details (`details.bins`), if it has bins.
    pub fn from_details(details: &Value) -> Option<Bars> {
        let baseline = floats(&details["bins"]["baseline"])?;
        let window = floats(&details["bins"]["window"])?;
        if baseline.len() != window.len() || baseline.is_empty() {
            return None;
        }
        let labels = labels(details, baseline.len());
        let ordered = details["bins"].get("edges").is_some();
        Some(
            Bars {
                labels,
                baseline,
                window,
                folded: 0,
            }
            .capped(ordered),
        )
    }

    /// At most [`MAX_BARS`] bars: the largest bins (by the larger of the two shares) in
    /// their order, the rest summed into "other". Equal-width bins are never folded.
    fn capped(self, ordered: bool) -> Bars {
        let n = self.labels.len();
        if ordered || n <= MAX_BARS {
            return self;
        }
        let mut by_size: Vec<usize> = (0..n).collect();
        by_size.sort_by(|&a, &b| {
            let (x, y) = (
                self.baseline[a].max(self.window[a]),
                self.baseline[b].max(self.window[b]),
            );
            y.total_cmp(&x).then(a.cmp(&b))
        });
        let mut keep = by_size[..MAX_BARS - 1].to_vec();
        keep.sort_unstable();
        let rest = &by_size[MAX_BARS - 1..];
        let mut out = Bars {
            labels: keep.iter().map(|&i| self.labels[i].clone()).collect(),
            baseline: keep.iter().map(|&i| self.baseline[i]).collect(),
            window: keep.iter().map(|&i| self.window[i]).collect(),
            folded: rest.len(),
        };
        out.labels.push(format!("other ({})", rest.len()));
        out.baseline
            .push(rest.iter().map(|&i| self.baseline[i]).sum());
        out.window.push(rest.iter().map(|&i| self.window[i]).sum());
        out
    }
}

/// A round step for about four ticks up to `max`, from 1% to 25%, and the top of the axis
/// (a multiple of the step).
fn share_axis(max: f64) -> (f64, f64) {
    let top = max.clamp(0.01, 1.0) * 1.05;
    let step = [0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25]
        .into_iter()
        .find(|s| top / s <= 5.0)
        .unwrap_or(0.25);
    (step, ((top / step).ceil() * step).min(1.0))
}

/// A share as a percentage, with a decimal only when it needs one.
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// An edge of an equal-width bin, to as many decimals as the bins' width needs.
fn edge_label(x: f64, width: f64) -> String {
    if x.abs() >= 1e5 || width <= 0.0 || !width.is_finite() {
        return fmt_num(x);
    }
    let decimals = (1.0 - width.log10().floor()).clamp(0.0, 6.0) as usize;
    let s = format!("{x:.decimals$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

/// The overlaid bars of a distribution: the baseline wide and grey, the window narrower and
/// orange on top of it; each bar's shares in its tooltip.
pub fn bar_chart(b: &Bars) -> Markup {
    let n = b.labels.len();
    let rotate = n > 8 || b.labels.iter().any(|l| l.chars().count() > 10);
    let label_len = if rotate { 18 } else { 14 };
    let (w, left, right, top, plot_h) = (1040.0, 52.0, 12.0, 12.0, 200.0);
    // Room under the plot for the labels: rotated by 35°, a label rises about 0.6 of its
    // length.
    let longest = b
        .labels
        .iter()
        .map(|l| l.chars().count().min(label_len))
        .max();
    let h = top
        + plot_h
        + if rotate {
            24.0 + 3.9 * longest.unwrap_or(0) as f64
        } else {
            26.0
        };
    let plot_w = w - left - right;
    let (step, ymax) = share_axis(
        b.baseline
            .iter()
            .chain(&b.window)
            .fold(0.0, |a, v| a.max(*v)),
    );
    let y = |share: f64| top + plot_h * (1.0 - share / ymax);
    let slot = plot_w / n as f64;
    let ticks = (ymax / step).round() as u32;
    html! {
        svg class="chart bars" viewBox=(format!("0 0 {w} {h}")) role="img" {
            @for i in 0..=ticks {
                @let share = step * f64::from(i);
                line x1=(c(left)) x2=(c(w - right)) y1=(c(y(share))) y2=(c(y(share)))
                    class="grid" {}
                text x=(c(left - 6.0)) y=(c(y(share) + 4.0)) class="tick" text-anchor="end" {
                    (percent(share))
                }
            }
            @for i in 0..n {
                @let x0 = left + slot * i as f64;
                @let tip = format!("{}: baseline {:.1}%, window {:.1}%",
                    b.labels[i], b.baseline[i] * 100.0, b.window[i] * 100.0);
                g {
                    title { (tip) }
                    rect x=(c(x0 + slot * 0.08)) y=(c(y(b.baseline[i]))) width=(c(slot * 0.84))
                        height=(c(top + plot_h - y(b.baseline[i]))) fill=(BASELINE_COLOUR) {}
                    rect x=(c(x0 + slot * 0.25)) y=(c(y(b.window[i]))) width=(c(slot * 0.5))
                        height=(c(top + plot_h - y(b.window[i]))) fill=(WINDOW_COLOUR)
                        fill-opacity="0.85" {}
                }
                @let lx = x0 + slot / 2.0;
                @let ly = top + plot_h + 14.0;
                @if rotate {
                    text x=(c(lx)) y=(c(ly)) class="tick" text-anchor="end"
                        transform=(format!("rotate(-35 {} {})", c(lx), c(ly))) {
                        (short(&b.labels[i], label_len))
                    }
                } @else {
                    text x=(c(lx)) y=(c(ly)) class="tick" text-anchor="middle" {
                        (short(&b.labels[i], label_len))
                    }
                }
            }
            line x1=(c(left)) x2=(c(w - right)) y1=(c(top + plot_h)) y2=(c(top + plot_h))
                class="axis" {}
        }
    }
}

/// One evaluation of a check, for its history chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The window's end, µs since the epoch.
    pub t_us: i64,
    /// The value; `None` for no data, errors and non-finite values.
    pub value: Option<f64>,
    /// The outcome.
    pub outcome: Outcome,
    /// What the tooltip says besides the time and value.
    pub note: String,
}

/// A time on the chart's axis: `MM-DD HH:MM` (UTC).
fn axis_time(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map_or_else(String::new, |t| t.format("%m-%d %H:%M").to_string())
}

/// A round step (1, 2, 2.5 or 5 times a power of ten) near `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|m| m * mag >= raw)
        .unwrap_or(10.0);
    step * mag
}

/// A tick's label, to as many decimals as the step needs.
fn tick_label(v: f64, step: f64) -> String {
    if v.abs() >= 1e5 || step < 1e-6 {
        return fmt_num(v);
    }
    // The fewest decimals that write the step exactly.
    let decimals = (0..6)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6) as usize;
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

/// The value axis of a history chart: round ticks `(low, high, step)` over the values and
/// the threshold.
fn value_range(points: &[Point], threshold: Option<f64>) -> (f64, f64, f64) {
    let vals = points.iter().filter_map(|p| p.value).chain(threshold);
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, 0.25);
    }
    let span = if hi > lo {
        hi - lo
    } else {
        lo.abs().max(1.0) * 0.2
    };
    // Padded, but never below 0 for values that are not.
    let (lo, hi) = (
        if lo >= 0.0 {
            (lo - span * 0.05).max(0.0)
        } else {
            lo - span * 0.05
        },
        hi + span * 0.05,
    );
    let step = nice_step((hi - lo) / 4.0);
    let bottom = (lo / step).floor() * step;
    (bottom, (hi / step).ceil() * step, step)
}

/// A check's value over its history: a line through the values, each point coloured by its
/// outcome, the threshold dashed; evaluations without a value (no data, error) as hollow
/// marks on a strip under the plot, never as 0.
pub fn line_chart(points: &[Point], threshold: Option<f64>) -> Markup {
    let (w, left, right, top, plot_bottom, strip) = (520.0, 58.0, 14.0, 14.0, 150.0, 172.0);
    let (lo, hi, step) = value_range(points, threshold);
    let y = |v: f64| plot_bottom - (plot_bottom - top) * (v - lo) / (hi - lo);
    let t0 = points.iter().map(|p| p.t_us).min().unwrap_or(0);
    let t1 = points.iter().map(|p| p.t_us).max().unwrap_or(0);
    // Points stay 10 units inside the plot's sides.
    let x = |t: i64| {
        if t1 == t0 {
            (left + w - right) / 2.0
        } else {
            left + 10.0 + (w - left - right - 20.0) * (t - t0) as f64 / (t1 - t0) as f64
        }
    };
    let ticks_y = ((hi - lo) / step).round() as u32;
    let mut path = String::new();
    let mut pen_down = false;
    for p in points {
        match p.value {
            Some(v) => {
                path.push_str(&format!(
                    "{}{} {} ",
                    if pen_down { "L" } else { "M" },
                    c(x(p.t_us)),
                    c(y(v))
                ));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let mut ticks: Vec<i64> = vec![t0];
    if points.len() > 2 {
        ticks.push(t0 + (t1 - t0) / 2);
    }
    if t1 != t0 {
        ticks.push(t1);
    }
    html! {
        svg class="chart line" viewBox=(format!("0 0 {w} 204")) role="img" {
            @for i in 0..=ticks_y {
                @let v = lo + step * f64::from(i);
                line x1=(c(left)) x2=(c(w - right)) y1=(c(y(v))) y2=(c(y(v))) class="grid" {}
                text x=(c(left - 6.0)) y=(c(y(v) + 4.0)) class="tick" text-anchor="end" {
                    (tick_label(v, step))
                }
            }
            text x=(c(left - 6.0)) y=(c(strip + 4.0)) class="tick" text-anchor="end" {
                "no value"
            }
            line x1=(c(left)) x2=(c(w - right)) y1=(c(plot_bottom)) y2=(c(plot_bottom))
                class="axis" {}
            @if let Some(t) = threshold {
                line x1=(c(left)) x2=(c(w - right)) y1=(c(y(t))) y2=(c(y(t)))
                    class="threshold" {}
                text x=(c(w - right)) y=(c(y(t) - 4.0)) class="tick threshold-label"
                    text-anchor="end" { "threshold " (fmt_num(t)) }
            }
            path d=(path.trim_end()) class="series" {}
            @for p in points {
                @let tip = format!("{}: {} ({}){}", super::alert::rfc3339(p.t_us),
                    p.value.map_or("no value".into(), fmt_num), outcome_word(p.outcome),
                    if p.note.is_empty() { String::new() } else { format!(" {}", p.note) });
                @match p.value {
                    Some(v) => circle class="point" cx=(c(x(p.t_us))) cy=(c(y(v))) r="4.5"
                        fill=(outcome_colour(p.outcome)) { title { (tip) } },
                    None => rect class="point" x=(c(x(p.t_us) - 4.0)) y=(c(strip - 4.0)) width="8" height="8"
                        fill="none" stroke=(outcome_colour(p.outcome)) stroke-width="2" {
                        title { (tip) }
                    },
                }
            }
            @for (i, t) in ticks.iter().enumerate() {
                @let anchor = if ticks.len() == 1 { "middle" } else if i == 0 { "start" }
                    else if i + 1 == ticks.len() { "end" } else { "middle" };
                @let tx = match anchor { "start" => x(*t) - 10.0, "end" => x(*t) + 10.0, _ => x(*t) };
                text x=(c(tx)) y="196" class="tick" text-anchor=(anchor) { (axis_time(*t)) }
            }
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_come_from_edges_values_or_categories() {
        let d = json!({"bins": {"baseline": [0.5, 0.5], "window": [0.2, 0.8], "edges": [0.0, 1.0, 2.0]}});
        let b = Bars::from_details(&d).unwrap_or_else(|| panic!("bars"));
        assert_eq!(b.labels, vec!["[0.0, 1.0)", "[1.0, 2.0]"]);
        assert_eq!(edge_label(8.896_43, 1.2709), "8.9");
        assert_eq!(edge_label(-0.0001, 0.5), "0.00");
        assert_eq!(edge_label(1234.7, 150.0), "1235");
        let (step, top) = share_axis(0.13);
        assert!(step == 0.05 && (top - 0.15).abs() < 1e-12, "{step} {top}");
        assert_eq!(share_axis(0.8).0, 0.2);
        assert_eq!(percent(0.025), "2.5%");
        let d = json!({"bins": {"baseline": [1.0], "window": [1.0], "values": [3.5]}});
        assert_eq!(
            Bars::from_details(&d).map(|b| b.labels),
            Some(vec!["3.5".into()])
        );
        let d = json!({"bins": {"baseline": [1.0], "window": [1.0]}, "categories": ["<a>"]});
        assert_eq!(
            Bars::from_details(&d).map(|b| b.labels),
            Some(vec!["<a>".into()])
        );
        let d = json!({"bins": {"baseline": [1.0], "window": [1.0]}});
        assert_eq!(
            Bars::from_details(&d).map(|b| b.labels),
            Some(vec!["bin 1".into()])
        );
        assert_eq!(Bars::from_details(&json!({"bins": null})), None);
    }

    #[test]
    fn many_categories_fold_into_other() {
        let n = 50;
        let cats: Vec<String> = (0..n).map(|i| format!("c{i:02}")).collect();
        let share: Vec<f64> = (0..n).map(|i| f64::from(i + 1)).collect();
        let total: f64 = share.iter().sum();
        let share: Vec<f64> = share.iter().map(|s| s / total).collect();
        let d = json!({"bins": {"baseline": share, "window": share}, "categories": cats});
        let b = Bars::from_details(&d).unwrap_or_else(|| panic!("bars"));
        assert_eq!(b.labels.len(), MAX_BARS);
        assert_eq!(b.folded, n as usize - (MAX_BARS - 1));
        assert_eq!(b.labels[0], "c21");
        assert_eq!(b.labels[MAX_BARS - 1], "other (21)");
        assert!((b.baseline.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn points_without_a_value_are_not_drawn_at_zero() {
        let p = |t: i64, value: Option<f64>, outcome| Point {
            t_us: t,
            value,
            outcome,
            note: String::new(),
        };
        let svg = line_chart(
            &[
                p(0, Some(0.1), Outcome::Pass),
                p(1, None, Outcome::NoData),
                p(2, Some(0.5), Outcome::Fail),
            ],
            Some(0.2),
        )
        .into_string();
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(svg.contains("no value (no data)"), "{svg}");
        assert!(svg.contains("threshold 0.2"), "{svg}");
        // The line breaks at the gap: two moves, no line segment across it.
        assert_eq!(svg.matches('M').count(), 2, "{svg}");
        assert_eq!(value_range(&[], None), (0.0, 1.0, 0.25));
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(0.021), 0.025);
        assert_eq!(tick_label(0.025, 0.025), "0.025");
        assert_eq!(tick_label(4.0, 2.0), "4");
        assert_eq!(tick_label(0.5, 0.1), "0.5");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(-0.0), "0");
    }
}
