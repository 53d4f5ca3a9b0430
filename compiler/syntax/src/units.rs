//! Units of quantities: durations (`ns` .. `w`), sizes (`B` .. `TiB`), percentages (`%`),
//! and the per-unit of rates (`/s`, `/m`, `/h`, `/d`).

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// Time: canonical value in milliseconds.
    Duration,
    /// Bytes.
    Size,
    /// A share: canonical value as a fraction (10% is 0.1).
    Percent,
}

/// Duration units and their length in milliseconds.
pub const DURATION_UNITS: &[(&str, f64)] = &[
    ("ns", 1e-6),
    ("us", 1e-3),
    ("ms", 1.0),
    ("s", 1e3),
    ("m", 60e3),
    ("h", 3_600e3),
    ("d", 86_400e3),
    ("w", 604_800e3),
];

/// Size units and their size in bytes.
pub const SIZE_UNITS: &[(&str, f64)] = &[
    ("B", 1.0),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("KiB", 1024.0),
    ("MiB", 1_048_576.0),
    ("GiB", 1_073_741_824.0),
    ("TiB", 1_099_511_627_776.0),
];

/// Rate units (`/s` ...) and their length in seconds.
pub const RATE_UNITS: &[(&str, f64)] = &[("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86_400.0)];

/// What `unit` measures, if it is known.
pub fn classify(unit: &str) -> Option<UnitKind> {
    if unit == "%" {
        Some(UnitKind::Percent)
    } else if DURATION_UNITS.iter().any(|(u, _)| *u == unit) {
        Some(UnitKind::Duration)
    } else if SIZE_UNITS.iter().any(|(u, _)| *u == unit) {
        Some(UnitKind::Size)
    } else {
        None
    }
}

/// The canonical value of `value unit` (ms, bytes or fraction).
pub fn canonical(value: f64, unit: &str) -> Option<f64> {
    if unit == "%" {
        return Some(value / 100.0);
    }
    DURATION_UNITS
        .iter()
        .chain(SIZE_UNITS)
        .find(|(u, _)| *u == unit)
        .map(|(_, f)| value * f)
}

/// Events per second for `value / unit`.
pub fn per_second(value: f64, unit: &str) -> Option<f64> {
    RATE_UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, secs)| value / secs)
}

/// Every known unit, for "did you mean" suggestions.
pub fn all_units() -> impl Iterator<Item = &'static str> {
    DURATION_UNITS
        .iter()
        .chain(SIZE_UNITS)
        .map(|(u, _)| *u)
        .chain(std::iter::once("%"))
}
