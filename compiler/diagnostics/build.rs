//! Generates the code table from `codes.txt` (one line per code: code|severity|phase|title),
//! embedding each code's explanation from `docs/errors/CODE.md`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let table = Path::new(&manifest).join("codes.txt");
    let docs = Path::new(&manifest).join("../../docs/errors");
    println!("cargo:rerun-if-changed={}", table.display());
    println!("cargo:rerun-if-changed={}", docs.display());
    let text = std::fs::read_to_string(&table).unwrap_or_default();
    let mut out = String::from("pub static CODES: &[CodeInfo] = &[\n");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split('|').collect();
        if parts.len() != 4 {
            continue;
        }
        let (code, sev, phase, title) = (parts[0], parts[1], parts[2], parts[3]);
        let sev = if sev == "warning" {
            "Severity::Warning"
        } else {
            "Severity::Error"
        };
        let phase = match phase {
            "syntax" => "Phase::Syntax",
            "names" => "Phase::Names",
            "types" => "Phase::Types",
            "graph" => "Phase::Graph",
            "env" => "Phase::Env",
            "runtime" => "Phase::Runtime",
            _ => "Phase::Lint",
        };
        let doc = docs.join(format!("{code}.md"));
        println!("cargo:rerun-if-changed={}", doc.display());
        let doc_text = std::fs::read_to_string(&doc).unwrap_or_default();
        let _ = writeln!(
            out,
            "    CodeInfo {{ code: {code:?}, severity: {sev}, phase: {phase}, title: {title:?}, doc: {doc_text:?} }},"
        );
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("codes_table.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
    }
}
