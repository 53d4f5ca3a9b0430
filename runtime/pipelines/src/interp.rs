//! `${...}` placeholders in a step's command: `${out}`, `${params.NAME}`, `${STEP.output}`
//! and `${run.id}`. Substituted values are shell-quoted when they need it.

/// The placeholder names in `template`, in order.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].trim());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// Quotes `value` for `sh` when it holds anything but plain path characters.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// Replaces every placeholder with what `lookup` gives for it, shell-quoted. A placeholder
/// `lookup` does not know is an error naming it; an unclosed `${` is kept as written.
pub fn interpolate(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        match lookup(name) {
            Some(v) => out.push_str(&shell_quote(&v)),
            None => return Err(name.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_quoted() {
        let look = |n: &str| match n {
            "out" => Some("/p/.mlp/tmp/x".to_string()),
            "params.lr" => Some("0.1".to_string()),
            "data.output" => Some("/a dir/it's".to_string()),
            _ => None,
        };
        assert_eq!(
            interpolate(
                "python t.py --lr ${params.lr} --data ${data.output} --out ${ out }",
                look
            ),
            Ok("python t.py --lr 0.1 --data '/a dir/it'\\''s' --out /p/.mlp/tmp/x".to_string())
        );
        assert_eq!(interpolate("echo ${nope}", look), Err("nope".to_string()));
        assert_eq!(
            interpolate("echo ${out", look),
            Ok("echo ${out".to_string())
        );
        assert_eq!(
            placeholders("a ${x.output} b ${out}"),
            vec!["x.output", "out"]
        );
    }
}
