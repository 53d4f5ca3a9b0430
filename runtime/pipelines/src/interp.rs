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

/// Why a command template cannot be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    /// A placeholder nothing provides (its name).
    Unknown(String),
    /// A value no shell word can hold (a NUL byte), with its placeholder.
    Unquotable(String),
}

/// Quotes `value` as one `sh` word (shlex: plain words stay as they are); `None` for a
/// value with a NUL byte, which no shell word can hold.
pub fn shell_quote(value: &str) -> Option<String> {
    shlex::try_quote(value).ok().map(|q| q.into_owned())
}

/// Replaces every placeholder with what `lookup` gives for it, shell-quoted. A placeholder
/// `lookup` does not know is an error naming it; an unclosed `${` is kept as written.
pub fn interpolate(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, InterpError> {
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
        let value = lookup(name).ok_or_else(|| InterpError::Unknown(name.to_string()))?;
        let quoted =
            shell_quote(&value).ok_or_else(|| InterpError::Unquotable(name.to_string()))?;
        out.push_str(&quoted);
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
        let cmd = interpolate(
            "python t.py --lr ${params.lr} --data ${data.output} --out ${ out }",
            look,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        // The shell reads back exactly the words meant, and plain ones stay unquoted.
        assert_eq!(
            shlex::split(&cmd),
            Some(
                [
                    "python",
                    "t.py",
                    "--lr",
                    "0.1",
                    "--data",
                    "/a dir/it's",
                    "--out",
                    "/p/.mlp/tmp/x"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert!(cmd.starts_with("python t.py --lr 0.1 --data "), "{cmd}");
        assert_eq!(
            interpolate("echo ${nope}", look),
            Err(InterpError::Unknown("nope".to_string()))
        );
        assert_eq!(
            interpolate("echo ${nul}", |_| Some("a\0b".to_string())),
            Err(InterpError::Unquotable("nul".to_string()))
        );
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
