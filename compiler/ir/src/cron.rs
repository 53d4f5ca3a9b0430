//! Five-field cron expressions (`minute hour day-of-month month day-of-week`, as crontab,
//! Airflow and Kubernetes read them) translated to the seven-field form of the `cron` crate
//! (seconds first, year last, days of the week numbered 1-7 from Sunday).
//!
//! The day-of-week field is where the two disagree: crontab's `1` is Monday (0 and 7 are
//! Sunday), the crate's `1` is Sunday. The field is expanded to a set of days and written
//! back in the crate's numbering, so that `0 2 * * 1-5` means weekdays in both.

/// The `cron` crate's form of a five-field expression or an `@daily`-style shorthand, or
/// `None` when it is neither.
pub fn to_seven_fields(text: &str) -> Option<String> {
    let text = text.trim();
    if text.starts_with('@') {
        return Some(text.to_string());
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else {
        return None;
    };
    Some(format!(
        "0 {minute} {hour} {dom} {month} {} *",
        day_of_week(dow)?
    ))
}

fn day(name: &str) -> Option<u32> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    if let Ok(n) = name.parse::<u32>() {
        return (n <= 7).then_some(n % 7);
    }
    NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name))
        .map(|p| p as u32)
}

/// Crontab's day-of-week field (0-7, SUN-SAT, lists, ranges, steps) in the crate's numbering.
fn day_of_week(field: &str) -> Option<String> {
    if field == "*" || field == "?" {
        return Some("*".into());
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            // `1-7` runs Monday to Sunday: 7 stays 7 at the top of a range.
            let lo = day(a)?;
            let hi = if b == "7" { 7 } else { day(b)? };
            (lo, hi)
        } else {
            let d = day(range)?;
            (d, if step > 1 { 6 } else { d })
        };
        if lo > hi {
            return None;
        }
        let mut d = lo;
        while d <= hi {
            days[(d % 7) as usize] = true;
            d += step;
        }
    }
    let list: Vec<String> = (0..7)
        .filter(|d| days[*d])
        .map(|d| (d + 1).to_string())
        .collect();
    (!list.is_empty()).then(|| list.join(","))
}

#[cfg(test)]
mod tests {
    use super::to_seven_fields;

    #[test]
    fn days_of_the_week_are_read_as_crontab_numbers_them() {
        let dow = |s: &str| {
            to_seven_fields(&format!("0 2 * * {s}"))
                .map(|f| f.split(' ').nth(5).unwrap_or_default().to_string())
        };
        assert_eq!(dow("*").as_deref(), Some("*"));
        assert_eq!(
            dow("1").as_deref(),
            Some("2"),
            "crontab 1 is Monday, the crate's 2"
        );
        assert_eq!(dow("0").as_deref(), Some("1"), "Sunday");
        assert_eq!(dow("7").as_deref(), Some("1"), "Sunday too");
        assert_eq!(dow("1-5").as_deref(), Some("2,3,4,5,6"), "weekdays");
        assert_eq!(dow("MON-FRI").as_deref(), Some("2,3,4,5,6"));
        assert_eq!(dow("sat,sun").as_deref(), Some("1,7"));
        assert_eq!(dow("5-7").as_deref(), Some("1,6,7"), "Friday to Sunday");
        assert_eq!(dow("*/2").as_deref(), Some("1,3,5,7"), "Sun, Tue, Thu, Sat");
        assert_eq!(dow("1/3").as_deref(), Some("2,5"), "Mon, Thu");
        assert_eq!(dow("8"), None);
        assert_eq!(dow("5-1"), None);
        assert_eq!(dow("x"), None);
        assert_eq!(to_seven_fields("0 2 * *"), None);
        assert_eq!(to_seven_fields("@daily").as_deref(), Some("@daily"));
        assert_eq!(
            to_seven_fields("30 2 1 * *").as_deref(),
            Some("0 30 2 1 * * *")
        );
    }
}
