//! Environment values: `env/NAME.yaml` files hold the values of the variables a project
//! declares in its `env { }` block, so that one spec serves dev, staging and prod. Each value
//! keeps its span in the YAML file so that a mistyped one is reported there.

use crate::fast::IndexMap;
use mlp_diagnostics::{Diagnostic, FileId, SourceMap, Span};

/// The values of one environment.
#[derive(Debug, Clone, Default)]
pub struct EnvValues {
    /// Environment name (`prod`), or none without `--env`.
    pub name: Option<String>,
    /// The YAML file, when one was read.
    pub file: Option<FileId>,
    /// Values by key, with the span of the value (or of the key line) in the YAML file.
    pub values: IndexMap<String, (serde_yaml::Value, Span, Span)>,
}

/// Reads `env/NAME.yaml` text already added to `map` as `file`. Returns the values and any
/// YAML problem (E0402). Keys are located by their line so diagnostics can point at them.
pub fn load_env_file(map: &SourceMap, file: FileId, name: &str) -> (EnvValues, Vec<Diagnostic>) {
    let mut env = EnvValues {
        name: Some(name.to_string()),
        file: Some(file),
        values: IndexMap::default(),
    };
    let Some(src) = map.get(file) else {
        return (env, Vec::new());
    };
    let text = src.text.clone();
    let whole = Span::new(file, 0, text.find('\n').unwrap_or(text.len()));
    let parsed: serde_yaml::Value = match serde_yaml::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let span = e.location().map_or(whole, |l| {
                // serde_yaml counts columns in characters; walk them to a byte offset.
                let line_start = src.line_start(l.line()).min(text.len());
                let line = &text[line_start..];
                let line = &line[..line.find('\n').unwrap_or(line.len())];
                let col = line
                    .char_indices()
                    .nth(l.column().saturating_sub(1))
                    .map_or(line.len(), |(i, _)| i);
                Span::new(file, line_start + col, line_start + line.len())
            });
            let msg = e.to_string();
            let msg = msg.split(" at line").next().unwrap_or(&msg).to_string();
            return (
                env,
                vec![Diagnostic::new(
                    "E0402",
                    format!("environment file is not valid YAML: {msg}"),
                )
                .label(span, "here")],
            );
        }
    };
    let mapping = match parsed {
        serde_yaml::Value::Mapping(m) => m,
        serde_yaml::Value::Null => serde_yaml::Mapping::new(),
        _ => {
            return (
                env,
                vec![Diagnostic::new(
                    "E0402",
                    "environment file must be a mapping of `name: value`",
                )
                .label(whole, "expected `name: value` lines")],
            )
        }
    };
    let mut diags = Vec::new();
    for (k, v) in mapping {
        let key = match k {
            serde_yaml::Value::String(s) => s,
            other => match serde_yaml::to_string(&other) {
                Ok(text) => text.trim().to_string(),
                // Not under an empty name, where it would clash with other such keys.
                Err(e) => {
                    diags.push(
                        Diagnostic::new(
                            "E0402",
                            format!(
                                "environment file has a key that cannot be read as a name: {e}"
                            ),
                        )
                        .label(whole, "in this file"),
                    );
                    continue;
                }
            },
        };
        let (key_span, value_span) = locate(&text, file, &key).unwrap_or((whole, whole));
        env.values.insert(key, (v, key_span, value_span));
    }
    (env, diags)
}

/// Spans of `key` and of its value on the top-level line `key: value` (the mapping may be
/// indented, as YAML allows when every key lines up).
fn locate(text: &str, file: FileId, key: &str) -> Option<(Span, Span)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let full = line.trim_end_matches(['\n', '\r']);
        let body = full.trim_start_matches([' ', '\t']);
        let start = offset + (full.len() - body.len());
        let k = body
            .strip_prefix(key)
            .or_else(|| body.strip_prefix(&format!("\"{key}\"")));
        if let Some(rest) = k {
            if let Some(after) = rest.trim_start().strip_prefix(':') {
                let key_span = Span::new(file, start, start + (body.len() - rest.len()));
                let value = after.split(" #").next().unwrap_or("").trim();
                let vstart =
                    start + body.len() - after.len() + (after.len() - after.trim_start().len());
                let value_span = if value.is_empty() {
                    key_span
                } else {
                    Span::new(file, vstart, vstart + value.len())
                };
                return Some((key_span, value_span));
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_error_after_multibyte_characters_points_inside_the_line() {
        // Found by the fuzzer: a byte offset computed from a character column split `򳰙`.
        let text = "da\u{b3c19}a_dir: data\u{b3c19}a_dir: data\nx: [\n";
        let mut map = SourceMap::new();
        let id = map.add("env/dev.yaml", text);
        let (_, d) = load_env_file(&map, id, "dev");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "E0402");
        let span = d[0].primary().unwrap_or_default();
        assert!(
            text.is_char_boundary(span.start as usize) && text.is_char_boundary(span.end as usize)
        );
    }
}
