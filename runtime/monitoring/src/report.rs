//! The drift report of a whole table: one verdict per column and the dataset-level verdict,
//! Evidently's `DataDriftPreset` (the dataset drifted when at least half of the tested columns
//! did). `mlpc drift` prints it; monitors will keep it. Its JSON form is
//! `specs/drift.schema.json`.

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::drift::DriftMethod;
use crate::fastpath::Tested;

/// The share of drifted columns at or above which the dataset drifted (Evidently's
/// `drift_share` default).
pub const DATASET_DRIFT_SHARE: f64 = 0.5;

/// How a column is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Integers, decimals, floats and booleans (as 0 and 1), read as 64-bit floats.
    Numeric,
    /// Text: each distinct value is a category.
    Categorical,
}

/// The test or distance of a verdict ([`DriftMethod`] in the report's spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov; the statistic is D, the score its p-value.
    Ks,
    /// Chi-square test of homogeneity; the statistic is X², the score its p-value.
    ChiSquare,
    /// Z-test for two proportions; the statistic is z, the score its p-value.
    ZTest,
    /// Wasserstein distance normalised by the reference's standard deviation.
    Wasserstein,
    /// Jensen–Shannon distance.
    JensenShannon,
}

impl From<DriftMethod> for Method {
    fn from(m: DriftMethod) -> Self {
        match m {
            DriftMethod::Ks => Self::Ks,
            DriftMethod::ChiSquare => Self::ChiSquare,
            DriftMethod::ZTest => Self::ZTest,
            DriftMethod::Wasserstein => Self::Wasserstein,
            DriftMethod::JensenShannon => Self::JensenShannon,
        }
    }
}

impl Method {
    /// The name people read: `KS`, `chi-square`, `Z-test`, `Wasserstein`, `Jensen-Shannon`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ks => "KS",
            Self::ChiSquare => "chi-square",
            Self::ZTest => "Z-test",
            Self::Wasserstein => "Wasserstein",
            Self::JensenShannon => "Jensen-Shannon",
        }
    }
}

/// A column's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The score crossed the threshold.
    Drifted,
    /// It did not.
    NotDrifted,
    /// One side has no value to test (every row null, NaN or infinite): not counted in the
    /// dataset's share.
    NoData,
}

/// One column of a drift report.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ColumnDrift {
    /// The column's name.
    pub column: String,
    /// How it was tested.
    pub kind: ColumnKind,
    /// Its type as DuckDB read it from the reference (`DOUBLE`, `BIGINT`, `VARCHAR`...).
    pub source_type: String,
    /// The reference's values tested: nulls, NaN and infinities left out.
    pub reference_values: u64,
    /// The current side's values tested.
    pub current_values: u64,
    /// The test or distance; absent when there was no data.
    pub method: Option<Method>,
    /// The test statistic (D, X², z), or the distance itself for a distance; `"inf"` for an
    /// infinite one.
    #[serde(serialize_with = "number_or_inf")]
    #[schemars(schema_with = "number_or_inf_schema")]
    pub statistic: Option<f64>,
    /// The p-value of a test (KS, chi-square, Z-test); absent for a distance.
    pub p_value: Option<f64>,
    /// The distance (Wasserstein, Jensen–Shannon); absent for a test. `"inf"` when the
    /// reference is constant and the current side is not (Wasserstein).
    #[serde(serialize_with = "number_or_inf")]
    #[schemars(schema_with = "number_or_inf_schema")]
    pub distance: Option<f64>,
    /// The threshold: drift at `p_value <= threshold` or `distance >= threshold`.
    pub threshold: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Whether the column drifted (`verdict == "drifted"`).
    pub drifted: bool,
}

impl ColumnDrift {
    /// A column's entry from its test (`None`: no data on a side).
    pub fn new(
        column: String,
        kind: ColumnKind,
        source_type: String,
        counts: (u64, u64),
        tested: Option<Tested>,
    ) -> Self {
        let mut out = Self {
            column,
            kind,
            source_type,
            reference_values: counts.0,
            current_values: counts.1,
            method: None,
            statistic: None,
            p_value: None,
            distance: None,
            threshold: None,
            verdict: Verdict::NoData,
            drifted: false,
        };
        if let Some(t) = tested {
            let d = t.drift;
            out.method = Some(d.method.into());
            out.statistic = Some(t.statistic);
            if d.method.is_p_value() {
                out.p_value = Some(d.score);
            } else {
                out.distance = Some(d.score);
            }
            out.threshold = Some(d.threshold);
            out.drifted = d.drifted;
            out.verdict = if d.drifted {
                Verdict::Drifted
            } else {
                Verdict::NotDrifted
            };
        }
        out
    }
}

/// A column left out of the report: a type Evidently does not test either (timestamps,
/// dates, lists, blobs...).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SkippedColumn {
    /// The column's name.
    pub column: String,
    /// Its type as DuckDB read it.
    pub source_type: String,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Side {
    /// The file, as given.
    pub path: String,
    /// Its rows.
    pub rows: u64,
}

/// The drift of a current table against a reference, column by column.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DriftReport {
    /// The reference.
    pub reference: Side,
    /// The current table.
    pub current: Side,
    /// The tested columns, in the order asked for (or the reference's order).
    pub columns: Vec<ColumnDrift>,
    /// Columns of types that are not tested.
    pub skipped: Vec<SkippedColumn>,
    /// Columns with data on both sides (the share's denominator).
    pub tested_columns: u64,
    /// Columns that drifted.
    pub drifted_columns: u64,
    /// `drifted_columns / tested_columns`; absent when no column could be tested.
    pub drift_share: Option<f64>,
    /// The share at or above which the dataset drifted (0.5).
    pub drift_share_threshold: f64,
    /// Whether the dataset drifted: `drift_share >= drift_share_threshold`.
    pub dataset_drift: bool,
}

impl DriftReport {
    /// The report of these columns, with the dataset-level share and verdict.
    pub fn new(
        reference: Side,
        current: Side,
        columns: Vec<ColumnDrift>,
        skipped: Vec<SkippedColumn>,
    ) -> Self {
        let tested = columns
            .iter()
            .filter(|c| c.verdict != Verdict::NoData)
            .count() as u64;
        let drifted = columns.iter().filter(|c| c.drifted).count() as u64;
        let share = (tested > 0).then(|| drifted as f64 / tested as f64);
        Self {
            reference,
            current,
            columns,
            skipped,
            tested_columns: tested,
            drifted_columns: drifted,
            drift_share: share,
            drift_share_threshold: DATASET_DRIFT_SHARE,
            dataset_drift: share.is_some_and(|s| s >= DATASET_DRIFT_SHARE),
        }
    }

    /// The report's JSON Schema, `$id` `https://mlp.dev/specs/drift.schema.json`.
    pub fn schema() -> schemars::Schema {
        let mut schema = schemars::schema_for!(DriftReport);
        schema.insert(
            "$id".into(),
            "https://mlp.dev/specs/drift.schema.json".into(),
        );
        schema
    }
}

/// A number as JSON, `"inf"` / `"-inf"` for an infinity (JSON has none), null when absent.
fn number_or_inf<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if *x == f64::INFINITY => s.serialize_str("inf"),
        Some(x) if *x == f64::NEG_INFINITY => s.serialize_str("-inf"),
        Some(x) if x.is_finite() => s.serialize_f64(*x),
        _ => s.serialize_none(),
    }
}

/// The schema of [`number_or_inf`]'s output.
fn number_or_inf_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "number" },
            { "enum": ["inf", "-inf"] },
            { "type": "null" }
        ]
    })
}
