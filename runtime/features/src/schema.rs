//! Checking a source's files against its declared schema when a plan is applied: the files
//! must exist, every declared column must be there, and its type must match (for CSV, every
//! value must convert to the declared type). Errors name the file, the column, the declared
//! type and the type found.

use crate::historical::{source_reader, FeatureError, SourceInfo};
use duckdb::Connection;
use mlp_ir::Type;
use std::path::Path;

/// Whether DuckDB type `found` can hold values of the declared type.
fn compatible(declared: Type, found: &str) -> bool {
    let f = found.to_ascii_uppercase();
    match declared {
        Type::Int => [
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
        ]
        .contains(&f.as_str()),
        Type::Float => {
            f == "DOUBLE"
                || f == "FLOAT"
                || f.starts_with("DECIMAL")
                || ["TINYINT", "SMALLINT", "INTEGER", "BIGINT"].contains(&f.as_str())
        }
        Type::Bool => f == "BOOLEAN",
        Type::String => f == "VARCHAR",
        Type::Timestamp => f.starts_with("TIMESTAMP") || f == "DATE",
    }
}

/// Checks the files of `source` (paths relative to `project_dir`).
pub fn check_source(
    project_dir: &Path,
    name: &str,
    source: &SourceInfo,
) -> Result<(), FeatureError> {
    let conn = Connection::open_in_memory()?;
    let path = project_dir.join(&source.path);
    let file_error = |message: String| FeatureError::File {
        path: path.clone(),
        message,
    };
    let untyped = SourceInfo {
        schema: Vec::new(),
        ..source.clone()
    };
    let reader = source_reader(project_dir, &untyped);
    let mut stmt = conn
        .prepare(&format!("DESCRIBE SELECT * FROM {reader}"))
        .map_err(|e| {
            file_error(format!(
                "source `{name}`: {}",
                e.to_string().lines().next().unwrap_or("")
            ))
        })?;
    let found: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| file_error(e.to_string()))?;
    let csv = matches!(source.format, mlp_ir::SourceFormat::Csv);
    let mut needed: Vec<(String, Option<Type>)> = source
        .schema
        .iter()
        .map(|c| (c.name.clone(), Some(c.ty)))
        .collect();
    for c in std::iter::once(&source.timestamp).chain(source.created.as_ref()) {
        if !needed.iter().any(|(n, _)| n == c) {
            needed.push((c.clone(), Some(Type::Timestamp)));
        }
    }
    for (col, ty) in &needed {
        let Some((_, t)) = found.iter().find(|(n, _)| n == col) else {
            return Err(FeatureError::MissingColumn {
                path: path.clone(),
                column: col.clone(),
                hint: format!(" (declared by source `{name}`)"),
            });
        };
        // CSV types are guessed; the typed read below is the real check.
        if let (Some(ty), false) = (ty, csv) {
            if !compatible(*ty, t) {
                return Err(file_error(format!(
                    "column `{col}` is declared {} but the file holds {t}",
                    ty.name()
                )));
            }
        }
    }
    if csv {
        // Reading every value with the declared types finds the first one that does not fit.
        let typed = source_reader(project_dir, source);
        // Count every declared column so that each value is read and converted (a bare
        // count(*) would skip them).
        let counts = needed
            .iter()
            .map(|(c, _)| format!("count({})", crate::sql::ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        conn.query_row(&format!("SELECT {counts} FROM {typed}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| {
            let FeatureError::Db(m) = FeatureError::from(e) else {
                return file_error(String::new());
            };
            file_error(m)
        })?;
    }
    Ok(())
}
