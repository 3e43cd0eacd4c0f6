//! Reciprocal rank fusion: merges several best-first rankings into one.
//!
//! Pure and deterministic. Each item scores the sum of `1 / (k + rank)`
//! over the rankings it appears in (rank from 1; a repeat inside one
//! ranking counts once, at its best rank). It never looks at the rankers'
//! own scores, which are not comparable (BM25 versus cosine).

use std::collections::HashMap;
use std::hash::Hash;

/// The constant from the original RRF paper, used for memory and knowledge.
pub const K: f64 = 60.0;

/// The fused ranking with each item's score, best first. Ties go to the
/// item with the better single rank, then to the one seen first.
pub fn fuse_scored<T: Eq + Hash + Clone>(rankings: &[&[T]], k: f64) -> Vec<(T, f64)> {
    // item -> (score, best rank, first appearance)
    let mut acc: HashMap<&T, (f64, usize, usize)> = HashMap::new();
    let mut seen = 0usize;
    for ranking in rankings {
        let mut in_this: std::collections::HashSet<&T> = std::collections::HashSet::new();
        for (i, item) in ranking.iter().enumerate() {
            if !in_this.insert(item) {
                continue;
            }
            let rank = i + 1;
            let add = 1.0 / (k + rank as f64);
            let entry = acc.entry(item).or_insert_with(|| {
                seen += 1;
                (0.0, rank, seen)
            });
            entry.0 += add;
            entry.1 = entry.1.min(rank);
        }
    }
    let mut out: Vec<(&T, (f64, usize, usize))> = acc.into_iter().collect();
    out.sort_by(|a, b| {
        b.1.0
            .total_cmp(&a.1.0)
            .then(a.1.1.cmp(&b.1.1))
            .then(a.1.2.cmp(&b.1.2))
    });
    out.into_iter()
        .map(|(t, (s, _, _))| (t.clone(), s))
        .collect()
}

/// The fused ranking, best first.
pub fn fuse<T: Eq + Hash + Clone>(rankings: &[&[T]], k: f64) -> Vec<T> {
    fuse_scored(rankings, k)
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn agreement_wins_and_scores_follow_the_formula() {
        let bm25 = [1, 2, 3];
        let vec = [3, 1, 4];
        let fused = fuse_scored(&[&bm25, &vec], K);
        assert_eq!(fused[0].0, 1);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-12);
        assert_eq!(fuse(&[&bm25, &vec], K), vec![1, 3, 2, 4]);
        assert!(fuse::<i32>(&[], K).is_empty());
    }

    fn ranking() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..40, 0..30)
    }

    proptest! {
        #[test]
        fn output_is_the_union_without_repeats(a in ranking(), b in ranking()) {
            let fused = fuse(&[&a, &b], K);
            let set: HashSet<u8> = fused.iter().copied().collect();
            prop_assert_eq!(set.len(), fused.len());
            let union: HashSet<u8> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(set, union);
        }

        #[test]
        fn one_ranking_keeps_its_order(a in ranking()) {
            let mut first = Vec::new();
            for x in &a {
                if !first.contains(x) { first.push(*x); }
            }
            prop_assert_eq!(fuse(&[&a], K), first);
        }

        #[test]
        fn scores_do_not_depend_on_list_order(a in ranking(), b in ranking()) {
            let ab: HashMap<u8, f64> = fuse_scored(&[&a, &b], K).into_iter().collect();
            let ba: HashMap<u8, f64> = fuse_scored(&[&b, &a], K).into_iter().collect();
            prop_assert_eq!(ab.len(), ba.len());
            for (item, s) in &ab {
                prop_assert!((s - ba[item]).abs() < 1e-12);
            }
        }

        #[test]
        fn scores_are_sorted_and_the_top_of_both_lists_is_first(
            a in ranking(), b in ranking(), top in 100u8..120,
        ) {
            let mut a2 = vec![top]; a2.extend(&a);
            let mut b2 = vec![top]; b2.extend(&b);
            let fused = fuse_scored(&[&a2, &b2], K);
            prop_assert_eq!(fused[0].0, top);
            for w in fused.windows(2) {
                prop_assert!(w[0].1 >= w[1].1);
            }
        }
    }
}
