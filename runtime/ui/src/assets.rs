//! The files the pages load, embedded in the binary so that the UI works offline and needs
//! no Node build: htmx 2.0.4 (BSD Zero Clause, `assets/htmx-LICENSE`), which swaps in the
//! fragments that refresh themselves (a deployment's traffic, whether the source differs).

/// htmx, minified as published.
const HTMX: &[u8] = include_bytes!("../assets/htmx-2.0.4.min.js");

/// The content type and bytes of asset `name`, if there is one.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    match name {
        "htmx.min.js" => Some(("text/javascript; charset=utf-8", HTMX)),
        _ => None,
    }
}
