//! The built-ins of the `.mlp` language (aggregations, scalar functions, monitor metrics,
//! alert sinks, stores, combiners), declared once in `builtins.mlp` with their signatures
//! and documentation. The checker reads the signatures; the runtime implements them.

use pest::Parser as _;
use std::sync::LazyLock;

#[derive(pest_derive::Parser)]
#[grammar = "signature.pest"]
struct SigParser;

/// The declaration text, embedded.
pub const SOURCE: &str = include_str!("builtins.mlp");

/// What a built-in is for; names are unique within a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Aggregation over a window (`sum`, `avg`, ...).
    Aggregate,
    /// Scalar function usable online and offline.
    Scalar,
    /// Monitor metric for `check`.
    Metric,
    /// Alert destination.
    Sink,
    /// Offline, online or lineage store.
    Store,
    /// Combination method for ensembles.
    Combiner,
}

impl Kind {
    /// The keyword in `builtins.mlp`.
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Aggregate => "aggregate",
            Kind::Scalar => "scalar",
            Kind::Metric => "metric",
            Kind::Sink => "sink",
            Kind::Store => "store",
            Kind::Combiner => "combiner",
        }
    }
}

/// One parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its name (for documentation and named arguments).
    pub name: String,
    /// Accepted type names (`numeric`, `any`, `star`, `int`, ...).
    pub types: Vec<String>,
    /// May be left out.
    pub optional: bool,
}

/// One built-in's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builtin {
    /// What it is.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Parameters; `None` when it is used without parentheses (`latency_p99`).
    pub params: Option<Vec<Param>>,
    /// Return type name (`T` = type of the first argument, `T2` = of the second).
    pub returns: String,
    /// Documentation.
    pub doc: String,
}

impl Builtin {
    /// Number of required parameters.
    pub fn min_args(&self) -> usize {
        self.params
            .as_ref()
            .map_or(0, |p| p.iter().filter(|p| !p.optional).count())
    }
    /// Number of parameters.
    pub fn max_args(&self) -> usize {
        self.params.as_ref().map_or(0, Vec::len)
    }
    /// `name(x: numeric) -> float`, as shown in docs and messages.
    pub fn signature(&self) -> String {
        let params = self.params.as_ref().map(|ps| {
            let items: Vec<String> = ps
                .iter()
                .map(|p| {
                    format!(
                        "{}: {}{}",
                        p.name,
                        p.types.join(" | "),
                        if p.optional { "?" } else { "" }
                    )
                })
                .collect();
            format!("({})", items.join(", "))
        });
        format!(
            "{}{} -> {}",
            self.name,
            params.unwrap_or_default(),
            self.returns
        )
    }
}

/// Parses declaration text in the `builtins.mlp` format.
pub fn parse(text: &str) -> Result<Vec<Builtin>, String> {
    let file = SigParser::parse(Rule::file, text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for sig in file.flatten().filter(|p| p.as_rule() == Rule::sig) {
        let mut doc = Vec::new();
        let mut kind = Kind::Scalar;
        let mut names = Vec::new();
        let mut params = None;
        for p in sig.into_inner() {
            match p.as_rule() {
                Rule::doc => doc.push(p.as_str().trim_start_matches("///").trim().to_string()),
                Rule::kind => {
                    kind = match p.as_str() {
                        "aggregate" => Kind::Aggregate,
                        "metric" => Kind::Metric,
                        "sink" => Kind::Sink,
                        "store" => Kind::Store,
                        "combiner" => Kind::Combiner,
                        _ => Kind::Scalar,
                    }
                }
                Rule::name => names.push(p.as_str().to_string()),
                Rule::params => {
                    let ps = p
                        .into_inner()
                        .map(|param| {
                            let mut name = String::new();
                            let mut types = Vec::new();
                            let mut optional = false;
                            for x in param.into_inner() {
                                match x.as_rule() {
                                    Rule::name => name = x.as_str().to_string(),
                                    Rule::types => {
                                        types =
                                            x.into_inner().map(|t| t.as_str().to_string()).collect()
                                    }
                                    Rule::optional => optional = true,
                                    _ => {}
                                }
                            }
                            Param {
                                name,
                                types,
                                optional,
                            }
                        })
                        .collect();
                    params = Some(ps);
                }
                _ => {}
            }
        }
        let mut names = names.into_iter();
        let (Some(name), Some(returns)) = (names.next(), names.next()) else {
            continue;
        };
        out.push(Builtin {
            kind,
            name,
            params,
            returns,
            doc: doc.join("\n"),
        });
    }
    Ok(out)
}

// `builtins.mlp` is compiled in and parsed by this crate's tests: a failure is a broken
// build, which must not pass for a stdlib without any built-in.
static BUILTINS: LazyLock<Vec<Builtin>> = LazyLock::new(|| match parse(SOURCE) {
    Ok(b) => b,
    Err(e) => unreachable!("stdlib/src/builtins.mlp always parses (tested): {e}"),
});

/// Every built-in.
pub fn all() -> &'static [Builtin] {
    &BUILTINS
}

/// The built-in of `kind` named `name`.
pub fn get(kind: Kind, name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.kind == kind && b.name == name)
}

/// Names of every built-in of `kind`.
pub fn names(kind: Kind) -> impl Iterator<Item = &'static str> {
    BUILTINS
        .iter()
        .filter(move |b| b.kind == kind)
        .map(|b| b.name.as_str())
}

/// The stdlib reference page (`docs/stdlib.md`) generated from the declarations.
pub fn markdown() -> String {
    let mut out = String::from("# Standard library\n\nGenerated from `stdlib/src/builtins.mlp` by `mlpc stdlib`; do not edit by hand.\n");
    for kind in [
        Kind::Aggregate,
        Kind::Scalar,
        Kind::Metric,
        Kind::Sink,
        Kind::Store,
        Kind::Combiner,
    ] {
        out.push_str(&format!(
            "\n## {}\n\n| signature | description |\n|---|---|\n",
            kind.keyword()
        ));
        for b in BUILTINS.iter().filter(|b| b.kind == kind) {
            // A `|` inside a table cell must be escaped, even within backticks.
            out.push_str(&format!(
                "| `{}` | {} |\n",
                b.signature().replace('|', "\\|"),
                b.doc.replace('\n', " ").replace('|', "\\|")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_declarations_parse_and_are_documented() {
        let all = parse(SOURCE).unwrap_or_else(|e| panic!("{e}"));
        assert!(all.len() > 60, "{}", all.len());
        for b in &all {
            assert!(!b.doc.is_empty(), "{} has no documentation", b.name);
        }
        let avg = get(Kind::Aggregate, "avg").unwrap_or_else(|| panic!("avg"));
        assert_eq!(avg.signature(), "avg(x: numeric) -> float");
        assert_eq!(
            get(Kind::Metric, "latency_p99").map(|b| b.params.is_none()),
            Some(true)
        );
    }

    #[test]
    fn names_are_unique_within_a_kind() {
        let mut seen = std::collections::HashSet::new();
        for b in all() {
            assert!(
                seen.insert((b.kind, b.name.clone())),
                "duplicate {}",
                b.name
            );
        }
    }
}
