//! Quality against labels: AUC, precision, recall, F1 and accuracy at a threshold for a binary
//! classifier's scores, RMSE and MAE for a regressor's predictions.
//!
//! Pairs whose score or prediction is NaN are dropped; inputs of different lengths are `None`.

/// The counts of a thresholded classifier.
#[derive(Debug, Clone, Copy, Default)]
struct Confusion {
    tp: usize,
    fp: usize,
    tn: usize,
    fn_: usize,
}

/// The confusion counts with `score >= threshold` predicted positive.
fn confusion(scores: &[f64], labels: &[bool], threshold: f64) -> Option<Confusion> {
    if scores.len() != labels.len() {
        return None;
    }
    let mut c = Confusion::default();
    for (s, l) in scores.iter().zip(labels).filter(|(s, _)| !s.is_nan()) {
        match (*s >= threshold, *l) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, false) => c.tn += 1,
            (false, true) => c.fn_ += 1,
        }
    }
    Some(c)
}

/// `a / b`, `None` when `b` is 0.
fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The area under the ROC curve: the Mann–Whitney statistic
/// `(R+ - n+ (n+ + 1) / 2) / (n+ n-)` with `R+` the sum of the positives' ranks among all scores,
/// tied scores given their mid-rank (so a tied positive–negative pair counts 1/2). `None` when
/// only one class is present (or nothing is) or the lengths differ.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let mut pairs: Vec<(f64, bool)> = scores
        .iter()
        .copied()
        .zip(labels.iter().copied())
        .filter(|(s, _)| !s.is_nan())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = pairs.iter().filter(|(_, l)| *l).count();
    let negatives = pairs.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < pairs.len() {
        let mut end = start;
        while end < pairs.len() && pairs[end].0 == pairs[start].0 {
            end += 1;
        }
        // Ranks start + 1 ..= end, mid-rank their mean.
        let mid_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = pairs[start..end].iter().filter(|(_, l)| *l).count();
        rank_sum += mid_rank * tied_positives as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Precision `tp / (tp + fp)` with `score >= threshold` positive; `None` when nothing is
/// predicted positive.
pub fn precision(scores: &[f64], labels: &[bool], threshold: f64) -> Option<f64> {
    let c = confusion(scores, labels, threshold)?;
    ratio(c.tp, c.tp + c.fp)
}

/// Recall `tp / (tp + fn)` with `score >= threshold` positive; `None` when there is no
/// positive label.
pub fn recall(scores: &[f64], labels: &[bool], threshold: f64) -> Option<f64> {
    let c = confusion(scores, labels, threshold)?;
    ratio(c.tp, c.tp + c.fn_)
}

/// F1 `2 tp / (2 tp + fp + fn)` (the harmonic mean of precision and recall) with
/// `score >= threshold` positive; `None` when there is neither a positive label nor a positive
/// prediction.
pub fn f1(scores: &[f64], labels: &[bool], threshold: f64) -> Option<f64> {
    let c = confusion(scores, labels, threshold)?;
    ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_)
}

/// Accuracy `(tp + tn) / n` with `score >= threshold` positive; `None` for no pairs.
pub fn accuracy(scores: &[f64], labels: &[bool], threshold: f64) -> Option<f64> {
    let c = confusion(scores, labels, threshold)?;
    ratio(c.tp + c.tn, c.tp + c.tn + c.fp + c.fn_)
}

/// The differences `prediction - target` of the pairs without NaN; `None` when the lengths
/// differ or no pair is left.
fn errors(predictions: &[f64], targets: &[f64]) -> Option<Vec<f64>> {
    if predictions.len() != targets.len() {
        return None;
    }
    let out: Vec<f64> = predictions
        .iter()
        .zip(targets)
        .filter(|(p, t)| !p.is_nan() && !t.is_nan())
        .map(|(p, t)| p - t)
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The root mean squared error `sqrt(mean((p - t)²))`; `None` for no pair.
pub fn rmse(predictions: &[f64], targets: &[f64]) -> Option<f64> {
    let e = errors(predictions, targets)?;
    Some((e.iter().map(|d| d * d).sum::<f64>() / e.len() as f64).sqrt())
}

/// The mean absolute error `mean(|p - t|)`; `None` for no pair.
pub fn mae(predictions: &[f64], targets: &[f64]) -> Option<f64> {
    let e = errors(predictions, targets)?;
    Some(e.iter().map(|d| d.abs()).sum::<f64>() / e.len() as f64)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // Positives 0.8, 0.4; negatives 0.4, 0.1: pairs (0.8>0.4) 1, (0.8>0.1) 1, (0.4=0.4) 1/2,
        // (0.4>0.1) 1 -> 3.5 / 4.
        assert_eq!(
            auc(&[0.8, 0.4, 0.4, 0.1], &[true, true, false, false]),
            Some(0.875)
        );
        assert_eq!(auc(&[0.1, 0.9], &[true, false]), Some(0.0));
        assert_eq!(auc(&[0.5, 0.5], &[true, false]), Some(0.5));
    }

    #[test]
    fn auc_needs_both_classes() {
        assert_eq!(auc(&[0.1, 0.9], &[true, true]), None);
        assert_eq!(auc(&[], &[]), None);
        assert_eq!(auc(&[0.1], &[true, false]), None);
        assert_eq!(auc(&[f64::NAN, 0.2], &[false, true]), None);
    }

    #[test]
    fn thresholded_metrics_by_hand() {
        let scores = [0.9, 0.6, 0.5, 0.2, 0.1];
        let labels = [true, false, true, true, false];
        // At 0.5: tp 2 (0.9, 0.5), fp 1 (0.6), fn 1 (0.2), tn 1 (0.1).
        assert_eq!(precision(&scores, &labels, 0.5), Some(2.0 / 3.0));
        assert_eq!(recall(&scores, &labels, 0.5), Some(2.0 / 3.0));
        assert_eq!(f1(&scores, &labels, 0.5), Some(4.0 / 6.0));
        assert_eq!(accuracy(&scores, &labels, 0.5), Some(3.0 / 5.0));
    }

    #[test]
    fn zero_over_zero_is_none() {
        assert_eq!(precision(&[0.1], &[true], 0.5), None);
        assert_eq!(recall(&[0.9], &[false], 0.5), None);
        assert_eq!(f1(&[0.1], &[false], 0.5), None);
        assert_eq!(accuracy(&[], &[], 0.5), None);
        assert_eq!(precision(&[0.1], &[], 0.5), None);
    }

    #[test]
    fn regression_errors_by_hand() {
        assert_eq!(
            rmse(&[1.0, 3.0, f64::NAN], &[0.0, 0.0, 1.0]),
            Some(5.0f64.sqrt())
        );
        assert_eq!(mae(&[1.0, 3.0], &[0.0, 0.0]), Some(2.0));
        assert_eq!(rmse(&[], &[]), None);
        assert_eq!(mae(&[1.0], &[]), None);
    }
}
