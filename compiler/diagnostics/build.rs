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
    // A build without the table would ship no codes at all: fail it instead.
    let text = match std::fs::read_to_string(&table) {
        Ok(t) => t,
        Err(e) => panic!("cannot read the code table `{}`: {e}", table.display()),
    };
    let mut out = String::from(
        "/// Every diagnostic code with its severity, phase and title (from codes.txt).\npub static CODES: &[CodeInfo] = &[\n",
    );
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
        // Every code has its page (`mlpc explain CODE` prints it): a missing one fails the build.
        let doc_text = match std::fs::read_to_string(&doc) {
            Ok(t) => t,
            Err(e) => panic!(
                "cannot read the explanation of {code} `{}`: {e}",
                doc.display()
            ),
        };
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
